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

**Censored values.**  Photographs, and the DIP reference code's noisy images, are clipped to [0, 1]: a value at a
bound carries no Gaussian noise, and Stein's identity does not hold there.  Optimised as a loss, SURE then has an
exploit: a clipped region of y is locally constant, so the network can give its outputs there any slope in the
input without changing the fit, and a negative slope lowers the divergence term without bound (CSet5 baby at
step 160: −68 per clipped value, the image falls from 32.5 to 15 dB; docs/methods/dip.md).  So the divergence and
the −σ² term run over the uncensored values U = {i : 0 < y_i < 1} only (the probe is zero elsewhere), and censored
values keep only their fit, which pulls h towards the bound they show:

    SURE_U(h, y) = ( ||y − h(y)||² − |U| σ² + 2σ² Σ_{i∈U} ∂h_i/∂y_i ) / N.
"""

from __future__ import annotations

from typing import Callable

import torch


def uncensored(y: torch.Tensor) -> torch.Tensor:
    """The mask of values strictly inside the observation's range (0, 1), as y's dtype."""
    return ((y > 0) & (y < 1)).to(y.dtype)


def mc_divergence(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, out: torch.Tensor, eps: float,
                  generator: torch.Generator | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """One-probe Monte-Carlo estimate of div_z fn(z) = bᵀ(fn(z + εb) − out)/ε with b ~ N(0, I) and ``out`` =
    fn(z) already computed; differentiable in fn's parameters.  z and fn(z) must have the same shape.  With
    ``mask`` the probe is b ⊙ mask: the estimate is the sum of ∂fn_i/∂z_i over the masked values."""
    if z.shape != out.shape:
        raise ValueError(f"the divergence needs input and output of one shape, got {tuple(z.shape)} and "
                         f"{tuple(out.shape)}")
    b = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
    if mask is not None:
        b = b * mask
    return torch.sum(b * (fn(z + eps * b) - out)) / eps


def sure(y: torch.Tensor, out: torch.Tensor, sigma: float, divergence: torch.Tensor,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """SURE(h, y) = ||y − h(y)||²/N − σ² + 2σ²·div/N for the output ``out`` = h(y) and its divergence; with the
    uncensored ``mask`` U, SURE_U = (||y − h(y)||² − |U|σ² + 2σ²·div_U)/N (div_U: the divergence over U)."""
    n = y.numel()
    counted = n if mask is None else mask.sum()
    return (torch.sum((y - out) ** 2) - counted * sigma ** 2 + 2 * sigma ** 2 * divergence) / n
