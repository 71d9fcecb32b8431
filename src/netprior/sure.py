"""Stein's unbiased risk estimate (SURE) as a denoising loss that needs no clean image (Stein 1981; Monte-Carlo
divergence of Ramani, Blu, Unser 2008; as a Deep Image Prior loss: Jo, Chun, Choi, "Rethinking Deep Image Prior for
Denoising", ICCV 2021).

For an observation y = x + n with n ~ N(0, σ² I) on N values and a denoiser h that is weakly differentiable,

    SURE(h, y) = ||y − h(y)||²/N − σ² + (2σ²/N) · div_y h(y),        E[SURE] = E[||h(y) − x||²/N]

so minimising it over the denoiser's parameters minimises an unbiased estimate of the error to the clean image.
The divergence div_y h = Σ_i ∂h_i/∂y_i is estimated with one probe b ~ N(0, I) per step,

    div_y h(y) ≈ bᵀ (h(y + εb) − h(y)) / ε,

unbiased up to O(ε) since E[b bᵀ] = I.  Plain DIP (the ``div`` term absent) is rewarded for copying the noise,
which it eventually does; the divergence term charges for exactly that, so the fit no longer collapses onto y.
"""

from __future__ import annotations

from typing import Callable

import torch


def mc_divergence(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, out: torch.Tensor, eps: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """One-probe Monte-Carlo estimate of div_z fn(z) = bᵀ(fn(z + εb) − out)/ε with b ~ N(0, I) and ``out`` =
    fn(z) already computed; differentiable in fn's parameters.  z and fn(z) must have the same shape."""
    if z.shape != out.shape:
        raise ValueError(f"the divergence needs input and output of one shape, got {tuple(z.shape)} and "
                         f"{tuple(out.shape)}")
    b = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
    return torch.sum(b * (fn(z + eps * b) - out)) / eps


def sure(y: torch.Tensor, out: torch.Tensor, sigma: float, divergence: torch.Tensor) -> torch.Tensor:
    """SURE(h, y) = ||y − h(y)||²/N − σ² + 2σ²·div/N for the output ``out`` = h(y) and its divergence."""
    n = y.numel()
    return torch.sum((y - out) ** 2) / n - sigma ** 2 + 2 * sigma ** 2 * divergence / n
