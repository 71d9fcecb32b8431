"""The pre-image grid (thesis Fig. 7.9) as a figure — the original on the left, then one column per layer and one
row per prior, each tile captioned with its relative feature error — and as Markdown tables."""

from __future__ import annotations

from pathlib import Path

from ..io import to_numpy
from .figures import _pyplot, save_figure


def write_grid_figure(path: str | Path, grid, *, title: str = "") -> Path:
    """Draw a :class:`~netprior.recipes.preimage.PreImageGrid` at ``path`` (PNG, written atomically)."""
    rows, cols = len(grid.priors), len(grid.layers) + 1
    fig, axes = _pyplot().subplots(rows, cols, figsize=(1.7 * cols, 1.85 * rows + 0.3), squeeze=False,
                                   constrained_layout=True)
    for r, p in enumerate(grid.priors):
        axes[r, 0].imshow(to_numpy(grid.original))
        axes[r, 0].set_title("original" if r == 0 else "", fontsize=8)
        axes[r, 0].set_ylabel(p, fontsize=9)
        for c, l in enumerate(grid.layers, start=1):
            run = grid.runs[p][l]
            axes[r, c].imshow(to_numpy(run.image))
            axes[r, c].set_title(f"{l}\nrel.err {run.metrics['relative_feature_error']:.2f}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, dpi=80)


def grid_markdown(grid) -> str:
    """The relative feature error ||Φ(x) − Φ(x0)|| / ||Φ(x0)|| per layer (columns) and prior (rows), then PSNR."""
    head = "| prior | " + " | ".join(grid.layers) + " |\n|---|" + "---|" * len(grid.layers) + "\n"

    def rows(metric: str, fmt: str) -> str:
        return "".join(f"| {p} | " + " | ".join(format(grid.runs[p][l].metrics[metric], fmt) for l in grid.layers)
                       + " |\n" for p in grid.priors)

    return ("Relative feature error ||Φ(x) − Φ(x0)|| / ||Φ(x0)||:\n\n" + head + rows("relative_feature_error", ".3f")
            + "\nPSNR to the original (dB):\n\n" + head + rows("psnr", ".2f"))
