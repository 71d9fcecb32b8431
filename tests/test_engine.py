"""The engine's small parts: one seed gives the same noise wherever it is drawn and leaves the global RNG alone,
settings validate themselves and list their presets, a run record exposes its outputs, parametrizations project."""

import pytest
import torch

from netprior import seeding
from netprior.config import get_preset, methods, presets_for
from netprior.errors import InputError
from netprior.parametrize import DeepPrior, NormalizedPixels, Pixels
from netprior.record import Run
from netprior.solve import solve


def test_a_seed_gives_the_global_streams_numbers_without_touching_the_global_rng():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    with seeding.initialising(7):
        inside = torch.rand(5)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is as it was
    assert torch.equal(inside, torch.rand(5, generator=seeding.generator(7)))


def test_the_solver_binds_one_generator_so_runs_repeat_and_seeds_differ():
    def run(seed):
        with seeding.initialising(0):
            net = torch.nn.Conv2d(2, 1, 1)
        p = DeepPrior(net, torch.zeros(1, 2, 4, 4), reg_noise_std=0.5)
        return solve(p, lambda x: x.pow(2).mean(), iters=3, seed=seed, progress=False).output

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_projections_keep_the_image_in_the_unit_box():
    px = Pixels(torch.full((1, 3, 2, 2), 0.5), box=True)
    solve(px, lambda x: -x.sum(), iters=5, lr=1.0, progress=False)
    assert px().max().item() == 1.0
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.2, 0.2])
    npx = NormalizedPixels(torch.zeros(1, 3, 2, 2), mean, std)
    solve(npx, lambda x: x.sum(), iters=5, lr=10.0, progress=False)
    assert npx().min().item() == pytest.approx(0.0, abs=1e-6)


def test_settings_validate_on_construction_and_override_ignores_none():
    dip = get_preset("dip", "denoise")
    assert dip.override(iters=None, lr=0.5).lr == 0.5 and dip.override(iters=None).iters == dip.iters
    with pytest.raises(InputError, match="iteration budget"):
        dip.override(iters=0)
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("dip", "nope")
    for method in methods():
        presets = presets_for(method)
        assert presets and all(p.source for p in presets.values()), method


def test_a_run_reads_its_outputs_as_attributes():
    r = Run(image=torch.zeros(1), config={"method": "m"}, outputs={"z": 3})
    assert r.z == 3 and r.result is None
    with pytest.raises(AttributeError):
        r.h
