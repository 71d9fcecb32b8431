"""Image quality metrics on tensors or arrays in [0, 1] (PSNR in NumPy; SSIM and the noise estimate from
scikit-image, imported on use) and the blind noise estimate for SURE (noise before clipping)."""

from __future__ import annotations

import numpy as np
import torch

from .errors import InputError
from .io import to_numpy


def _arr(x) -> np.ndarray:
    return to_numpy(x) if isinstance(x, torch.Tensor) else np.clip(np.asarray(x, dtype=np.float32), 0, 1)


def psnr(x, ref) -> float:
    """PSNR = 10 log10(1 / MSE(x, ref)) in dB, images clipped to [0, 1] (as the DIP code's ``compare_psnr``)."""
    mse = np.mean((_arr(ref).astype(np.float64) - _arr(x).astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim(x, ref) -> float:
    """Mean SSIM (Wang et al. 2004), 7×7 window, over colour channels."""
    from skimage.metrics import structural_similarity  # imported on use: scikit-image's metrics pull in SciPy

    a, b = _arr(x), _arr(ref)
    return float(structural_similarity(b, a, data_range=1.0, channel_axis=2 if b.shape[2] > 1 else None))


def center_crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on each side (SR papers measure PSNR on such centre crops)."""
    return x[..., border:x.shape[-2] - border, border:x.shape[-1] - border] if border > 0 else x


def estimate_noise_sigma(y: torch.Tensor) -> float:
    """Blind estimate of the noise std on the [0, 1] scale as the image shows it (Donoho's wavelet MAD over every
    coefficient, ``skimage.restoration``), averaged over channels: the spread of the noise after any clipping,
    which is what the discrepancy rule compares the data term with.  For the σ of the Gaussian before clipping
    use :func:`estimate_noise_sigma_before_clipping`.  A flat image (no wavelet detail at all) has no measurable
    noise: 0."""
    import warnings

    from skimage.restoration import estimate_sigma

    a = to_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty detail band of a constant image
        sigma = float(np.mean(estimate_sigma(a, channel_axis=2, average_sigmas=False)))
    return sigma if np.isfinite(sigma) else 0.0


_DB2 = (1 + 3 ** 0.5, 3 + 3 ** 0.5, 3 - 3 ** 0.5, 1 - 3 ** 0.5)  # Daubechies-2 low-pass filter × 4√2


def estimate_noise_sigma_before_clipping(y: torch.Tensor, min_coefficients: int = 64) -> float:
    """Blind estimate of the std σ of Gaussian noise on the [0, 1] scale *before* the values were clipped to [0, 1]
    (what SURE needs: the noise of the uncensored values; :mod:`netprior.sure`).

    Donoho's wavelet MAD, σ̂ = median|d|/0.6745 over the finest diagonal band d = (g ⊗ g) ∗ y ↓2 of each channel,
    with g the Daubechies-2 high-pass filter (unit norm, two vanishing moments: d is N(0, σ²) on noise and zero on
    locally linear content), as ``skimage.restoration.estimate_sigma`` does, but counting only the coefficients
    whose 4×4 support the clipping has not touched (every value strictly inside (0, 1)).  A clipped value carries
    no noise, so counting every coefficient underestimates σ wherever an image saturates: on the 128² CSet crops
    with σ = 25 clipped to [0, 1], :func:`estimate_noise_sigma` gives 19.4 (bird, 21 % of the values clipped),
    20.9 (man), 22.0 (baby, zebra); this gives 24.3–26.6 on all 19 crops (benchmarks/results/sure_clipping.md).
    Leaving out the flat, saturated areas costs something on small textured images (a 64² astronaut crop: 26.5).
    With fewer than ``min_coefficients`` such coefficients every coefficient counts.  A flat image: 0."""
    import torch.nn.functional as F

    a = torch.as_tensor(y, dtype=torch.float64)
    a = a.reshape(-1, 1, *a.shape[-2:])
    if min(a.shape[-2:]) < 4:
        return 0.0
    low = torch.tensor(_DB2, dtype=torch.float64) / (4 * 2 ** 0.5)
    high = torch.stack([low[3], -low[2], low[1], -low[0]])
    d = F.conv2d(a, (high[:, None] * high[None, :])[None, None], stride=2).abs().flatten()
    inside = ((-F.max_pool2d(-a, 4, 2) > 0) & (F.max_pool2d(a, 4, 2) < 1)).flatten()
    kept = d[inside] if int(inside.sum()) >= min_coefficients else d
    return float(kept.median()) / 0.6745


def batch_quality(x: torch.Tensor, reference: torch.Tensor) -> dict:
    """Mean PSNR / SSIM over the batch and the MSE (the pixel part of L) against ``reference``."""
    ref = reference.to(x.device)
    if ref.shape != x.shape:
        raise InputError(f"reference {tuple(ref.shape)} does not match the reconstruction {tuple(x.shape)}")
    n = x.shape[0]
    return {"psnr": sum(psnr(x[i], ref[i]) for i in range(n)) / n,
            "ssim": sum(ssim(x[i], ref[i]) for i in range(n)) / n,
            "mse": float((x.clamp(0, 1) - ref).pow(2).mean())}
