"""Run records: the JSON sidecar every run writes next to its output, and the optional report figure
(a strip of snapshots and the loss / PSNR curves)."""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .io import _atomic_write, to_numpy, write_json
from .solve import SolveResult


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


def write_report(path: str | Path, result: SolveResult, *, title: str = "", observation: torch.Tensor | None = None,
                 max_snapshots: int = 6) -> Path:
    """A PNG with the observation and up to ``max_snapshots`` snapshots on top, the loss curve (log scale) and the
    PSNR curves (when a reference was given) below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snaps = list(result.snapshots)
    if len(snaps) > max_snapshots:
        idx = np.linspace(0, len(snaps) - 1, max_snapshots).round().astype(int)
        snaps = [snaps[i] for i in idx]
    tiles = ([("observation", observation)] if observation is not None else []) + \
        [(f"step {s}", im) for s, im in snaps] + [("result", result.image)]
    fig = plt.figure(figsize=(2.2 * len(tiles), 5.0), constrained_layout=True)
    grid = fig.add_gridspec(2, len(tiles), height_ratios=[1, 1])
    for i, (name, im) in enumerate(tiles):
        ax = fig.add_subplot(grid[0, i])
        arr = to_numpy(im)
        ax.imshow(arr[..., 0] if arr.shape[2] == 1 else arr, cmap="gray" if arr.shape[2] == 1 else None)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    h = result.history
    ax = fig.add_subplot(grid[1, : max(1, len(tiles) // 2)])
    plot = ax.semilogy if min(h["loss"], default=1) > 0 else ax.plot  # a SURE loss can dip below 0
    plot(h["step"], h["loss"], lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if result.stop and result.stop.get("selected_step"):
        ax.axvline(result.stop["selected_step"], color="r", ls="--", lw=0.8, label=f"{result.stop['rule']}")
        ax.legend(fontsize=7)
    if "psnr" in h:
        ax2 = fig.add_subplot(grid[1, max(1, len(tiles) // 2):])
        ax2.plot(h["psnr_step"], h["psnr"], lw=0.8, label="x_t")
        if "psnr_avg" in h:
            ax2.plot(h["psnr_step"], h["psnr_avg"], lw=0.8, label="averaged")
        ax2.set_xlabel("step")
        ax2.set_ylabel("PSNR (dB)")
        ax2.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    out = _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
    return out


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] → one (1, C, H', W') grid, ``nrow`` per row (default ⌈√N⌉), white gaps."""
    from torchvision.utils import make_grid

    n = images.shape[0]
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)[None]


def write_training_report(path: str | Path, history: dict[str, list[float]], snapshots: list, *,
                          title: str = "") -> Path:
    """A PNG for a training run (:func:`netprior.train.train`): the sample grids of up to three snapshots (first,
    middle, last) on top, each player's loss per logged iteration below, and the evaluation curves (e.g. FID)
    when there are any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = sorted({0, len(snapshots) // 2, len(snapshots) - 1}) if snapshots else []
    evals = [k for k in history if k.startswith("eval/") and not k.endswith("_std")]
    cols = max(len(picks), 1 + bool(evals))
    fig = plt.figure(figsize=(3.6 * cols, 7.0), constrained_layout=True)
    grid = fig.add_gridspec(2, cols, height_ratios=[1.3, 1])
    for i, j in enumerate(picks):
        step, images = snapshots[j]
        ax = fig.add_subplot(grid[0, i])
        arr = to_numpy(image_grid(images))
        ax.imshow(arr[..., 0] if arr.shape[2] == 1 else arr, cmap="gray" if arr.shape[2] == 1 else None)
        ax.set_title(f"samples, iteration {step}", fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, : cols - bool(evals)] if cols > 1 else grid[1, 0])
    for key in (k for k in history if k.endswith("/loss")):
        ax.plot(history["iteration"], history[key], lw=0.8, marker="." if len(history[key]) < 30 else None,
                label=key.removesuffix("/loss"))
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    if evals:
        ax2 = fig.add_subplot(grid[1, cols - 1])
        for key in evals:
            ax2.semilogy(history["eval_iteration"], history[key], marker="o", lw=0.8, label=key.removeprefix("eval/"))
        ax2.set_xlabel("iteration")
        ax2.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    out = _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
    return out
