"""Image quality metrics (thin wrappers over scikit-image) on tensors or arrays in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .errors import InputError
from .io import to_numpy


def _arr(x) -> np.ndarray:
    return to_numpy(x) if isinstance(x, torch.Tensor) else np.clip(np.asarray(x, dtype=np.float32), 0, 1)


def psnr(x, ref) -> float:
    """PSNR = 10 log10(1 / MSE(x, ref)) in dB, images clipped to [0, 1] (as the DIP code's ``compare_psnr``)."""
    return float(peak_signal_noise_ratio(_arr(ref), _arr(x), data_range=1.0))


def ssim(x, ref) -> float:
    """Mean SSIM (Wang et al. 2004), 7×7 window, over colour channels."""
    a, b = _arr(x), _arr(ref)
    return float(structural_similarity(b, a, data_range=1.0, channel_axis=2 if b.shape[2] > 1 else None))


def center_crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on each side (SR papers measure PSNR on such centre crops)."""
    return x[..., border:x.shape[-2] - border, border:x.shape[-1] - border] if border > 0 else x


def estimate_noise_sigma(y: torch.Tensor) -> float:
    """Blind estimate of Gaussian noise std on the [0, 1] scale (Donoho's wavelet MAD, ``skimage.restoration``),
    averaged over channels.  A flat image (no wavelet detail at all) has no measurable noise: 0."""
    import warnings

    from skimage.restoration import estimate_sigma

    a = to_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty detail band of a constant image
        sigma = float(np.mean(estimate_sigma(a, channel_axis=2, average_sigmas=False)))
    return sigma if np.isfinite(sigma) else 0.0


def batch_quality(x: torch.Tensor, reference: torch.Tensor) -> dict:
    """Mean PSNR / SSIM over the batch and the MSE (the pixel part of L) against ``reference``."""
    ref = reference.to(x.device)
    if ref.shape != x.shape:
        raise InputError(f"reference {tuple(ref.shape)} does not match the reconstruction {tuple(x.shape)}")
    n = x.shape[0]
    return {"psnr": sum(psnr(x[i], ref[i]) for i in range(n)) / n,
            "ssim": sum(ssim(x[i], ref[i]) for i in range(n)) / n,
            "mse": float((x.clamp(0, 1) - ref).pow(2).mean())}
