"""IMAGINE (image-guided classifier inversion) on 64×64 photos with the offline Lite0 classifier and tiny budgets."""

import json
import math
from dataclasses import replace

import pytest
import torch
from helpers import run

from netprior.attribution import gradcam
from netprior.errors import InputError
from netprior.evaluation.distance import feature_distance, mean_pairwise_distance
from netprior.evaluation.grain import high_frequency_share
from netprior.inputs import gaussian_blob
from netprior.io import save_image
from netprior.losses import gradient_penalty
from netprior.nets.discriminator import PatchDiscriminator
from netprior.objective import jittered
from netprior.recipes.imagine import (
    PRESETS,
    Settings,
    counterfactual,
    deepinversion,
    imagine,
    lowres_settings,
    stylize,
)
from netprior.schedules import cosine_per_stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: see conftest.py


def tiny(**kw) -> Settings:
    return Settings(size=64, **{"iters_warmup": 8, "iters_adversarial": 8, **kw})


# ------------------------------------------------------------------------------------------- building blocks


def test_gradient_penalty_matches_closed_forms_and_trains_the_critic():
    torch.manual_seed(0)
    critic = torch.nn.Linear(12, 1, bias=False)  # D(x) = w·x: ∇D = w everywhere, GP = (||w|| − 1)²
    real, fake = torch.rand(3, 12), torch.rand(3, 12)
    gp = gradient_penalty(critic, real, fake)
    w = critic.weight[0]
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    (g,) = torch.autograd.grad(gp, critic.weight)  # d/dw (||w|| − 1)² = 2(||w|| − 1) w/||w||
    assert torch.allclose(g[0], 2 * (w.norm() - 1) * w / w.norm(), atol=1e-5)

    # D(x) = ½||x||² summed over a "patch map": ∇D = x̃; with real == fake, x̃ = real whatever ε is
    def quadratic(x):
        return 0.5 * x.pow(2).flatten(1)[:, None]

    x = torch.rand(2, 1, 3, 3)
    expected = ((x.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(quadratic, x, x.clone()).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="same image shape"):
        gradient_penalty(critic, torch.rand(1, 6), torch.rand(1, 12))


def test_patch_discriminator_sees_patches_of_its_receptive_field():
    torch.manual_seed(0)
    d = PatchDiscriminator()
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    scores = d(x)
    assert scores.shape[:2] == (1, 1) and min(scores.shape[-2:]) > 10
    i, j = scores.shape[-2] // 2, scores.shape[-1] // 2
    (g,) = torch.autograd.grad(scores[0, 0, i, j], x)
    rows, cols = g[0].abs().sum(0).nonzero(as_tuple=True)
    assert rows.max() - rows.min() + 1 == d.receptive_field == 34
    assert cols.max() - cols.min() + 1 == d.receptive_field
    assert d.score(torch.rand(2, 3, 64, 64)).shape == (2,)


def test_gaussian_blob_peaks_at_the_position():
    a = gaussian_blob(64, (10, 50), 8.0)
    assert a.shape == (1, 64, 64) and a.max().item() == pytest.approx(1.0)
    assert divmod(a.argmax().item(), 64) == (50, 10)  # (row, col) = (y, x)
    with pytest.raises(InputError, match="outside"):
        gaussian_blob(64, (64, 10), 8.0)


def test_jitter_rolls_and_mirrors_without_changing_pixels():
    x = torch.rand(1, 3, 16, 16)
    assert jittered(x, 0) is x
    torch.manual_seed(0)
    outs = [jittered(x, 3) for _ in range(8)]
    assert all(torch.equal(o.flatten().sort().values, x.flatten().sort().values) for o in outs)
    assert sum(not torch.equal(o, x) for o in outs) >= 6


def test_lr_schedule_warms_up_and_restarts_its_cosine_in_each_stage():
    f = cosine_per_stage([10, 6], warmup=3, cosine=True)
    assert [f(t) for t in (0, 1, 2, 3)] == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])
    assert f(9) == pytest.approx(0.5 * (1 + math.cos(math.pi * 6 / 7)))  # last step of stage 1
    assert [f(t) for t in (10, 12, 13)] == pytest.approx([1 / 3, 1.0, 1.0])  # stage 2 starts again
    assert cosine_per_stage([10], warmup=0, cosine=True)(5) == pytest.approx(0.5)
    assert [cosine_per_stage([10], warmup=4, cosine=False)(t) for t in (0, 5)] == pytest.approx([0.25, 1.0])


