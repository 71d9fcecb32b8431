"""Texture quality measures that no synthesis optimises, and the activation smoothing of the Gram descriptor."""

import json

import pytest
import torch
from helpers import run
from skimage import data
from torch import nn

from netprior.errors import InputError
from netprior.io import from_numpy, save_image
from netprior.losses import gram_matrix, softmax_smoothing
from netprior.nets.texture import StyleNet, TextureNet, TextureNetV2
from netprior.recipes.texture import Descriptor, synthesize
from netprior.texture_metrics import (
    colour_histogram_distance,
    colour_noise_fraction,
    colour_statistics,
    grid_strength,
    patch_sliced_wasserstein,
    texture_loss_of,
)
from netprior.texture_model import GeneratorModel


@pytest.fixture(scope="module")
def brick():
    return from_numpy(data.brick()[:128, :128]).expand(1, 3, 128, 128).contiguous()


def test_colour_noise_fraction_counts_pixels_whose_channels_disagree(brick):
    assert colour_noise_fraction(brick) == 0.0
    speckled = brick.clone()
    speckled[:, 0, :64] += 0.2  # red cast on the top half
    assert colour_noise_fraction(speckled) == pytest.approx(0.5, abs=0.02)  # minus the few pixels clipped at 1
    assert colour_noise_fraction(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))) > 0.8


def test_colour_histogram_distance_is_total_variation(brick):
    assert colour_histogram_distance(brick, brick) == 0.0
    black, white = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    assert colour_histogram_distance(black, white) == 1.0
    half = black.clone()
    half[..., :4, :] = 1
    assert colour_histogram_distance(half, white) == pytest.approx(0.5)
    stats = colour_statistics(half)
    assert stats["mean"] == pytest.approx([0.5] * 3) and stats["std"] == pytest.approx([0.5] * 3)


def test_patch_swd_prefers_the_same_texture_to_shuffled_pixels():
    full = from_numpy(data.brick()[:256, :128]).expand(1, 3, 256, 128).contiguous()
    top, bottom = full[..., :128, :], full[..., 128:, :]
    perm = torch.randperm(128 * 128, generator=torch.Generator().manual_seed(0))
    shuffled = top.flatten(2)[..., perm].view_as(top)  # same pixel histogram, no structure
    assert patch_sliced_wasserstein(top, top) == 0.0
    same, wrong = patch_sliced_wasserstein(bottom, top), patch_sliced_wasserstein(shuffled, top)
    assert same < 0.5 * wrong
    assert colour_histogram_distance(shuffled, top) == 0.0  # which the histogram cannot tell
    assert patch_sliced_wasserstein(bottom[..., :64, :], top) == pytest.approx(same, rel=0.5)  # any size
    # at ¼ scale (28 px windows) a wall of slabs without mortar — the brick blurred into blocks — is far off too
    blocks = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(top, 16), scale_factor=16)
    assert patch_sliced_wasserstein(bottom, top, scale=4) < 0.5 * patch_sliced_wasserstein(blocks, top, scale=4)


def test_grid_strength_sees_a_pattern_repeating_every_8_pixels(brick):
    clean = grid_strength(brick)
    assert clean < 0.02
    grid = brick.clone()
    grid[..., ::8, :] *= 0.7  # a faint dark line every 8 rows, as a ×2 upsampling stage leaves
    assert grid_strength(grid) > 5 * clean


def test_transposed_upsampling_prints_a_grid_that_resize_convolution_does_not():
    strengths = {}
    for upsample in ("transposed", "resize"):
        torch.manual_seed(0)
        net = TextureNetV2(size=64, width=32, min_width=16, upsample=upsample).eval()
        with torch.no_grad():
            x = net(net.make_noise(2, 64))
        strengths[upsample] = max(grid_strength(xi) for xi in x)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in net.modules())
    assert strengths["transposed"] > 0.1 and strengths["resize"] < 0.03
    with pytest.raises(InputError, match="upsample"):
        TextureNetV2(size=64, upsample="bilinear")


