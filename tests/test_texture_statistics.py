"""Texture statistics beside the Gram matrix (issue #16, brick): shifted Gram matrices (Berger & Memisevic 2017)
and the sliced Wasserstein loss of the feature distributions (Heitz et al. 2021), through the descriptor."""

import pytest
import torch

from netprior.errors import InputError
from netprior.losses import gram_matrix
from netprior.objective import Encoder, Objective
from netprior.terms import GramMatch
from netprior.texture_descriptor import Descriptor
from netprior.texture_statistics import (
    shifted_gram_loss,
    shifted_gram_matrix,
    shifted_grams,
    shifts_of,
    sliced_wasserstein_loss,
    step_directions,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def stripes(period: int, size: int = 16) -> torch.Tensor:
    """One-channel vertical stripes, ``period`` columns on then ``period`` off: (1, 1, size, size)."""
    cols = (torch.arange(size) // period % 2).float()
    return cols.expand(size, size)[None, None].clone()


def test_shifted_gram_matrix_is_the_product_of_the_map_with_its_translate():
    f = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(shifted_gram_matrix(f, 0, 0), gram_matrix(f), atol=1e-6)
    g = shifted_gram_matrix(f, 1, 2)
    i, j = 0, 2  # entry (channel 0, channel 2): mean over the valid positions of f_0(p) f_2(p + δ) / C
    expected = (f[:, i, :4, :5] * f[:, j, 1:, 2:]).mean(dim=(1, 2)) / 3
    assert torch.allclose(g[:, i, j], expected, atol=1e-6)
    assert not torch.allclose(g, g.transpose(1, 2))  # not symmetric: right of differs from left of
    with pytest.raises(InputError):
        shifted_gram_matrix(f, 5, 0)


def test_shifted_grams_tell_stripe_periods_apart_where_the_gram_matrix_cannot():
    fine, coarse = stripes(1), stripes(2)
    assert torch.allclose(gram_matrix(fine), gram_matrix(coarse))  # same share of ones: same Gram matrix
    shifts = shifts_of(["f"], [1])
    targets = shifted_grams({"f": coarse}, shifts)
    assert set(targets) == {"f@0,1", "f@1,0"}
    assert float(shifted_gram_loss({"f": coarse}, targets)) == pytest.approx(0, abs=1e-9)
    assert float(shifted_gram_loss({"f": fine}, targets)) > 1e-3  # neighbours along x: never equal vs half equal


def test_sliced_wasserstein_loss_sees_distributions_that_share_their_second_moments():
    gen = torch.Generator().manual_seed(0)
    n = 4096
    gauss = torch.randn(n, 4, generator=gen)
    signs = torch.randint(0, 2, (n, 4), generator=gen).float() * 2 - 1  # ±1: the same mean and covariance
    as_map = lambda cloud: cloud.T.reshape(1, 4, 64, 64)
    assert torch.allclose(gram_matrix(as_map(gauss)), gram_matrix(as_map(signs)), atol=0.1)
    same = sliced_wasserstein_loss({"l": as_map(gauss)}, {"l": gauss}, step=3)
    other = sliced_wasserstein_loss({"l": as_map(signs)}, {"l": gauss}, step=3)
    another_draw = sliced_wasserstein_loss({"l": as_map(torch.randn(n, 4, generator=gen))}, {"l": gauss}, step=3)
    assert same.shape == (1,) and float(same) < 1e-9
    assert float(other) > 10 * float(another_draw)  # Gaussian vs ±1 values: far beyond the sampling noise


def test_directions_change_between_steps_and_not_within_one():
    a, b, c = (step_directions(0, 8, s, torch.device("cpu")) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.allclose(a.norm(dim=1), torch.ones(8))
    assert not torch.allclose(step_directions(1, 8, 5, torch.device("cpu")), a)  # layers differ too


@pytest.fixture(scope="module")
def lite0():
    return Descriptor("lite0", weights="random", texture_layers=["block1", "block3"])


def test_descriptor_statistics_are_zero_at_the_exemplar_and_follow_the_step(lite0):
    gen = torch.Generator().manual_seed(0)
    x0, x = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
    sw = Descriptor(lite0.net, texture_layers=["block1", "block3"], statistic="sliced-wasserstein",
                    shift_weight=1.0, shift_layers=["block3"], shift_distances=[1, 2])
    targets = sw.grams(x0)
    assert set(targets) == {"block1", "block3", "block3@0,1", "block3@1,0", "block3@0,2", "block3@2,0"}
    assert targets["block1"].shape[1] == lite0.features(x0)["block1"].shape[1]  # a cloud (H·W, C)
    assert float(sw.texture_loss(x0, targets, step=1)) < 1e-6
    assert float(sw.texture_loss(x, targets, step=1)) > 1e-3
    assert sw.texture_loss(x, targets, step=1) != sw.texture_loss(x, targets, step=2)
    assert sw.describe()["statistic"] == "sliced-wasserstein" and sw.describe()["shift_weight"] == 1.0
    # the objective's term evaluates with the step the solver is at
    term = GramMatch(Encoder(sw.features), sw, targets)
    objective = Objective({"texture": (1.0, term)})
    assert objective(x, 7)[0] == pytest.approx(float(sw.texture_loss(x, targets, step=7)), rel=1e-5)
    # the shifted term adds to the plain loss: without it only the six keys' first two remain
    plain = Descriptor(lite0.net, texture_layers=["block1", "block3"], statistic="sliced-wasserstein")
    assert set(plain.grams(x0)) == {"block1", "block3"}
    with pytest.raises(InputError):
        Descriptor(lite0.net, texture_layers=["block1", "block3"], statistic="histogram")
    with pytest.raises(InputError):
        Descriptor(lite0.net, texture_layers=["block1", "block3"], shift_weight=1.0, shift_layers=["block5"])


@pytest.fixture(scope="module")
def brick64():
    from skimage import data

    from netprior.io import from_numpy

    return from_numpy(data.brick()[100:164, 200:264]).expand(1, 3, 64, 64).contiguous()


def test_coarse_to_fine_starts_each_scale_from_the_coarser_result(brick64):
    from netprior.recipes.texture import synthesize

    d = Descriptor("lite0", texture_layers=("block0", "block1", "block3"))
    one = synthesize(brick64, 64, descriptor=d, iters=6, progress=False)
    two = synthesize(brick64, 64, descriptor=d, iters=6, scales=2, progress=False)
    stages = two.config["stages"]
    assert [s["size"] for s in stages] == [[32, 32], [64, 64]] and two.image.shape[-2:] == (64, 64)
    assert stages[0]["texture_layers"] == ["block0", "block1"]  # block3's 35 px field exceeds the 32 px exemplar
    # the fine scale starts from the upsampled coarse texture, far closer to the exemplar's statistics than noise
    assert two.metrics["texture_loss_initial"] < 0.5 * one.metrics["texture_loss_initial"], (two.metrics, one.metrics)
    assert one.config["scales"] == 1  # the default: one scale under 128 px
    with pytest.raises(InputError):
        synthesize(brick64, 64, descriptor=d, iters=1, scales=4, progress=False)  # 8 px at the coarsest scale


def test_default_scales_keep_the_coarsest_image_and_exemplar_at_64_px():
    from netprior.recipes.texture import default_scales

    big = torch.zeros(1, 3, 256, 256)
    assert [default_scales((s, s), big) for s in (64, 127, 128, 255, 256, 1024)] == [1, 1, 2, 2, 3, 3]
    assert default_scales((256, 256), big[..., :128, :128]) == 2  # the exemplar limits it too


def test_cli_statistic_shift_and_scales(monkeypatch, capsys, tmp_path, brick64):
    import json

    from helpers import run

    from netprior.io import save_image

    ex = save_image(brick64, tmp_path / "brick.png")
    out = tmp_path / "tex.png"
    code, stdout, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", out, "--size", "64", "--iters",
                            "2", "--layers", "block0,block1,block3", "--statistic", "sliced-wasserstein",
                            "--shift-weight", "0.5", "--scales", "2", "--quiet")
    assert code == 0, err
    assert "2 scales x 2 steps" in stdout, stdout
    config = json.loads(out.with_suffix(".json").read_text())["config"]
    assert config["descriptor"]["statistic"] == "sliced-wasserstein" and config["descriptor"]["shift_weight"] == 0.5
    assert config["scales"] == 2
    for bad in (["--statistic", "histogram"], ["--shift-weight", "-1"], ["--scales", "0"]):
        code, _, err = run(monkeypatch, capsys, "texture", "optimize", ex, "-o", tmp_path / "x.png", "--iters", "1",
                           "--layers", "block0", *bad)
        assert code == 2 and "Traceback" not in err, (bad, err)


def test_texture_network_trains_on_the_sliced_wasserstein_statistic_and_its_model_file_says_so(tmp_path, brick64):
    from netprior.recipes.texture import TrainConfig, train_texture_net
    from netprior.texture_metrics import texture_loss_of
    from netprior.texture_model import load_model, save_model

    d = Descriptor("lite0", texture_layers=("block0", "block1"), statistic="sliced-wasserstein", shift_weight=1.0,
                   shift_layers=("block1",), shift_distances=(1,))
    cfg = TrainConfig(arch="texture_net", net={"scales": 2, "channels": 4}, size=16, batch=2, iters=8, seed=3)
    tr = train_texture_net(brick64, cfg, descriptor=d, progress=False)
    history = tr.result.history["texture"]
    assert history[-1] < history[0], history
    path = save_model(tr.model, tmp_path / "sw.safetensors")
    model = load_model(path, kind="texture")
    assert model.descriptor["statistic"] == "sliced-wasserstein" and "block1@0,1" in model.target_grams
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    # the loss rebuilt from the file is the descriptor's own (directions of step 0)
    assert texture_loss_of(model, x).tolist() == pytest.approx(
        d.texture_loss(x, model.target_grams, per_sample=True).tolist(), rel=1e-5)
