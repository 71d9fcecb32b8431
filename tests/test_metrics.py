"""The blind noise estimate that feeds the discrepancy stopping rule."""

import warnings

import torch

from netprior.metrics import estimate_noise_sigma
from netprior.operators import GaussianNoise


def test_noise_estimate_recovers_sigma_and_is_zero_on_a_flat_image(photo64):
    noisy = GaussianNoise(25).simulate(photo64, torch.Generator().manual_seed(0))
    assert abs(estimate_noise_sigma(noisy) * 255 - 25) < 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate_noise_sigma(torch.zeros(1, 3, 32, 32)) == 0.0
        assert estimate_noise_sigma(torch.full((1, 3, 32, 32), 0.5)) < 1e-6