def test_style_net_resize_upsampling_and_content_skip():
    # StyleNet's transposed 3×3 stride-2 convolutions print a checkerboard (grid strength 0.17–0.31 over 3 seeds,
    # the content 0.004) that the Lite0 descriptor hardly penalises; resize convolutions 0.014–0.018.
    content = from_numpy(data.astronaut()[:64, 200:264])
    strengths = {}
    for upsample in ("transposed", "resize"):
        torch.manual_seed(0)
        net = StyleNet(width=8, res_blocks=1, upsample=upsample).eval()
        with torch.no_grad():
            strengths[upsample] = grid_strength(net(net.make_noise(1, 64), content)[0])
    assert strengths["transposed"] > 0.1 and strengths["resize"] < 0.03, strengths
    # the content skip adds the content's logit to the residual's: with a zero residual the network is the identity
    net = StyleNet(width=8, res_blocks=1, upsample="resize", content_skip=True)
    last = [m for m in net.body[-1].modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        assert last.weight.abs().max() > 0  # Xavier-initialised like every layer (tests/test_style_net.py: why)
        last.weight.zero_()
        torch.testing.assert_close(net(net.make_noise(1, 64), content), content, atol=1e-5, rtol=0)
    with pytest.raises(InputError, match="upsample"):
        StyleNet(upsample="bilinear")


def test_softmax_smoothing_is_the_scaled_softmax_and_size_invariant():
    f = torch.randn(2, 4, 5, 6) * 3
    s = softmax_smoothing(f, 2.0)
    torch.testing.assert_close(s, torch.softmax(f.flatten(1) / 2.0, 1).view_as(f) * 120)
    tiled = f.repeat(1, 1, 2, 3)  # the same statistics on a larger map
    torch.testing.assert_close(gram_matrix(softmax_smoothing(tiled)), gram_matrix(softmax_smoothing(f)), rtol=1e-5,
                               atol=0)
    assert torch.isfinite(softmax_smoothing(f * 1e4)).all()


def test_shuffle_start_leaves_no_colour_noise_on_a_grey_exemplar(lite0, brick):
    """Lite0 barely sees pixel-level colour noise, so Gatys on the pixels from U(0,1) noise keeps most of it;
    starting from the exemplar's own pixels in random order (grey noise here) does not put it there in the first
    place."""
    d = Descriptor(lite0, texture_layers=("block0", "block1", "block3"), smoothing=None)
    x0 = brick[..., :64, :64]
    fractions = {}
    for init in ("noise", "shuffle"):
        s = synthesize(x0, 48, descriptor=d, iters=20, init=init, parametrization="pixels", progress=False)
        assert s.metrics["loss_reduction"] > 3 and s.config["init"] == init
        fractions[init] = colour_noise_fraction(s.image)
    assert fractions["noise"] > 0.5 and fractions["shuffle"] < 0.1, fractions
    with pytest.raises(InputError, match="init"):
        synthesize(x0, 48, descriptor=d, iters=1, init="zeros", progress=False)


def test_smoothing_option_is_recorded_and_checked(lite0, brick):
    plain = Descriptor(lite0, texture_layers=("block0",))
    smooth = Descriptor(lite0, texture_layers=("block0",), smoothing=16)
    assert plain.smoothing is None and smooth.describe()["smoothing"] == 16.0
    g_plain, g_smooth = plain.grams(brick)["block0"], smooth.grams(brick)["block0"]
    feats = lite0(brick, ["block0"])["block0"]
    torch.testing.assert_close(g_smooth, gram_matrix(softmax_smoothing(feats, 16.0)))
    assert not torch.allclose(g_plain, g_smooth)
    for bad in (0, -1.0, "auto"):
        with pytest.raises(InputError, match="smoothing"):
            Descriptor(lite0, smoothing=bad)


def test_a_model_scores_with_the_smoothing_it_was_trained_with(lite0, brick):
    """texture_loss_of rebuilds the descriptor from the model's record, smoothing included: the exemplar matches
    its own smoothed Gram matrices exactly, and would not under the plain descriptor."""
    d = Descriptor(lite0, texture_layers=("block0", "block1"), smoothing=16)
    model = GeneratorModel(net=TextureNet(scales=2), kind="texture", arch="texture_net", descriptor=d.describe(),
                           training={"size": 64}, target_grams=d.grams(brick))
    assert float(texture_loss_of(model, brick)[0]) < 1e-8
    plain = Descriptor(lite0, texture_layers=("block0", "block1"))
    assert float(plain.texture_loss(brick, model.target_grams)) > 0.1


def test_cli_init_and_smoothing_options(monkeypatch, capsys, tmp_path, brick):
    ex = save_image(brick[..., :64, :64], tmp_path / "brick.png")
    out = tmp_path / "tex.png"
    code, _, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", out, "--size", "32", "--iters", "2",
                       "--layers", "block0,block1", "--init", "noise", "--smoothing", "16", "--quiet")
    assert code == 0, err
    config = json.loads(out.with_suffix(".json").read_text())["config"]
    assert config["init"] == "noise" and config["descriptor"]["smoothing"] == 16.0
    for option, value in (("--smoothing", "hot"), ("--init", "zeros")):
        code, _, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", tmp_path / "x.png", "--iters", "1",
                           "--layers", "block0", option, value)
        assert code == 2 and option.strip("-") in err and "Traceback" not in err
