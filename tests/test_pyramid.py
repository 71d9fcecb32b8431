"""Semantic Pyramid: only the selected level reaches the generator, the masks of training and re-painting, the loss
terms, training reduces the reconstruction term, exact resume, and the `netprior pyramid` commands' bad input."""

import json

import numpy as np
import pytest
import torch
from helpers import run
from PIL import Image
from skimage import data as skdata

from netprior.data import ImageFolder
from netprior.errors import InputError
from netprior.io import save_image
from netprior.nets.pyramid import LEVELS, SPATIAL_LEVELS, PyramidGenerator
from netprior.recipes.pyramid import (
    PyramidConfig,
    generate,
    save_generator,
    train_pyramid,
)
from netprior.semantic_pyramid import (
    ClassifierPyramid,
    class_index,
    diversity_loss,
    keep_masks,
    level_masks,
    random_masks,
    reconstruction_loss,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CHANNELS = {"conv1": 3, "conv2": 4, "conv3": 5, "conv4": 6, "conv5": 7, "fc7": 8, "fc8": 10}
SIDES = {"conv1": 16, "conv2": 8, "conv3": 4, "conv4": 2, "conv5": 1}


def fake_features(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {l: torch.randn(b, c, SIDES[l], SIDES[l], generator=g) if l in SIDES else torch.randn(b, c, generator=g)
            for l, c in CHANNELS.items()}


@pytest.fixture(scope="module")
def tiny_g():
    torch.manual_seed(0)
    return PyramidGenerator(32, CHANNELS, width=4, num_classes=10).eval()


def test_only_the_selected_level_reaches_the_generator(tiny_g):
    feats, other = fake_features(seed=0), fake_features(seed=1)
    z, y = torch.randn(2, 128), torch.tensor([1, 2])
    for level in ("conv2", "fc7"):
        masks = level_masks(feats, level)
        assert [l for l in LEVELS if masks[l].any()] == [level]
        with torch.no_grad():
            base = tiny_g(z, feats, masks, y)
            mixed = {l: (feats[l] if l == level else other[l]) for l in LEVELS}  # every other level changed
            assert torch.equal(tiny_g(z, mixed, masks, y), base)
            changed = {**feats, level: other[level]}
            assert (tiny_g(z, changed, masks, y) - base).abs().max() > 1e-4


def test_skip_z_feeds_the_noise_to_every_block():
    """With the coarsest entry of z cut (W_z = 0) the output still depends on z when z conditions the blocks'
    batch norm, and not at all without it."""
    feats = fake_features()
    masks = level_masks(feats, "conv1")
    y = torch.tensor([1, 2])
    for skip_z in (True, False):
        torch.manual_seed(0)
        g = PyramidGenerator(32, CHANNELS, width=4, num_classes=10, skip_z=skip_z).eval()
        with torch.no_grad():
            g.from_z.weight.zero_()
            a, b = (g(torch.randn(2, 128), feats, masks, y) for _ in range(2))
        assert ((a - b).abs().max() > 1e-3) == skip_z


def test_keep_masks_hide_the_hole_at_finer_levels_only(tiny_g):
    feats = fake_features()
    keep = torch.ones(1, 1, 32, 32)
    keep[..., 8:24, 8:24] = 0
    masks = keep_masks(feats, "conv3", keep)
    assert masks["conv3"].all() and not masks["conv4"].any() and not masks["fc7"].any()
    m1 = masks["conv1"][0, 0]  # 16×16 grid: cells 4…11 lie in the hole
    assert m1[4:12, 4:12].sum() == 0 and m1.sum() == 16 * 16 - 64
    # inside the hole the finer features do not matter; outside they do
    z, y = torch.randn(2, 128), torch.tensor([0, 0])
    with torch.no_grad():
        base = tiny_g(z, feats, masks, y)
        inside = {**feats, "conv1": feats["conv1"].clone()}
        inside["conv1"][..., 4:12, 4:12] += 5
        assert torch.equal(tiny_g(z, inside, masks, y), base)
        outside = {**feats, "conv1": feats["conv1"].clone()}
        outside["conv1"][..., :2, :2] += 5
        assert (tiny_g(z, outside, masks, y) - base).abs().max() > 1e-4


def test_random_masks_follow_the_training_distribution():
    feats = fake_features()
    gen = torch.Generator().manual_seed(0)
    levels = [random_masks(feats, 32, 0.0, gen)[0] for _ in range(200)]
    assert set(levels) == set(LEVELS)
    gen = torch.Generator().manual_seed(3)
    while (drawn := random_masks(feats, 32, 1.0, gen))[0] in ("conv1", "conv2", "conv3"):
        pass
    level, masks = drawn
    finer = SPATIAL_LEVELS[:LEVELS.index(level)]
    assert masks[level].all()
    for l in LEVELS:
        if l in finer:
            assert masks[l].mean() < 1 and (SIDES[l] < 4 or masks[l].mean() > 0)  # a hole (≥ ¼ of the side)
        elif l != level:
            assert not masks[l].any()


def test_reconstruction_loss_counts_only_the_used_levels():
    a, b = fake_features(seed=0), fake_features(seed=1)
    masks = level_masks(a, "conv3")
    assert reconstruction_loss(a, a, masks) == 0
    same_at_conv3 = {**b, "conv3": a["conv3"]}
    assert reconstruction_loss(same_at_conv3, a, masks) == 0  # differences at masked-out levels are ignored
    assert reconstruction_loss(b, a, masks) > 0.1
    assert reconstruction_loss(b, a, level_masks(a, "fc8")) > 0.1  # vectors are compared too


def test_diversity_loss_is_the_ratio_of_code_and_image_distances():
    z = torch.tensor([[0.0, 0.0], [1.0, 3.0]])  # ||Δz||₁ = 4
    near, far = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    near[1] += 0.1  # ||Δx||₁ on the [−1, 1] scale: 48 × 0.2 = 9.6
    far[1] += 0.5   # 48 × 1.0 = 48
    assert diversity_loss(z, near).item() == pytest.approx(4 / 9.6, rel=1e-4)
    assert diversity_loss(z, far).item() == pytest.approx(4 / 48, rel=1e-4)
    assert diversity_loss(z, near, distance="mean").item() == pytest.approx(2 / 0.2, rel=1e-4)  # means: 4/2, 9.6/48


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """12 32×32 crops of real photos (two scikit-image pictures)."""
    root = tmp_path_factory.mktemp("photos")
    for k, a in enumerate((skdata.astronaut(), skdata.coffee())):
        for i in range(6):
            Image.fromarray(np.ascontiguousarray(a[40 * i:40 * i + 32, 50 * i:50 * i + 32])).save(root / f"{k}{i}.png")
    return root


TINY = {"resolution": 32, "width": 8, "batch": 4}


def test_training_reduces_the_reconstruction_term(photos):
    """The whole training step (D, then G with adversarial, reconstruction and diversity terms) on one level."""
    data = ImageFolder(photos, 32, heldout=0.0, flip=False, crop="center")
    pyr = ClassifierPyramid("lite0")
    refs = torch.stack([data[i] for i in range(8)])
    feats = pyr.features(refs)

    def rec(g):
        out = generate(g, pyr, refs, "conv2", 1, seed=5)
        return float(reconstruction_loss(pyr.features(out), feats, level_masks(feats, "conv2")))

    cfg = PyramidConfig(**{**TINY, "batch": 8}, iters=20, lr=2e-3, rec_weight=1.0, levels=("conv2",), p_spatial=0.0,
                        ema=None, seed=0)
    before = rec(train_pyramid(data, PyramidConfig(**{**cfg.__dict__, "iters": 1, "lr": 0.0}), device="cpu",
                               progress=False).generator)
    after = rec(train_pyramid(data, cfg, device="cpu", progress=False).generator)
    assert after < 0.8 * before, (before, after)


def test_resume_is_exact_and_refuses_another_resolution(photos, tmp_path):
    data = ImageFolder(photos, 32, heldout=0.0)
    cfg = PyramidConfig(**TINY, iters=4, seed=2)
    straight = train_pyramid(data, cfg, device="cpu", progress=False).result.nets["G"].state_dict()
    ckpt = tmp_path / "ck.safetensors"
    train_pyramid(data, PyramidConfig(**{**cfg.__dict__, "iters": 2}), device="cpu", progress=False, checkpoint=ckpt)
    resumed = train_pyramid(data, cfg, device="cpu", progress=False, checkpoint=ckpt).result
    assert resumed.iterations == 4
    for k, v in straight.items():
        assert torch.equal(v, resumed.nets["G"].state_dict()[k]), k
    with pytest.raises(InputError, match="resolution 32 .this run: 64."):
        train_pyramid(ImageFolder(photos, 64, heldout=0.0, resize=64), PyramidConfig(**{**cfg.__dict__,
                      "resolution": 64}), device="cpu", progress=False, checkpoint=ckpt)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An untrained generator file at 32² with Lite0's channels (the commands' plumbing, not its quality)."""
    path = tmp_path_factory.mktemp("model") / "g.safetensors"
    torch.manual_seed(0)
    g = PyramidGenerator(32, ClassifierPyramid("lite0").channels(32), width=4)
    return save_generator(g.eval(), "lite0", path)


def test_cli_generate_writes_samples_and_sidecar(monkeypatch, capsys, tmp_path, photo64_png, model):
    out = tmp_path / "s.png"
    code, stdout, _ = run(monkeypatch, capsys, "pyramid", "generate", photo64_png, "--weights", model, "--level",
                          "conv3", "-n", "3", "-o", out, "--report", "--quiet", "--device", "cpu")
    assert code in (0, None), stdout
    assert out.exists() and out.with_suffix(".report.png").exists()
    assert json.loads(out.with_suffix(".json").read_text())["config"]["level"] == "conv3"


def test_cli_bad_inputs_exit_2(monkeypatch, capsys, tmp_path, photo64_png, model):
    def fails(*args, match):
        code, _, err = run(monkeypatch, capsys, "pyramid", *args)
        assert code == 2 and err.count("\n") == 1 and match in err, err

    fails("generate", photo64_png, "--weights", model, "--level", "pool9", match="valid levels: conv1, conv2")
    small = save_image(torch.ones(1, 1, 20, 20), tmp_path / "m.png")
    fails("repaint", photo64_png, "--mask", small, "--weights", model, match="must have the same size")
    fails("generate", photo64_png, "--weights", photo64_png, match="")  # not a generator file
    fails("relabel", photo64_png, "--class", "no-such-thing", "--weights", model, match="unknown ImageNet class")
    fails("train", "--data", tmp_path, "--resolution", "96", match="--resolution must be one of")
    assert class_index("volcano") == 980 and class_index("7") == 7
