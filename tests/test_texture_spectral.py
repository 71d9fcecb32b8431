"""Colour in texture synthesis (issue #16): the spectral parametrization (the exemplar's colour basis, the 1/f
Fourier basis, its projection, the spectral-noise start, and what it changes — no colour speckle on a grey
exemplar), and the colour-distribution term of the texture networks."""

import json

import pytest
import torch
from helpers import run
from skimage import data

from netprior.errors import InputError
from netprior.io import from_numpy, save_image
from netprior.parametrize import SpectralPixels, colour_basis, spectral_noise
from netprior.recipes.texture import (
    Descriptor,
    TrainConfig,
    synthesize,
    train_texture_net,
)
from netprior.terms import ColourMatch
from netprior.texture_metrics import colour_noise_fraction, colour_statistics

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def brick64():
    return from_numpy(data.brick()[100:164, 200:264]).expand(1, 3, 64, 64).contiguous()


@pytest.fixture(scope="module")
def colour64():
    return from_numpy(data.coffee()[100:164, 250:314])


def test_colour_basis_of_a_grey_image_has_one_axis_and_floored_chroma(brick64, colour64):
    mean, axes, spread = colour_basis(brick64, floor=0.01)
    assert mean == pytest.approx([float(brick64.mean())] * 3, abs=1e-5)
    scales = axes.norm(dim=0).sort().values
    assert scales.tolist() == pytest.approx([0.01, 0.01, 1.0], abs=1e-4)  # grey: luminance only
    assert axes[:, -1].abs().tolist() == pytest.approx([3 ** -0.5] * 3, abs=1e-4)
    assert spread == pytest.approx(float(brick64[0, 0].std()) * 3 ** 0.5, rel=1e-3)
    _, axes, _ = colour_basis(colour64)
    assert axes.norm(dim=0).min() > 0.02  # above the floor: a colour photo varies along every axis (0.034 here)
    with pytest.raises(InputError):
        colour_basis(brick64[:, :1])


def test_spectral_pixels_round_trip_and_projection(colour64):
    p = SpectralPixels(colour64, colour_basis(colour64))
    assert torch.allclose(p(), colour64, atol=1e-5)  # x = μ + C F⁻¹(s ⊙ Y) starts at x0
    with torch.no_grad():
        p.y.mul_(5)  # far outside [0, 1]
    assert p().min() < -0.1 and p().max() > 1.1
    p.project_()
    assert p().min() > -1e-5 and p().max() < 1 + 1e-5


def test_gradient_steps_move_chroma_and_high_frequencies_least(brick64):
    """The preconditioner: the same pixel-space gradient moves the image mostly along the exemplar's colour axis
    (luminance) and at low frequencies."""
    p = SpectralPixels(torch.full((1, 3, 32, 32), 0.5), colour_basis(brick64))
    g = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    (p() * g).sum().backward()
    with torch.no_grad():
        step = p.decode(p.y - p.y.grad) - p()
    luma, chroma = step.mean(1), step - step.mean(1, keepdim=True)
    assert chroma.pow(2).sum() < 1e-3 * luma.pow(2).sum()
    spectrum = torch.fft.rfft2(luma[0]).abs()  # (32, 17): low frequencies at the corner [0, 0]
    assert spectrum[:4, :4].mean() > 10 * spectrum[12:20, 12:].mean()


def test_spectral_noise_has_the_exemplars_colours(colour64):
    x = spectral_noise((64, 64), colour_basis(colour64), torch.Generator().manual_seed(0))
    ref, got = colour_statistics(colour64), colour_statistics(x)
    assert got["mean"] == pytest.approx(ref["mean"], abs=0.06)
    assert got["std"] == pytest.approx(ref["std"], rel=0.35)
    assert torch.corrcoef(x[0].flatten(1)).min() > 0.5 * torch.corrcoef(colour64[0].flatten(1)).min()


def test_grey_exemplar_gives_no_colour_speckle_where_pixels_did(brick64):
    """Issue #16's failure at a tiny size: optimising the pixels leaves coloured pixels on the grey exemplar (15 %
    with 20 L-BFGS steps here; 23 % at 128 px, 300 steps); the spectral parametrization (the default) none."""
    d = Descriptor("lite0", texture_layers=("block0", "block1", "block3"))
    old = synthesize(brick64, 40, descriptor=d, iters=20, parametrization="pixels", init="shuffle", progress=False)
    new = synthesize(brick64, 40, descriptor=d, iters=20, progress=False)
    assert colour_noise_fraction(old.image) > 0.08
    assert colour_noise_fraction(new.image) < 0.005
    assert new.metrics["loss_reduction"] > 5, new.metrics
    assert new.config["parametrization"] == "spectral" and new.config["init"] == "spectral"
    with pytest.raises(InputError):
        synthesize(brick64, 40, descriptor=d, iters=1, parametrization="fourier", progress=False)


def test_cli_parametrization_option(monkeypatch, capsys, tmp_path, brick64):
    ex = save_image(brick64, tmp_path / "brick.png")
    out = tmp_path / "tex.png"
    code, _, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", out, "--size", "32", "--iters", "2",
                       "--layers", "block0,block1", "--parametrization", "pixels", "--init", "shuffle", "--quiet")
    assert code == 0, err
    config = json.loads(out.with_suffix(".json").read_text())["config"]
    assert config["parametrization"] == "pixels" and config["init"] == "shuffle"
    code, _, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", tmp_path / "x.png", "--iters", "1",
                       "--layers", "block0", "--parametrization", "fourier")
    assert code == 2 and "parametrization" in err and "Traceback" not in err


def test_colour_term_penalises_blotches_and_enters_training(brick64):
    """ColourMatch: zero for the exemplar's own pixels in any order, large for the black and white blotches the
    diversity term produced (thesis Fig. 3.7), and a term of the training objective when its weight is > 0."""
    term = ColourMatch(brick64)
    perm = torch.randperm(64 * 64, generator=torch.Generator().manual_seed(0))
    shuffled = brick64.flatten(2)[..., perm].view_as(brick64)
    blotched = brick64.clone()
    blotched[..., 10:26, 10:26], blotched[..., 40:56, 30:46] = 0.0, 1.0
    assert float(term(shuffled, None)) < 1e-6
    assert float(term(blotched, None)) > 100 * max(float(term(brick64.flip(-1) * 0.98, None)), 1e-4)
    x = blotched.clone().requires_grad_(True)
    term(x, None).backward()
    assert x.grad[..., 10:26, 10:26].mean() < 0 < x.grad[..., 40:56, 30:46].mean()  # a step lifts black, darkens white
    d = Descriptor("lite0", texture_layers=("block0", "block1"))
    cfg = TrainConfig(arch="texture_net_v2", net={"noise_dim": 8, "hidden": 8, "width": 8, "min_width": 4},
                      size=32, batch=2, iters=2, lr=0.01, diversity=0.1, colour=1.0)
    run = train_texture_net(brick64, cfg, descriptor=d, progress=False)
    assert len(run.result.history["colour"]) == 2 and run.model.training["colour"] == 1.0
    with pytest.raises(InputError):
        TrainConfig(colour=-1)
