"""The JSON sidecar every run writes next to its output: command line, inputs with digests, config (seed
included), versions, timings, stopping rule and metrics."""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..io import write_json
from ..solve import SolveResult


def versions() -> dict:
    import PIL
    import skimage
    import torchvision

    return {"netprior": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
            "scikit-image": skimage.__version__, "platform": platform.platform()}


def file_digest(path: str | Path) -> str:
    """sha256 of a file, to tie a sidecar to the exact input it was made from."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sidecar_path(output: str | Path) -> Path:
    return Path(output).with_suffix(".json")


def write_sidecar(output: str | Path, *, config: dict, result: SolveResult | None = None,
                  metrics: dict | None = None, inputs: dict[str, str | Path | None] | None = None,
                  extra: dict | None = None) -> Path:
    """Write ``<output>.json``: command line, inputs with digests, config (incl. seed), versions, iterations,
    seconds, peak memory, stopping rule and metrics."""
    record = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "output": str(output),
        "inputs": {k: {"path": str(v), "sha256": file_digest(v)} for k, v in (inputs or {}).items()
                   if v is not None and Path(v).is_file()},
        "config": config,
        "versions": versions(),
        "metrics": metrics or {},
    }
    if result is not None:
        record.update(result.summary())
    if extra:
        record.update(extra)
    return write_json(record, sidecar_path(output))
