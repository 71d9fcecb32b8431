"""The DCGAN generator file: architecture options, (EMA) weights and the training configuration, as a
:mod:`~netprior.statefile` ("dcgan-generator"), written atomically and checked on reading."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .nets.dcgan import DCGANGenerator
from .statefile import load_state, save_state

MODEL_KIND, MODEL_VERSION = "dcgan-generator", 1


def save_generator(g: DCGANGenerator, path: str | Path, *, training: dict | None = None) -> Path:
    """Write the generator (architecture options + weights + training config) as a state file, atomically."""
    return save_state(path, {"config": g.config, "state_dict": {k: v.cpu() for k, v in g.state_dict().items()},
                             "training": training or {}}, kind=MODEL_KIND, version=MODEL_VERSION)


def load_generator(path: str | Path, device: str = "cpu") -> DCGANGenerator:
    """Read a generator written by :func:`save_generator` (other files are refused with one line)."""
    state = load_state(path, kind=MODEL_KIND, version=MODEL_VERSION, what="DCGAN generator file")
    try:
        g = DCGANGenerator(**state["config"])
        g.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged DCGAN generator file ({str(exc).splitlines()[0][:200]})") from None
    return g.to(device).eval()
