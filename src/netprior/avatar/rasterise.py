"""A z-buffer triangle rasteriser in PyTorch (the renderer of the synthetic avatar data).

Vertices are given in pixel coordinates with their camera depth, (u, v, z), z > 0.  A pixel (i, j) is sampled at
its centre p = (j + ½, i + ½).  For every triangle (a, b, c) and every pixel centre p in the triangle's bounding
box, the screen-space barycentrics are the normalised edge functions

    λ_a = E(b, c, p) / E(a, b, c),  λ_b = E(c, a, p) / E(a, b, c),  λ_c = E(a, b, p) / E(a, b, c),
    E(x, y, p) = (y_u − x_u)(p_v − x_v) − (y_v − x_v)(p_u − x_u),

and p is covered when all three are ≥ 0 (both orientations are drawn: no back-face culling).  The depth of the
surface at p is the perspective-correct interpolation 1/z = Σ λ_i / z_i, and the z-buffer keeps, per pixel, the
covering triangle of least depth.  Attributes (UV, normals) are interpolated with the perspective-correct weights
μ_i = (λ_i / z_i) / Σ_j (λ_j / z_j).

Vectorised: the triangles are grouped by the side of their bounding box (rounded up to a power of two, so the work
is about the total bounding-box area), every (triangle, pixel) pair of a group is tested at once, and the depth
test is a ``scatter_reduce(amin)`` over the pixels (ties, on shared edges, go to the larger triangle index).  Triangles with a vertex behind ``near`` are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Fragments:
    """The z-buffer: ``depth`` (H, W) (inf where empty), ``face`` (H, W) index of the visible triangle (−1 where
    empty) and ``weights`` (H, W, 3) its perspective-correct barycentric weights at the pixel."""

    depth: Tensor
    face: Tensor
    weights: Tensor

    @property
    def mask(self) -> Tensor:
        return self.face >= 0

    def interpolate(self, faces: Tensor, attributes: Tensor) -> Tensor:
        """(V, A) per-vertex attributes → (H, W, A) at the visible surface (0 where empty)."""
        f = self.face.clamp(min=0)
        corners = attributes[faces[f]]                       # (H, W, 3, A)
        out = (self.weights[..., None] * corners).sum(-2)
        return out * self.mask[..., None]


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def rasterise(verts: Tensor, faces: Tensor, height: int, width: int, *, near: float = 1e-3) -> Fragments:
    """Rasterise triangles ``faces`` (F, 3) of ``verts`` (V, 3) = (u, v, z) in pixels/depth into a z-buffer."""
    verts = verts.double()
    tri = verts[faces]                                         # (F, 3, 3)
    uv, z = tri[..., :2], tri[..., 2]
    area = _edge(uv[:, 0, 0], uv[:, 0, 1], uv[:, 1, 0], uv[:, 1, 1], uv[:, 2, 0], uv[:, 2, 1])
    lo = (uv.amin(1) - 0.5).ceil().clamp(min=0)               # first pixel whose centre may be inside
    hi = (uv.amax(1) - 0.5).floor()
    keep = (z > near).all(1) & (area.abs() > 1e-12) & (hi[:, 0] >= lo[:, 0]) & (hi[:, 1] >= lo[:, 1]) & \
        (lo[:, 0] < width) & (lo[:, 1] < height) & (hi >= 0).all(1)
    hi = torch.minimum(hi, torch.tensor([width - 1.0, height - 1.0], dtype=hi.dtype))
    ids = keep.nonzero().squeeze(1)
    side = (hi - lo + 1).amax(1).clamp(min=1)
    zbuf = torch.full((height * width,), float("inf"), dtype=torch.float64)
    pairs_pix, pairs_face, pairs_depth, pairs_w = [], [], [], []
    bucket = torch.ceil(torch.log2(side[ids])).long()
    for b in bucket.unique().tolist():
        fid = ids[bucket == b]
        s = 2 ** b
        off = torch.arange(s, dtype=torch.float64)
        px = lo[fid, 0, None, None] + off[None, None, :]      # (f, 1, s)
        py = lo[fid, 1, None, None] + off[None, :, None]      # (f, s, 1)
        px, py = px.expand(-1, s, s), py.expand(-1, s, s)
        inside_box = (px <= hi[fid, 0, None, None]) & (py <= hi[fid, 1, None, None])
        cx, cy = px + 0.5, py + 0.5
        t = uv[fid]
        a = area[fid, None, None]
        la = _edge(t[:, 1, 0, None, None], t[:, 1, 1, None, None], t[:, 2, 0, None, None], t[:, 2, 1, None, None],
                   cx, cy) / a
        lb = _edge(t[:, 2, 0, None, None], t[:, 2, 1, None, None], t[:, 0, 0, None, None], t[:, 0, 1, None, None],
                   cx, cy) / a
        lc = 1.0 - la - lb
        hit = inside_box & (la >= 0) & (lb >= 0) & (lc >= 0)
        f_i, y_i, x_i = hit.nonzero(as_tuple=True)
        lam = torch.stack([la[f_i, y_i, x_i], lb[f_i, y_i, x_i], lc[f_i, y_i, x_i]], -1)   # (P, 3)
        inv_z = lam / z[fid[f_i]]                              # λ_i / z_i
        depth = 1.0 / inv_z.sum(-1)
        pix = (py[f_i, y_i, x_i] * width + px[f_i, y_i, x_i]).long()
        pairs_pix.append(pix)
        pairs_face.append(fid[f_i])
        pairs_depth.append(depth)
        pairs_w.append(inv_z * depth[:, None])
    face = torch.full((height * width,), -1, dtype=torch.long)
    weights = torch.zeros(height * width, 3, dtype=torch.float64)
    if pairs_pix:
        pix, fidx, depth, w = (torch.cat(x) for x in (pairs_pix, pairs_face, pairs_depth, pairs_w))
        zbuf.scatter_reduce_(0, pix, depth, reduce="amin")
        win = depth == zbuf[pix]                               # the nearest triangle(s) of each pixel
        face.scatter_reduce_(0, pix[win], fidx[win], reduce="amax")   # ties (shared edges): the larger index
        win &= fidx == face[pix]
        weights[pix[win]] = w[win]
    return Fragments(zbuf.view(height, width).float(), face.view(height, width), weights.view(height, width, 3).float())