# ------------------------------------------------------------------------------------------- synthesis


def test_multiresolution_start_runs_at_low_resolution_then_continues_upsampled(lite0, photo64):
    s = tiny(stages=1, iters_warmup=3, lowres_factor=2, iters_lowres=10, jitter=4)
    assert lowres_settings(s).size == 32 and lowres_settings(s).jitter == 2
    r = imagine(photo64, backbone=lite0, settings=s, progress=False)
    assert list(r.results) == ["lowres", "imagine"] and r.results["lowres"].steps == 10 and r.result.steps == 3
    assert r.lowres.shape == (1, 3, 32, 32) and r.image.shape == (1, 3, 64, 64)
    dm = r.results["lowres"].history["dm"]
    assert dm[-1] < 0.95 * dm[0]  # the low-resolution phase lowers R_dm (against the target at 32 px)
    up = torch.nn.functional.interpolate(r.lowres, size=64, mode="bilinear", antialias=True, align_corners=False)
    fresh = imagine(photo64, backbone=lite0, settings=tiny(stages=1, iters_warmup=3), progress=False)
    assert (r.image - up).abs().mean() < 0.5 * (fresh.image - up).abs().mean()  # continued from the upsampled x̂
    di = deepinversion(photo64, backbone=lite0, settings=replace(s, first_bn_weight=10.0), progress=False)
    assert list(di.results) == ["lowres", "deepinversion"] and di.config["objective"]["bn"]["first_weight"] == 10


def test_warmup_stage_lowers_distribution_matching_twofold(lite0, photo64):
    r = imagine(photo64, backbone=lite0, settings=tiny(stages=1, iters_warmup=30), progress=False)
    dm = r.result.history["dm"]
    assert dm[-1] < dm[0] / 2, f"R_dm {dm[0]:.1f} -> {dm[-1]:.1f}"
    assert "pc" not in r.result.history and r.warmup is None
    assert r.metrics["confidence"] > 0.5 and r.metrics["predicted_class"] == r.metrics["target_class"]
    assert r.image.shape == (1, 3, 64, 64) and 0 <= r.image.min() and r.image.max() <= 1


def test_spectral_parametrization_synthesises_without_colour_grain(lite0, photo64):
    # the cpu preset's warm-up at 64 px, 30 steps: DeepInversion's pixels (white N(0, 1) start in the normalised
    # space) keep 7x the photo's fine colour grain and have not reached y*; the target's colour axes and a 1/f basis
    # from 1/f noise (the default) give ~1.5x and confidence 0.98 (measured)
    s = PRESETS["cpu"].override(size=64, lowres_factor=1, stages=1, iters_warmup=30, jitter=8, lr_warmup=5)
    grain = {}
    for param in ("pixels", "spectral"):
        r = imagine(photo64, backbone=lite0, settings=s.override(parametrization=param), progress=False)
        grain[param] = high_frequency_share(r.image, chroma=True) / high_frequency_share(photo64, chroma=True)
        assert r.config["parametrization"] == {"pixels": "NormalizedPixels", "spectral": "SpectralPixels"}[param]
    assert grain["spectral"] < 2.5 and grain["pixels"] > 5, grain
    assert r.metrics["confidence"] > 0.5 and 0 <= r.image.min() and r.image.max() <= 1


