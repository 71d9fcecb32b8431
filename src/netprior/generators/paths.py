"""Paths through a split generator between inversions (Pividori et al.: latent vs dense-layer interpolation, the
latent-to-dense offset path) and the interpolation figure built from them.  An inversion is the
:class:`~netprior.record.Run` of :func:`netprior.recipes.gan.invert` (outputs z, h, ctx, layer, method)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import InputError
from ..record import Run
from .base import SplitGenerator


def interpolate(generator: SplitGenerator, a: Run, b: Run, frames: int = 8) -> dict[str, Tensor]:
    """Frames (T, C, H, W) from inversion ``a`` to ``b`` (first targets of each), t = 0 … 1:

    * ``latent``: G((1 − t) z_a + t z_b) — endpoints G(z*_a), G(z*_b);
    * ``dense``:  G2((1 − t) h_a + t h_b) at their common layer (context interpolated likewise) — endpoints the
      reconstructions (for two-step, G2(h*) with h* = G1(z*) + δ*; Pividori Fig. 4, supp. Fig. 8)."""
    if frames < 2:
        raise InputError("interpolation needs at least 2 frames")
    if a.method == "mgan" or b.method == "mgan" or a.layer != b.layer:
        raise InputError("interpolate two latent or two-step inversions made at the same layer")
    t = torch.linspace(0, 1, frames, device=a.z.device).view(-1, 1)
    with torch.no_grad():
        zs = (1 - t) * a.z[:1] + t * b.z[:1]
        latent = generator(zs)
        tt = t.view(-1, *([1] * (a.h.dim() - 1)))
        hs = (1 - tt) * a.h[:1] + tt * b.h[:1]
        ctx = None if a.ctx is None else (1 - t) * a.ctx[:1] + t * b.ctx[:1]
        dense = generator.g2(hs, a.layer, ctx)
    return {"latent": latent, "dense": dense}


def offset_path(generator: SplitGenerator, inv: Run, frames: int = 8) -> Tensor:
    """G2(G1(z*) + α·δ*) for α = 0 … 1: from the latent to the dense-layer reconstruction of one image (Pividori
    Fig. 3 / supp. Fig. 7); needs a two-step inversion."""
    if inv.method != "two-step":
        raise InputError("the latent-to-dense path needs a two-step inversion")
    with torch.no_grad():
        h0 = generator.g1(inv.z[:1], inv.layer)
        delta = inv.h[:1] - h0
        alpha = torch.linspace(0, 1, frames, device=h0.device).view(-1, *([1] * (h0.dim() - 1)))
        ctx = None if inv.ctx is None else inv.ctx[:1].expand(frames, -1)
        return generator.g2(h0 + alpha * delta, inv.layer, ctx)


INTERPOLATION_ROWS = ("latent path A→B", "dense-layer path A→B", "A: latent→dense (α·δ*)", "B: latent→dense (α·δ*)")


def interpolation_figures(generator: SplitGenerator, a: Run, b: Run, xa: Tensor, xb: Tensor,
                          frames: int = 8) -> tuple[Tensor, list[Tensor]]:
    """The interpolation figure of two two-step inversions ``a``/``b`` of targets ``xa``/``xb`` (1, 3, H, W):
    a strip (1, 3, 4H, (frames + 2)W) whose rows are :data:`INTERPOLATION_ROWS` (columns: target, frames
    t = 0…1, target or blank), and GIF frames (3, H, 2W) — the latent and dense-layer paths A→B side by side,
    played forward then back."""
    paths = interpolate(generator, a, b, frames)
    off_a, off_b = offset_path(generator, a, frames), offset_path(generator, b, frames)
    xa, xb = xa.cpu(), xb.cpu()
    blank = torch.ones_like(xa)
    rows = [torch.cat([xa, paths["latent"].cpu(), xb]), torch.cat([xa, paths["dense"].cpu(), xb]),
            torch.cat([xa, off_a.cpu(), blank]), torch.cat([xb, off_b.cpu(), blank])]
    strip = torch.cat([torch.cat(list(r), dim=-1) for r in rows], dim=-2)[None]
    forward = [torch.cat([lat, den], dim=-1) for lat, den in zip(paths["latent"].cpu(), paths["dense"].cpu())]
    return strip, forward + forward[-2:0:-1]


def interpolation_config(a: Run, frames: int) -> dict:
    """What a sidecar records about an interpolation figure (the inversion settings are those of ``a``)."""
    return {"task": "interpolate", "frames": frames, "inversion": a.config, "rows": list(INTERPOLATION_ROWS),
            "columns": "target, frames t=0…1, target (or blank)"}
