"""Natural pre-images (Mahendran & Vedaldi; thesis §7.3.4): the TV prior reaches a small relative feature error at
an early Lite0 layer, the Deep Image Prior gives smoother pre-images than plain pixels at a deep one."""

import pytest
import torch

from netprior.backbones import BackboneInputError
from netprior.backbones.strides import layer_strides
from netprior.errors import InputError
from netprior.inputs import resize_side
from netprior.parametrize import CroppedDeepPrior
from netprior.report.preimage_grid import grid_markdown
from netprior.recipes.preimage import (
    Regularisers,
    dip_parametrization,
    feature_targets,
    invert,
    invert_layers,
    preimage_objective,
    relative_feature_error,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: see conftest.py


def test_tv_preimage_at_early_layer_reaches_relative_error_below_0_1(lite0, photo64):
    r = invert(photo64, lite0, "stem", prior="tv", iters=60, progress=False)
    assert r.image.shape == photo64.shape and 0 <= r.image.min() and r.image.max() <= 1
    assert r.metrics["relative_feature_error"] < 0.1
    assert r.metrics["psnr"] > 20  # the stem keeps enough to see the photo again
    data = r.result.history["data"]
    assert data[-1] < 0.05 * data[0]
    assert r.config["layer"] == "stem" and r.config["regularisers"]["tv_weight"] == 0.01


def test_dip_preimage_is_smoother_than_plain_pixels_at_a_deep_layer(lite0, photo64):
    plain = invert(photo64, lite0, "stage4", prior="tv", iters=80, regularisers=Regularisers(0.0, 2.0, 0.0, 6.0),
                   progress=False)
    dip = invert(photo64, lite0, "stage4", prior="dip", iters=80, progress=False)
    for r in (plain, dip):  # both actually fit the representation before their smoothness is compared
        assert r.result.history["data"][-1] < 0.5 * r.result.history["data"][0]
    assert dip.metrics["total_variation"] < 0.5 * plain.metrics["total_variation"]
    assert dip.config["dip_net"]["name"] == "light" and dip.config["parametrization"] == "CroppedDeepPrior"


def test_grid_runs_every_prior_and_layer_and_tabulates(lite0, photo64):
    grid = invert_layers(photo64, lite0, ["stem", "stage2"], priors=("tv",), iters=2, progress=False)
    rows = grid.table()
    assert [(r["prior"], r["layer"]) for r in rows] == [("tv", "stem"), ("tv", "stage2")]
    assert all(r["steps"] == 2 and r["relative_feature_error"] > 0 for r in rows)
    md = grid_markdown(grid)
    assert "| tv |" in md and "stage2" in md and f"{rows[1]['relative_feature_error']:.3f}" in md


def test_objective_terms_are_balanced_on_a_natural_image(lite0, photo64):
    target = feature_targets(lite0, photo64, ["stage2"])["stage2"]
    loss, terms = preimage_objective(lite0, "stage2", target, Regularisers())(photo64)
    assert terms["data"] == pytest.approx(0.0, abs=1e-8)
    # M&V normalisation: TV is O(1) on a photo, the α-norm is a soft bound (< 1 inside the natural range)
    assert 0.3 < terms["tv"] < 10 and 0.01 < terms["alpha"] < 1
    assert loss.item() == pytest.approx(0.01 * terms["tv"] + 5e-3 * terms["alpha"], rel=1e-5)
    noisy = photo64 + 0.2 * torch.randn_like(photo64)
    _, noisy_terms = preimage_objective(lite0, "stage2", target, Regularisers())(noisy)
    assert noisy_terms["tv"] > 3 * terms["tv"] and noisy_terms["data"] > 0.05
    _, out_of_range = preimage_objective(lite0, "stage2", target, Regularisers())(2 * photo64 - 0.5)
    assert out_of_range["alpha"] > 20 * terms["alpha"]


def test_relative_feature_error_and_strides(lite0, photo64):
    targets = feature_targets(lite0, photo64, ["stem", "head"])
    assert relative_feature_error(lite0, photo64, targets) == {"stem": 0.0, "head": 0.0}
    assert relative_feature_error(lite0, torch.zeros_like(photo64), targets)["stem"] > 0.1
    strides = layer_strides(lite0)
    assert (strides["stem"], strides["stage2"], strides["stage3"], strides["stage4"], strides["head"],
            strides["logits"]) == (2, 4, 8, 16, 32, 32)


def test_dip_output_is_cropped_to_odd_image_sizes():
    param = dip_parametrization((37, 50), "light", torch.Generator().manual_seed(0))
    assert isinstance(param, CroppedDeepPrior) and tuple(param.z.shape[-2:]) == (64, 64)
    assert tuple(param().shape) == (1, 3, 37, 50)
    assert tuple(dip_parametrization((64, 64), "notebook", torch.Generator()).z.shape[-2:]) == (128, 128)


def test_bad_input_is_refused_clearly(lite0, photo64):
    with pytest.raises(BackboneInputError, match="more than once"):
        invert_layers(photo64, lite0, ["stem", "stage2", "stem"], iters=1, progress=False)
    with pytest.raises(BackboneInputError, match="valid layers: stem"):
        feature_targets(lite0, photo64, ["conv5"])
    with pytest.raises(InputError, match="stride 32"):
        feature_targets(lite0, photo64[..., :16, :16], ["head"])
    with pytest.raises(InputError, match="prior"):
        invert(photo64, lite0, "stem", prior="gan", iters=1, progress=False)
    with pytest.raises(InputError, match="DIP net"):
        invert(photo64, lite0, "stem", prior="dip", dip_net="big", iters=1, progress=False)
    with pytest.raises(InputError, match="RGB"):
        invert(photo64[:, :1], lite0, "stem", iters=1, progress=False)
    with pytest.raises(InputError, match=">= 0"):
        Regularisers(tv_weight=-1)


def test_resize_side_keeps_aspect(photo64):
    x = torch.rand(1, 3, 40, 80)
    assert resize_side(x, 40).shape[-2:] == (20, 40)
    assert resize_side(x, 60, longer=False).shape[-2:] == (60, 120)
    assert resize_side(photo64, 64) is photo64


def test_same_seed_same_preimage(lite0, photo64):
    a, b, c = (invert(photo64, lite0, "stage2", prior="dip", iters=2, seed=s, progress=False) for s in (1, 1, 2))
    assert torch.equal(a.image, b.image) and not torch.allclose(a.image, c.image, atol=1e-3)
