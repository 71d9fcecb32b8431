"""Stacked DIP runs (torch.func.vmap over independent networks) follow the one-at-a-time runs of the same seeds."""

import pytest
import torch

from netprior.batch.stacked import restore_stacked
from netprior.operators import Identity, Mask
from netprior.recipes.dip import restore

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_stacked_runs_equal_single_runs_with_the_same_seeds(photo64, photo64b):
    mask = Mask.bernoulli((64, 64), 0.5, torch.Generator().manual_seed(0))
    ys, ops, seeds = [photo64, photo64b * mask.mask], [Identity(), mask], [3, 7]
    for iters, tol in ((1, 1e-4), (3, 0.02)):
        stacked, res = restore_stacked(ys, ops, "denoise", seeds=seeds, iters=iters)
        singles = [restore(y, op, "denoise", seed=s, iters=iters, stopping="none", progress=False).image
                   for y, op, s in zip(ys, ops, seeds)]
        assert stacked.shape == (2, 3, 64, 64) and res.steps == iters
        for b in range(2):
            # the same trajectory up to rounding (Adam's first steps amplify 1e-5 differences to ~1e-2) ...
            assert (stacked[b] - singles[b][0]).abs().max() < tol
    # ... far closer than another seed's run, and each image its own (not its neighbour's)
    other = restore(ys[0], ops[0], "denoise", seed=4, iters=3, stopping="none", progress=False).image
    assert (other[0] - singles[0][0]).abs().max() > 10 * tol
    assert (stacked[0] - singles[1][0]).abs().max() > 10 * tol
