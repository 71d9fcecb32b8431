"""The model file of a trained texture or stylisation generator: architecture and options, weights, the
descriptor it was trained with, the training configuration and the exemplar's Gram matrices, written atomically as
a :mod:`~netprior.statefile` (safetensors + JSON: loading it cannot run code) and checked on reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from . import __version__
from .errors import InputError
from .nets.texture import GENERATORS, Generator, build_generator
from .statefile import load_state, save_state

MODEL_FORMAT = "netprior-generator-model"
MODEL_FORMAT_VERSION = 2  # version 1: the torch.save files of netprior 0.1


@dataclass
class GeneratorModel:
    """A trained generator and everything needed to use it: ``kind`` ("texture" or "style"), architecture name and
    options, the descriptor it was trained with, the training configuration and the exemplar's Gram matrices."""

    net: Generator
    kind: str
    arch: str
    descriptor: dict
    training: dict
    target_grams: dict[str, Tensor]
    source: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"kind": self.kind, "arch": self.arch, "arch_config": self.net.config, "descriptor": self.descriptor,
                "training": self.training, "source": self.source,
                "parameters": sum(p.numel() for p in self.net.parameters())}


def save_model(model: GeneratorModel, path: str | Path) -> Path:
    """Write the model file (architecture, options, weights, descriptor, training config, target Grams)
    atomically, as a :mod:`~netprior.statefile` (safetensors + JSON: loading it cannot run code)."""
    state = {"netprior_version": __version__, "kind": model.kind, "arch": model.arch,
             "arch_config": model.net.config, "state_dict": model.net.state_dict(),
             "descriptor": model.descriptor, "training": model.training,
             "target_grams": model.target_grams, "source": model.source}
    return save_state(path, state, kind=MODEL_FORMAT, version=MODEL_FORMAT_VERSION)


def load_model(path: str | Path, kind: str | None = None, device: str = "cpu") -> GeneratorModel:
    """Read a model file written by :func:`save_model`, refusing files of another format, format version,
    kind (``"texture"``/``"style"``) or whose weights do not fit the recorded architecture."""
    state = load_state(path, kind=MODEL_FORMAT, version=MODEL_FORMAT_VERSION,
                       what="model file (written by `texture train -o` or `style train -o`)")
    path = Path(path)
    if not isinstance(state, dict) or not isinstance(state.get("arch_config"), dict) \
            or not isinstance(state.get("state_dict"), dict):
        raise InputError(f"{path}: damaged model file (no architecture or weights)")
    if kind is not None and state.get("kind") != kind:
        raise InputError(f"{path}: this is a {state.get('kind')} model, a {kind} model is needed here")
    if state.get("arch") not in GENERATORS:
        raise InputError(f"{path}: unknown generator architecture {state.get('arch')!r}")
    net = build_generator(state["arch"], **state["arch_config"])
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"{path}: the weights do not match the {state['arch']} architecture recorded in the "
                         f"file ({str(exc).splitlines()[0]})") from None
    net.to(device).eval()
    return GeneratorModel(net=net, kind=state["kind"], arch=state["arch"], descriptor=state["descriptor"],
                          training=state["training"], target_grams=state["target_grams"],
                          source=state.get("source", {}))
