import pytest
import torch

from netprior.nets import build, skip
from netprior.settings.dip import PRESETS


@pytest.mark.parametrize("arch,kw", [("skip", {}), ("hourglass", {}), ("unet", {"feature_scale": 8}),
                                     ("resnet", {"blocks": 2})])
@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_architectures_keep_size_and_range(arch, kw, size):
    net = build(arch, 8, 3, **kw)
    x = net(torch.rand(1, 8, *size) * 0.1)
    assert x.shape == (1, 3, *size)
    assert 0 <= x.min() and x.max() <= 1


def test_denoising_preset_has_two_million_parameters():
    p = PRESETS["denoise"]
    net = build(p.arch, p.input_depth, 3, **p.net)
    n = sum(q.numel() for q in net.parameters())
    assert 2.0e6 < n < 2.4e6  # "our default architecture has two million parameters" (thesis 7.2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_runs(name):
    p = PRESETS[name]
    net = build(p.arch, p.input_depth, 3, **p.net)
    s = 2 ** len(p.net.get("channels_down", (0,) * 5)) * 4  # 4 pixels at the coarsest scale (5x5 reflection pad)
    assert net(torch.rand(1, p.input_depth, s, s)).shape == (1, 3, s, s)


@pytest.mark.parametrize("down", ["stride", "avg", "max", "lanczos2"])
@pytest.mark.parametrize("pad", ["zero", "reflection", "circular"])
def test_skip_options(down, pad):
    net = skip(4, 3, channels_down=(8, 8, 8), channels_skip=(0, 2, 2), downsample=down, pad=pad,
               upsample=("nearest", "bilinear", "bilinear"))
    assert net(torch.rand(1, 4, 32, 32)).shape == (1, 3, 32, 32)


def test_odd_size_is_cropped_consistently():
    net = skip(4, 3, channels_down=(8, 8), channels_skip=2)
    assert net(torch.rand(1, 4, 33, 35)).shape == (1, 3, 33, 35)