def test_two_stages_train_the_critic_and_seeds_give_different_images(lite0, photo64):
    runs = [imagine(photo64, backbone=lite0, settings=tiny(), seed=s, progress=False) for s in (0, 1)]
    h = runs[0].result.history
    assert len(h["dm"]) == 16 and len(h["pc"]) == len(h["gp"]) == 8  # the critic only in stage 2
    assert runs[0].warmup is not None and not torch.equal(runs[0].warmup, runs[0].image)
    assert runs[0].config["objective"]["pc"]["receptive_field"] == 34
    diff = (runs[0].image - runs[1].image).abs().mean().item()
    assert diff > 0.05, diff
    assert mean_pairwise_distance(lite0, [r.image for r in runs]) > 0.05
    assert feature_distance(lite0, photo64, photo64).item() == pytest.approx(0.0, abs=1e-6)
    again = imagine(photo64, backbone=lite0, settings=tiny(stages=1, iters_warmup=8), seed=1, progress=False)
    assert torch.equal(again.image, runs[1].warmup)  # stage 1 of a two-stage run = the warm-up-only run


def test_position_term_moves_the_gradcam_peak_towards_the_blob(lite0, photo64):
    s = tiny(stages=1, iters_warmup=16, cam_layer="stage5")
    centres = {}
    for name, pos in {"top-left": (12.0, 12.0), "bottom-right": (52.0, 52.0)}.items():
        r = imagine(photo64, backbone=lite0, settings=s, position=pos, progress=False)
        cam = gradcam(lite0, r.image, r.metrics["target_class"], "stage5", create_graph=False)[0]
        total = cam.sum()
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        centres[name] = ((cam * xs).sum() / total, (cam * ys).sum() / total)
        assert r.result.history["position"][-1] < r.result.history["position"][0]
    (x0, y0), (x1, y1) = centres["top-left"], centres["bottom-right"]
    assert x1 - x0 > 8 and y1 - y0 > 8, centres


def test_style_counterfactual_and_deepinversion_runs(lite0, photo64, photo64b):
    st = stylize(photo64, photo64b, backbone=lite0, settings=tiny(iters_warmup=4, iters_adversarial=4),
                 progress=False)
    assert st.config["control"] == "style" and len(st.result.history["pc"]) == 4
    assert (st.image - photo64).abs().mean() < 0.25  # started from the content image

    region = torch.zeros(1, 1, 64, 64)
    region[..., 16:48, 16:48] = 1
    cf = counterfactual(photo64, photo64b, region, region, backbone=lite0, settings=tiny(stages=1, iters_warmup=20),
                        progress=False)
    assert cf.metrics["confidence"] > cf.metrics["query_confidence_before"]
    assert cf.metrics["change_outside_region"] < 0.05
    inside = ((cf.image - photo64).abs() * region).sum() / (region.sum() * 3)
    assert inside > 2 * cf.metrics["change_outside_region"]

    di = deepinversion(photo64, backbone=lite0, settings=tiny(stages=1, iters_warmup=10), progress=False)
    assert "bn" in di.result.history and "pc" not in di.result.history and di.result.steps == 10
    assert "pc" not in di.config["objective"]


def test_interrupted_two_stage_run_resumes_with_its_critic(lite0, photo64, tmp_path):
    """The objective (critic weights, critic optimiser, step counter) is checkpointed with x̂ by the solver."""
    s = tiny(iters_warmup=3, iters_adversarial=3, schedule="constant")
    whole = imagine(photo64, backbone=lite0, settings=s, seed=2, progress=False)
    ckpt = tmp_path / "run.ckpt"
    imagine(photo64, backbone=lite0, settings=tiny(iters_warmup=3, iters_adversarial=1, schedule="constant"),
            seed=2, checkpoint=str(ckpt), progress=False)  # stops after the first adversarial step
    resumed = imagine(photo64, backbone=lite0, settings=s, seed=2, checkpoint=str(ckpt), progress=False)
    assert resumed.result.history["step"] == whole.result.history["step"]
    assert torch.allclose(resumed.image, whole.image, atol=1e-6)
    assert resumed.result.history["gp"] == pytest.approx(whole.result.history["gp"], rel=1e-5)


