"""The noise-impedance experiment of Deep Image Prior (thesis §7.2, Fig. 7.2): the same network fits a natural
image fast and resists noise — learning curves MSE(f_θ_t(z), target) for an image, the image with noise, its pixels
shuffled and white noise."""

from __future__ import annotations

import torch

from .operators import GaussianNoise
from .recipes.dip import fit


def impedance_targets(x: torch.Tensor, *, sigma255: float = 25.0, seed: int = 0) -> dict[str, torch.Tensor]:
    """The four targets of the noise-impedance experiment (thesis Fig. 7.2): the image, the image + N(0, σ²)
    noise, the image's pixels randomly permuted, and U(0, 1) white noise."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = x.shape[1:]
    perm = torch.randperm(h * w, generator=g)
    return {
        "image": x,
        "image + noise": GaussianNoise(sigma255).simulate(x, g),
        "image shuffled": x.reshape(1, c, h * w)[..., perm].reshape_as(x),
        "U(0,1) noise": torch.rand(x.shape, generator=g),
    }


def noise_impedance(x: torch.Tensor, *, iters: int = 2400, preset: str = "denoise", seed: int = 0,
                    **kw) -> dict[str, list[float]]:
    """Learning curves MSE(f_θ_t(z), target) per step for the four targets of :func:`impedance_targets`, with
    the same network initialisation and input for each (reg-noise off, as eq. 7.4 has none)."""
    curves = {}
    for name, target in impedance_targets(x, seed=seed).items():
        r = fit(target, preset=preset, iters=iters, seed=seed, reg_noise_std=0.0, metrics_every=iters, **kw)
        curves[name] = r.result.history["loss"]
    return curves
