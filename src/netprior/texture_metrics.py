"""Quality measures of a synthesised texture x against its exemplar x0 that no synthesis method optimises.

A texture loss can fall 55× while the image fills with colour noise: the descriptor does not see the failure.
These measures look at the pixels instead (all take (1, 3, H, W) or (3, H, W) images in [0, 1]; a batch is
scored image by image by the caller):

* :func:`colour_noise_fraction` — share of pixels whose channels disagree: max_c x_c − min_c x_c > τ (τ = 0.15).
  A grey exemplar has none; saturated speckles raise it towards 1.
* :func:`colour_histogram_distance` — total-variation distance ½ Σ_b |p_b(x) − p_b(x0)| between the joint RGB
  histograms (``bins``³ cells) of the two images: 0 for equal colour distributions, 1 for disjoint ones.
* :func:`patch_sliced_wasserstein` — sliced Wasserstein-2 distance between the distributions of k × k patches
  (Rabin et al. 2011; the patch statistic of SinGAN/SIFID-style texture scores, here without a network):
  SW₂² = E_θ W₂²(θᵀP(x), θᵀP(x0)) over random unit directions θ in R^{3k²}, each 1-D W₂ computed from sorted
  projections at matched quantiles.  In [0, 1]-pixel units per patch dimension (divided by sqrt(3k²)).  With
  ``scale`` = s > 1 both images are first average-pooled s × s, so a 7 × 7 patch covers 7s px: at s = 4 (28 px) it
  sees the arrangement of bricks and mortar that 7 px patches of a wall and of a jumble of slabs share.
* :func:`grid_strength` — the regular grid that strided/transposed upsampling prints on an image: pixels are
  grouped by their phase (i mod p, j mod p), p = 8 (three ×2 stages), and the variance of the p² phase means is
  divided by the image's variance.  Without a grid it is about p²/(HW) (sampling noise); a pattern repeating every
  p pixels raises it towards 1.
* :func:`colour_statistics` — per-channel mean and standard deviation (colour drift of a generator).

Gram statistics under a descriptor the synthesis did not use are computed with
:meth:`netprior.texture_descriptor.Descriptor.texture_loss` (see ``benchmarks/texture.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InputError
from .losses import random_directions, sliced_wasserstein
from .texture_descriptor import Descriptor
from .texture_model import GeneratorModel


def _image(x: Tensor) -> Tensor:
    x = x[0] if x.dim() == 4 else x
    if x.dim() != 3 or x.shape[0] != 3:
        raise InputError(f"expected one RGB image (3, H, W), got shape {tuple(x.shape)}")
    return x.detach().float().clamp(0, 1)


def colour_noise_fraction(x: Tensor, threshold: float = 0.15) -> float:
    """Fraction of pixels with max_c x_c − min_c x_c > ``threshold``."""
    x = _image(x)
    return float(((x.amax(0) - x.amin(0)) > threshold).float().mean())


def colour_histogram_distance(x: Tensor, x0: Tensor, bins: int = 8) -> float:
    """½ Σ |p(x) − p(x0)| over the ``bins``³ joint RGB histogram cells (total variation, in [0, 1])."""

    def hist(img: Tensor) -> Tensor:
        q = (_image(img) * bins).long().clamp(max=bins - 1).flatten(1)
        cells = (q[0] * bins + q[1]) * bins + q[2]
        return torch.bincount(cells, minlength=bins ** 3).double() / cells.numel()

    return float(0.5 * (hist(x) - hist(x0)).abs().sum())


def _patches(x: Tensor, k: int) -> Tensor:
    return F.unfold(_image(x)[None], k).squeeze(0).T  # (N, 3k²)


def patch_sliced_wasserstein(x: Tensor, x0: Tensor, patch: int = 7, projections: int = 64, seed: int = 0,
                             scale: int = 1) -> float:
    """Sliced Wasserstein-2 distance between the k × k patch distributions of ``x`` and ``x0`` (module docstring),
    after ``scale`` × ``scale`` average pooling.  Images of different sizes are compared at ``min(N, N0)`` matched
    quantiles."""
    if scale > 1:
        x, x0 = (F.avg_pool2d(_image(v)[None], scale) for v in (x, x0))
    p, p0 = _patches(x, patch), _patches(x0, patch)
    if not len(p) or not len(p0):
        raise InputError(f"images must be at least {patch} px on each side for {patch}×{patch} patches")
    return float(sliced_wasserstein(p[None], p0, random_directions(projections, p.shape[1], seed))[0].sqrt()
                 / math.sqrt(p.shape[1]))


def grid_strength(x: Tensor, period: int = 8) -> float:
    """Var over the period² phases (i mod p, j mod p) of the mean grey level of each phase, / var of the image."""
    g = _image(x).mean(0)
    h, w = g.shape[0] // period * period, g.shape[1] // period * period
    if not h or not w:
        raise InputError(f"the image must be at least {period} px on each side")
    phases = g[:h, :w].reshape(h // period, period, w // period, period).mean(dim=(0, 2))
    return float(phases.var(unbiased=False) / g[:h, :w].var(unbiased=False).clamp_min(1e-12))


def colour_statistics(x: Tensor) -> dict[str, list[float]]:
    """Per-channel mean and standard deviation of one image: {"mean": [r, g, b], "std": [r, g, b]}."""
    flat = _image(x).flatten(1)
    return {"mean": flat.mean(1).tolist(), "std": flat.std(1, unbiased=False).tolist()}


def texture_quality(x: Tensor, x0: Tensor) -> dict[str, float]:
    """The pixel measures of one image against the exemplar, as a dict."""
    return {"colour_noise_fraction": colour_noise_fraction(x), "colour_histogram_distance":
            colour_histogram_distance(x, x0), "patch_swd": patch_sliced_wasserstein(x, x0),
            "patch_swd_4": patch_sliced_wasserstein(x, x0, scale=4),
            "grid_strength": grid_strength(x)}


def texture_loss_of(model: GeneratorModel, x: Tensor, descriptor: Descriptor | None = None) -> Tensor:
    """Per-sample texture loss L_T of images ``x`` against the Gram matrices stored in ``model``."""
    descriptor = descriptor or Descriptor.from_description(model.descriptor)
    targets = {k: v.to(descriptor.net.mean.device) for k, v in model.target_grams.items()}
    with torch.no_grad():
        return descriptor.texture_loss(x.to(descriptor.net.mean.device), targets, per_sample=True)


def pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance between distinct samples of a batch, per pixel value: mean_{i<j} ||x_i − x_j|| /
    sqrt(D) (the RMS difference; the diversity measure of the Fig. 3.5 experiment)."""
    n = len(x)
    if n < 2:
        raise InputError("pairwise distance needs at least 2 samples")
    flat = x.reshape(n, -1).double()
    d = torch.cdist(flat, flat)
    iu = torch.triu_indices(n, n, 1)
    return float(d[iu[0], iu[1]].mean() / math.sqrt(flat.shape[1]))