# ------------------------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_a_clear_message(lite0, photo64):
    with pytest.raises(InputError, match="outside the 64x64"):
        imagine(photo64, backbone=lite0, settings=tiny(), position=(70, 10), progress=False)
    with pytest.raises(InputError, match="range 0..999"):
        imagine(photo64, backbone=lite0, settings=tiny(), cls=1000, progress=False)
    with pytest.raises(InputError, match="no layer.*nope"):
        imagine(photo64, backbone=lite0, settings=tiny(layers=("stem", "nope")), progress=False)
    region = torch.ones(1, 1, 64, 64)
    with pytest.raises(InputError, match="same size"):
        counterfactual(photo64, photo64, torch.ones(1, 1, 32, 32), region, backbone=lite0, settings=tiny())
    with pytest.raises(InputError, match="empty"):
        counterfactual(photo64, photo64, region, torch.zeros(1, 1, 64, 64), backbone=lite0, settings=tiny())
    with pytest.raises(InputError, match="stages"):
        imagine(photo64, backbone=lite0, settings=tiny(stages=3))
    with pytest.raises(InputError, match="multi-resolution"):
        tiny(lowres_factor=4, iters_lowres=5)  # 16 px is below the 32 px minimum
    with pytest.raises(InputError, match="parametrization must be one of spectral, pixels"):
        tiny(parametrization="fourier")
    with pytest.raises(InputError, match="multi-resolution"):
        counterfactual(photo64, photo64, region, region, backbone=lite0,
                       settings=tiny(lowres_factor=2, iters_lowres=5))


# ------------------------------------------------------------------------------------------- CLI


def save(tmp_path, name, x):
    return save_image(x, tmp_path / name)


def test_cli_writes_variations_sidecars_and_report(monkeypatch, capsys, tmp_path, photo64):
    target = save(tmp_path, "cat.png", photo64)
    out = tmp_path / "out" / "var.png"
    code, stdout, err = run(monkeypatch, capsys, "imagine", target, "-n", "2", "-o", out, "--size", "64",
                            "--iters", "4", "--seed", "3", "--jitter", "2", "--report", "--quiet")
    assert code == 0, err
    for i, seed in ((0, 3), (1, 4)):
        png = out.with_name(f"var-{i}.png")
        assert png.exists() and png.with_suffix(".report.png").exists()
        meta = json.loads(png.with_suffix(".json").read_text())
        assert meta["config"]["seed"] == seed and meta["inputs"]["target"]["sha256"]
        assert meta["steps"] + meta["metrics"]["lowres"]["steps"] == 4  # the cpu preset's multi-resolution start
        assert meta["config"]["settings"]["jitter"] == 2 and meta["config"]["settings"]["size"] == 64
        assert set(meta["metrics"]["final"]) >= {"ce", "dm", "tv", "pc", "gp"}
    assert stdout.count("wrote") == 6

    code, stdout, err = run(monkeypatch, capsys, "deepinversion", target, "-o", tmp_path / "di.png", "--size", "64",
                            "--iters", "2", "--quiet")
    assert code == 0 and (tmp_path / "di.json").exists(), err


def test_cli_bad_input_exits_2_with_one_line(monkeypatch, capsys, tmp_path, photo64):
    target = save(tmp_path, "cat.png", photo64)
    broken = tmp_path / "style.png"
    broken.write_bytes(b"not an image")
    small_mask = save(tmp_path, "m.png", torch.ones(1, 1, 32, 32))
    cases = [
        (["imagine", target, "--style", broken], "style.png"),
        (["imagine", target, "--shape", tmp_path / "missing.png"], "no such file"),
        (["imagine", target, "--position", "200,10", "--size", "64"], "outside"),
        (["imagine", target, "--position", "ten"], "x,y"),
        (["imagine", target, "--class", "5000", "--size", "64"], "range"),
        (["imagine", target, "--backbone", "lite0", "--layers", "stem,block99", "--size", "64"], "block99"),
        (["imagine", "counterfactual", target, target, "--query-mask", small_mask, "--other-mask", small_mask,
          "--size", "64"], "same size"),
    ]
    for args, message in cases:
        code, _, err = run(monkeypatch, capsys, *args, "-o", tmp_path / "o.png", "--quiet")
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
        assert not (tmp_path / "o.png").exists()
