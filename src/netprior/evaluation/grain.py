"""Grain of an image: the share of its spectral power above half the Nyquist frequency.

    share(z) = Σ_{max(|f_y|, |f_x|) > 1/4} |F z|² / Σ_f |F z|²,   z with its mean removed

on the grey image z = mean over the colour channels (``chroma=False``; fine detail and noise of any colour) or on
the chroma z = x − grey(x), summed over the three channels (``chroma=True``; colour speckle).  Divided by the same
share of a photo, 1 means as much fine detail as the photo and noise gives ≫ 1 (the IMAGINE benchmarks).
"""

from __future__ import annotations

import torch
from torch import Tensor


def high_frequency_share(x: Tensor, *, chroma: bool = False) -> float:
    """share(z) of the module docstring for one image ``x`` (1, 3, H, W)."""
    grey = x.mean(1, keepdim=True)
    z = x - grey if chroma else grey
    power = torch.fft.fft2(z - z.mean((-2, -1), keepdim=True)).abs().pow(2).sum(1)[0]
    fy = torch.fft.fftfreq(x.shape[-2]).abs()[:, None]
    fx = torch.fft.fftfreq(x.shape[-1]).abs()[None, :]
    return float(power[torch.maximum(fy, fx) > 0.25].sum() / power.sum())
