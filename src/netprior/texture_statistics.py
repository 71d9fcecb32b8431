"""What a texture loss matches in a descriptor's feature maps F^l (B, C, H, W), beside Gatys' Gram matrices.

The Gram matrix G^l = F^l F^lᵀ / (C·H·W) (:func:`netprior.losses.gram_matrix`) is a spatial average of products of
features at the *same* position: it keeps which features occur together, not where they occur relative to each
other, and only their second moments.  Two additions, each usable with any descriptor (:class:`~netprior.
texture_descriptor.Descriptor` ``statistic`` / ``shift_weight``):

* **Shifted Gram matrices** (Berger & Memisevic, ICLR 2017, "Incorporating long-range consistency in CNN-based
  texture generation"): the cross-correlation of a feature map with itself translated by δ,

      G^l_δ = F^l_{[:H−δy, :W−δx]} (F^l_{[δy:, δx:]})ᵀ / (C·(H − δy)(W − δx)),

  for horizontal shifts δ = (0, d) and vertical shifts δ = (d, 0) of d feature-map cells.  Matching G^l_δ of the
  exemplar says what lies d cells to the right of / below a feature — the period of a brick wall, its staggered
  joints — which G^l cannot say.  Loss: L_shift = Σ_{l,δ} w_{l,δ} · ¼ ||G^l_δ(x) − G^l_δ(x0)||²_F (batch mean),
  w_{l,δ} = 1/||G^l_δ(x0)||²_F (relative errors, as the descriptor's Gram terms).  The paper adds this term to
  Gatys' loss with its own weight; so does the descriptor (``shift_weight``).
* **Sliced Wasserstein distance of the feature distributions** (Heitz et al., CVPR 2021, "A Sliced Wasserstein
  Loss for Neural Texture Synthesis"): the features of all positions of layer l are a point cloud in R^C; the loss
  compares the clouds of x and x0 along K random unit directions θ_k,

      L_SW = Σ_l w_l · (1/K) Σ_k (1/n) Σ_i (sort(θ_kᵀF^l(x))_i − sort(θ_kᵀF^l(x0))_i)²

  (:func:`netprior.losses.sliced_wasserstein`: n = min(N, M) matched quantiles when the clouds differ in size),
  K = C directions per layer as in the paper, w_l = 1/mean(F^l(x0)²).  It matches the full marginal distribution
  along each direction, not only second moments, and new directions are drawn at every optimisation step
  (the paper draws them for every call of L-BFGS; here they are a function of the step number, fixed within one
  step's line search, so that L-BFGS sees one objective per step and a run is reproducible and resumable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from .errors import InputError
from .losses import sliced_wasserstein

STATISTICS = ("gram", "sliced-wasserstein")
SHIFT_SEPARATOR = "@"


def shift_key(layer: str, dy: int, dx: int) -> str:
    """Name of the shifted Gram matrix of ``layer`` for the shift (dy, dx) in a targets mapping: ``layer@dy,dx``."""
    return f"{layer}{SHIFT_SEPARATOR}{dy},{dx}"


def parse_shift_key(key: str) -> tuple[str, int, int]:
    """Inverse of :func:`shift_key`."""
    layer, shift = key.split(SHIFT_SEPARATOR)
    dy, dx = shift.split(",")
    return layer, int(dy), int(dx)


def shifted_gram_matrix(f: Tensor, dy: int, dx: int) -> Tensor:
    """G_δ = F_{[:H−dy, :W−dx]} F_{[dy:, dx:]}ᵀ / (C·(H−dy)(W−dx)) of feature maps (B, C, H, W), δ = (dy, dx) ≥ 0
    (module docstring; δ = (0, 0) is :func:`netprior.losses.gram_matrix`)."""
    b, c, h, w = f.shape
    if not (0 <= dy < h and 0 <= dx < w):
        raise InputError(f"a shift of ({dy}, {dx}) cells does not fit a {h}x{w} feature map: make the image larger "
                         f"or the shifts smaller")
    a = f[..., :h - dy, :w - dx].reshape(b, c, -1)
    s = f[..., dy:, dx:].reshape(b, c, -1)
    return a @ s.transpose(1, 2) / (c * a.shape[-1])


def shifts_of(layers: Iterable[str], distances: Iterable[int]) -> list[tuple[str, int, int]]:
    """The (layer, dy, dx) of every horizontal (0, d) and vertical (d, 0) shift of every layer."""
    return [(layer, dy, dx) for layer in layers for d in distances for dy, dx in ((0, d), (d, 0))]


def shifted_grams(feats: Mapping[str, Tensor], shifts: Iterable[tuple[str, int, int]]) -> dict[str, Tensor]:
    """{``layer@dy,dx``: G^layer_δ} for the given shifts."""
    return {shift_key(layer, dy, dx): shifted_gram_matrix(feats[layer], dy, dx) for layer, dy, dx in shifts}


def shifted_gram_loss(feats: Mapping[str, Tensor], targets: Mapping[str, Tensor],
                      weights: Mapping[str, float] | None = None) -> Tensor:
    """L_shift = Σ w_{l,δ} · ¼ ||G^l_δ(x) − G^l_δ(x0)||²_F over the shifted-Gram ``targets`` (keys
    ``layer@dy,dx``; weights default 1), batch mean."""
    total = 0.0
    for key, target in targets.items():
        layer, dy, dx = parse_shift_key(key)
        diff = shifted_gram_matrix(feats[layer], dy, dx) - target
        total = total + (weights or {}).get(key, 1.0) * 0.25 * diff.pow(2).sum(dim=(-2, -1)).mean()
    return total


def feature_cloud(f: Tensor) -> Tensor:
    """The features of every position of a one-image map (1, C, H, W) as rows (H·W, C): the exemplar's cloud."""
    return f[0].flatten(1).T.contiguous()


def step_directions(layer_index: int, channels: int, step: int | None, device: torch.device) -> Tensor:
    """C unit directions in R^C for one layer at one optimisation step: normalised N(0, I) draws from the seed
    (step, layer index) (step None: the directions of step 0), so that they change from step to step, not within
    one step, and a run is reproducible."""
    gen = torch.Generator().manual_seed(1_000_003 * (step or 0) + layer_index)
    theta = torch.randn(channels, channels, generator=gen)
    return (theta / theta.norm(dim=1, keepdim=True)).to(device)


def sliced_wasserstein_loss(feats: Mapping[str, Tensor], clouds: Mapping[str, Tensor],
                            weights: Mapping[str, float] | None = None, step: int | None = None) -> Tensor:
    """L_SW (module docstring) of the feature maps ``feats`` (B, C, H, W) against the exemplar's feature
    ``clouds`` (M, C) per layer, with the directions of ``step`` (:func:`step_directions`); one value per
    sample (B,)."""
    total = 0.0
    for index, (layer, cloud) in enumerate(clouds.items()):
        f = feats[layer]
        x = f.flatten(2).transpose(1, 2)  # (B, N, C)
        theta = step_directions(index, f.shape[1], step, f.device)
        total = total + (weights or {}).get(layer, 1.0) * sliced_wasserstein(x, cloud, theta)
    return total


def check_statistic(statistic: str) -> None:
    if statistic not in STATISTICS:
        raise InputError(f"the texture statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
