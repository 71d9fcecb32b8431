"""The blind noise estimate that feeds the discrepancy stopping rule."""

import warnings

import torch

from netprior.metrics import estimate_noise_sigma, estimate_noise_sigma_before_clipping
from netprior.operators import GaussianNoise


def test_noise_estimate_recovers_sigma_and_is_zero_on_a_flat_image(photo64):
    noisy = GaussianNoise(25).simulate(photo64, torch.Generator().manual_seed(0))
    assert abs(estimate_noise_sigma(noisy) * 255 - 25) < 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate_noise_sigma(torch.zeros(1, 3, 32, 32)) == 0.0
        assert estimate_noise_sigma(torch.full((1, 3, 32, 32), 0.5)) < 1e-6


def test_noise_estimate_before_clipping_ignores_values_the_clipping_has_touched(photo64):
    """Brightened so that ~17 % of the noisy values clip at 0 or 1: counting every wavelet coefficient gives 20.9
    (the spread the image shows); counting those whose support lies inside (0, 1) stays near the true 25."""
    bright = (photo64 * 1.4 - 0.1).clamp(0, 1)
    noisy = GaussianNoise(25).simulate(bright, torch.Generator().manual_seed(0))
    assert float(((noisy <= 0) | (noisy >= 1)).float().mean()) > 0.15
    assert abs(estimate_noise_sigma_before_clipping(noisy) * 255 - 25) < 1.5
    assert estimate_noise_sigma_before_clipping(noisy, min_coefficients=10 ** 9) * 255 < 23  # every coefficient
    assert estimate_noise_sigma(noisy) * 255 < 23
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate_noise_sigma_before_clipping(torch.zeros(1, 3, 32, 32)) == 0.0
        assert estimate_noise_sigma_before_clipping(torch.full((1, 3, 32, 32), 0.5)) < 1e-6
