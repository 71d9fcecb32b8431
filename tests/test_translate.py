"""Perceptual discriminators and unpaired translation (thesis ch. 5): a frozen trunk that passes gradients but does
not train, its tap scale (calibrated per domain, fixed state, a gentler gradient), the losses of eq. 5.6, a
translation that learns its target domain's colour, exact resume, the unpaired data stream, and `netprior
translate` (bad input: one line, exit 2)."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run
from netprior.data import ImageFolder
from netprior.data.unpaired import Unpaired
from netprior.nets.perceptual import PerceptualDiscriminator
from netprior.recipes.translate import TranslateConfig, adversarial_losses, players, train_translation, translate

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(size=16, g_width=4, g_blocks=1, d_width=4, batch=4, seed=0)


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """A: random colour noise; B: noisy blue images (12 each, 16×16)."""
    root = tmp_path_factory.mktemp("domains")
    rng = np.random.default_rng(0)
    for d in ("A", "B"):
        (root / d).mkdir()
    for i in range(12):
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(root / "A" / f"{i}.png")
        b = np.clip(np.array([40, 60, 220]) + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(b).save(root / "B" / f"{i}.png")
    return root


def unpaired(root, seed=0):
    return Unpaired(ImageFolder(root / "A", 16, split="all", seed=seed),
                    ImageFolder(root / "B", 16, split="all", seed=seed + 1), seed=seed)


def test_frozen_trunk_passes_gradients_but_is_not_trained(lite0):
    d = PerceptualDiscriminator("lite0", width=4)
    backbone = d.trunk._backbone[0]
    assert not any("_backbone" in k for k in d.state_dict())
    assert {id(p) for p in d.parameters()}.isdisjoint({id(p) for p in backbone.parameters()})
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    outs = d(x)
    assert [tuple(o.shape) for o in outs] == [(2,), (2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4)]
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    adversarial_losses("lsgan", outs, d(x.detach().flip(-1))).backward()
    opt.step()
    assert x.grad is not None and x.grad.abs().sum() > 0                 # the generator gets a gradient
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())   # the trunk did not move


def test_training_calibrates_each_discriminator_on_its_own_domain(domains, lite0):
    pairs = torch.stack([unpaired(domains)[(0, i)] for i in range(12)])
    for tap_scale in (True, False):
        _, adv = players(TranslateConfig(**TINY, disc="lite0", tap_scale=tap_scale), pairs)
        discs = adv[1].net
        scale = {dom: discs[dom].trunk.scale for dom in ("a", "b")}
        if tap_scale:
            assert torch.allclose(scale["b"], torch.stack([f.std() for f in discs["b"].trunk._raw(pairs[:, 1])]))
            assert not torch.allclose(scale["a"], scale["b"])
        else:
            assert all(torch.equal(s, torch.ones(4)) for s in scale.values())


def test_tap_scale_tames_the_frozen_trunk(lite0):
    """Calibrated taps have unit std on the real images; the raw Lite0 taps (std ~10) give the generator a gradient
    ≥ 10× larger than the calibrated ones; the scale is fixed state (saved, not trained) and the learned trunk has
    none."""
    torch.manual_seed(0)
    real = torch.rand(8, 3, 32, 32) * 0.5 + torch.linspace(0, 0.5, 32)        # smooth-ish images with structure
    grads = {}
    for calibrated in (False, True):
        torch.manual_seed(0)
        d = PerceptualDiscriminator("lite0", width=4)
        if calibrated:
            d.calibrate(real)
            assert [round(float(f.std()), 4) for f in d.trunk(real)] == [1.0] * 4
        else:
            assert min(float(f.std()) for f in d.trunk(real)) > 3
        x = real.clone().requires_grad_(True)
        adversarial_losses("lsgan", None, d(x)).backward()
        grads[calibrated] = float(x.grad.norm())
    assert grads[False] > 10 * grads[True]
    assert "trunk.scale" in d.state_dict() and "trunk.scale" not in dict(d.named_parameters())
    fresh = PerceptualDiscriminator("lite0", width=4)
    fresh.load_state_dict(d.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(fresh(real), d(real)))
    patch = PerceptualDiscriminator("patch", width=4)
    before = patch(real)
    patch.calibrate(real)
    assert all(torch.equal(a, b) for a, b in zip(before, patch(real)))


def test_adversarial_losses():
    ones, zeros = [torch.ones(3), torch.ones(3, 1, 2, 2)], [torch.zeros(3), torch.zeros(3, 1, 2, 2)]
    assert float(adversarial_losses("lsgan", ones, zeros)) == 0.0            # a perfect D
    assert float(adversarial_losses("lsgan", None, zeros)) == 2.0            # (0 − 1)² per output, two outputs
    ns = float(adversarial_losses("nonsaturating", None, zeros))
    assert ns == pytest.approx(2 * np.log(2))


def test_unpaired_stream_is_reproducible_and_reshuffled(domains):
    data = unpaired(domains)
    assert data[(0, 3)].shape == (2, 3, 16, 16) and torch.equal(data[(0, 3)], unpaired(domains)[(0, 3)])
    pairs = [[int(data._perm(e)[i]) % 12 for i in range(12)] for e in (0, 1)]
    assert pairs[0] != pairs[1]


def test_translation_learns_the_target_colour_and_resumes_exactly(domains, tmp_path):
    data = unpaired(domains)
    a = torch.stack([data[(0, i)][0] for i in range(8)])
    cfg = TranslateConfig(**TINY, disc="patch", pretrain_iters=20, iters=20, cycle=False, lr=2e-3)
    run_ = train_translation(data, cfg, device="cpu", progress=False)
    pre = run_.pretrain.history
    assert pre["G/loss"][-1] < pre["G/loss"][0]                           # autoencoder pre-training learns
    out = translate(run_.generators["ab"].eval(), a).mean((0, 2, 3))
    assert out[2] - out[0] > 0.2 > float(a.mean((0, 2, 3))[2] - a.mean((0, 2, 3))[0])    # blue, like B
    short = TranslateConfig(**TINY, disc="patch", pretrain_iters=2, iters=2)
    straight = train_translation(data, short, device="cpu", progress=False)
    ck = tmp_path / "ck.safetensors"
    train_translation(data, TranslateConfig(**{**short.__dict__, "iters": 1}), device="cpu", progress=False,
                      checkpoint=ck)
    resumed = train_translation(data, short, device="cpu", progress=False, checkpoint=ck)
    sa, sb = straight.generators.state_dict(), resumed.generators.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_cli_round_trip_and_bad_input(domains, tmp_path, monkeypatch, capsys):
    model = tmp_path / "t.safetensors"
    code, out, _ = run(monkeypatch, capsys, "translate", "train", "--a", domains / "A", "--b", domains / "B",
                       "--size", "16", "--iters", "2", "--pretrain-iters", "1", "--batch", "4", "--disc", "patch",
                       "--one-way", "-q", "--device", "cpu", "-o", model)
    assert code == 0 and model.exists()
    code, _, _ = run(monkeypatch, capsys, "translate", "apply", model, domains / "A" / "0.png", "-o",
                     tmp_path / "t.png")
    assert code == 0 and Image.open(tmp_path / "t.png").size == (16, 16)
    for args in (["translate", "apply", model, domains / "A" / "0.png", "--direction", "ba"],
                 ["translate", "apply", tmp_path / "none.safetensors", domains / "A" / "0.png"],
                 ["translate", "train", "--a", tmp_path / "missing", "--b", domains / "B", "-o", tmp_path / "x.png"],
                 ["translate", "train", "--a", domains / "A", "--b", domains / "B", "--disc", "vgg99",
                  "-o", tmp_path / "x.safetensors"]):
        code, _, err = run(monkeypatch, capsys, *args)
        assert code == 2 and err.count("\n") == 1 and err.startswith("error:"), (args, err)


def test_input_skip_lets_the_generator_see_global_brightness_and_old_files_load(domains, tmp_path):
    """Without the input skip the generator is blind to a global brightness/contrast change of its input (instance
    norm after the bias-free first convolution), so it can never be the identity that pre-training and eq. 5.7 ask
    for; with it the output follows the change.  A file written before the option still loads."""
    from netprior.nets.translation import TranslationGenerator
    from netprior.recipes.translate import load_model
    from netprior.statefile import save_state

    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16) * 0.5 + 0.25
    dimmed = 0.5 * x + 0.1
    plain, skip = TranslationGenerator(4, 2, 1, input_skip=False), TranslationGenerator(4, 2, 1)
    with torch.no_grad():
        assert (plain(x) - plain(dimmed)).abs().max() < 1e-3          # up to instance norm's ε
        assert (skip(x) - skip(dimmed)).abs().mean() > 1e-2
    old = {("main.%d." % len(plain.main) + k[4:] if k.startswith("out.") else k): v
           for k, v in plain.state_dict().items()}
    cfg = {k: v for k, v in TranslateConfig(**TINY, cycle=False).__dict__.items() if k != "g_input_skip"}
    save_state(tmp_path / "old.safetensors", {"config": cfg, "generators": {"ab": old}, "training": {}},
               kind="translation-model", version=1)
    gens, loaded = load_model(tmp_path / "old.safetensors")
    assert not loaded.g_input_skip
    with torch.no_grad():
        assert torch.equal(gens["ab"](x), plain.eval()(x))
