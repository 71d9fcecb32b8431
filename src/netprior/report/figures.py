"""Every figure netprior draws: the report of an optimisation (snapshots with the loss and PSNR curves, or one
curve per objective term), the report of a training run, image grids, labelled side-by-side panels and plain curve
plots.  Each writer saves atomically and closes its figure (:func:`save_figure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..io import _atomic_write, to_numpy
from ..solve import SolveResult

Tile = tuple[str, torch.Tensor]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 90) -> Path:
    """Write a matplotlib figure as PNG atomically, then close it."""
    out = _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    _pyplot().close(fig)
    return out


def show_image(ax, image: torch.Tensor, title: str = "") -> None:
    """Draw a (1, C, H, W) image in [0, 1] on ``ax`` (grey for one channel), titled, without axes."""
    arr = to_numpy(image)
    ax.imshow(arr[..., 0] if arr.shape[2] == 1 else arr, cmap="gray" if arr.shape[2] == 1 else None,
              interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _snapshot_tiles(result: SolveResult, shown: Sequence[Tile], most: int) -> list[Tile]:
    snaps = list(result.snapshots)
    if len(snaps) > most:
        idx = np.linspace(0, len(snaps) - 1, most).round().astype(int)
        snaps = [snaps[i] for i in idx]
    return list(shown) + [(f"step {s}", im) for s, im in snaps] + [("result", result.image)]


def write_report(path: str | Path, result: SolveResult, *, title: str = "", observation: torch.Tensor | None = None,
                 max_snapshots: int = 6) -> Path:
    """A PNG with the observation and up to ``max_snapshots`` snapshots on top, the loss curve (log scale) and the
    PSNR curves (when a reference was given) below."""
    plt = _pyplot()
    tiles = _snapshot_tiles(result, [("observation", observation)] if observation is not None else [],
                            max_snapshots)
    fig = plt.figure(figsize=(2.2 * len(tiles), 5.0), constrained_layout=True)
    grid = fig.add_gridspec(2, len(tiles), height_ratios=[1, 1])
    for i, (name, im) in enumerate(tiles):
        show_image(fig.add_subplot(grid[0, i]), im, name)
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
    return save_figure(fig, path)


def write_terms_report(path: str | Path, result: SolveResult, *, title: str = "", shown: Sequence[Tile] = (),
                       max_snapshots: int = 5) -> Path:
    """A PNG for an objective of several terms: the inputs ``shown`` and the last snapshots on top, then one
    curve per logged term (log scale when positive)."""
    plt = _pyplot()
    tiles = list(shown) + [(f"step {s}", im) for s, im in result.snapshots[-max_snapshots:]] + \
        [("result", result.image)]
    terms = [k for k in result.history if k not in ("step", "psnr_step", "psnr", "psnr_avg")]
    cols = max(len(tiles), 4)
    rows = 1 + -(-len(terms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), constrained_layout=True, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, im) in zip(axes[0], tiles):
        show_image(ax, im, name)
    steps = result.history["step"]
    for ax, name in zip(axes[1:].flat, terms):
        values = result.history[name]
        ax.axis("on")
        ax.plot(steps[-len(values):], values, lw=0.8)
        if min(values) > 0:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, dpi=80)


def write_panels(path: str | Path, tiles: Sequence[Tile], *, title: str = "", panel_inches: float = 3.0,
                 dpi: int = 100) -> Path:
    """Labelled images side by side, each drawn ``panel_inches`` wide with nearest-neighbour magnification so that
    small images stay readable (e.g. clean | noisy | restored)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(tiles), figsize=(panel_inches * len(tiles), panel_inches + 0.4),
                             constrained_layout=True, squeeze=False)
    for ax, (name, im) in zip(axes[0], tiles):
        show_image(ax, im, name)
        ax.title.set_fontsize(11)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path, dpi=dpi)


def write_curves(path: str | Path, curves: dict[str, Sequence[float]], *, xlabel: str, ylabel: str, title: str = "",
                 log: bool = True) -> Path:
    """One line per named curve against its index (1, 2, …), e.g. learning curves of several targets."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    for name, c in curves.items():
        (ax.semilogy if log else ax.plot)(range(1, len(c) + 1), c, label=name, lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, path, dpi=100)


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
    plt = _pyplot()
    picks = sorted({0, len(snapshots) // 2, len(snapshots) - 1}) if snapshots else []
    evals = [k for k in history if k.startswith("eval/") and not k.endswith("_std")]
    cols = max(len(picks), 1 + bool(evals))
    fig = plt.figure(figsize=(3.6 * cols, 7.0), constrained_layout=True)
    grid = fig.add_gridspec(2, cols, height_ratios=[1.3, 1])
    for i, j in enumerate(picks):
        step, images = snapshots[j]
        show_image(fig.add_subplot(grid[0, i]), image_grid(images), f"samples, iteration {step}")
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
    return save_figure(fig, path)
