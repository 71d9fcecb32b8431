"""SURE (netprior.sure): the Monte-Carlo divergence matches the Jacobian's trace, SURE's mean matches the true error
to the clean image, and the SURE Deep Image Prior does not collapse onto the noisy input as plain MSE does."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from netprior.metrics import psnr
from netprior.operators import GaussianNoise
from netprior.recipes.dip import denoise, get_preset, restore
from netprior.stopping import RiskMinimum
from netprior.sure import mc_divergence, sure, uncensored

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _smoother() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 3, 3, padding=1))


def test_mc_divergence_is_the_trace_of_the_jacobian():
    fn = _smoother()
    z = torch.rand(1, 3, 6, 6)
    jac = torch.autograd.functional.jacobian(fn, z).reshape(z.numel(), z.numel())
    exact = float(torch.trace(jac))
    with torch.no_grad():
        out = fn(z)
        g = torch.Generator().manual_seed(1)
        est = torch.stack([mc_divergence(fn, z, out, 1e-3, g) for _ in range(4000)])
    # one-probe estimates scatter (std ~ ||J||_F); their mean converges to the trace
    assert abs(float(est.mean()) - exact) < 4 * float(est.std()) / 4000 ** 0.5, (float(est.mean()), exact)
    assert abs(float(est.mean()) - exact) < 0.1 * abs(exact) + 0.5


def test_sure_is_an_unbiased_estimate_of_the_error_to_the_clean_image():
    fn = _smoother()
    x = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    sigma = 0.1
    g = torch.Generator().manual_seed(2)
    est, true = [], []
    with torch.no_grad():
        for _ in range(400):
            y = x + sigma * torch.randn(x.shape, generator=g)
            out = fn(y)
            est.append(float(sure(y, out, sigma, mc_divergence(fn, y, out, 1e-3, g))))
            true.append(float(torch.mean((out - x) ** 2)))
    est, true = torch.tensor(est), torch.tensor(true)
    # the naive estimate ||y − h(y)||²/N − σ² is biased by 2σ²·div/N; SURE's mean is within its standard error
    assert abs(float(est.mean() - true.mean())) < 4 * float((est - true).std()) / 400 ** 0.5
    assert float(est.mean() - true.mean()) ** 2 < 0.05 * float(true.mean()) ** 2


def test_sure_dip_on_the_noisy_input_does_not_collapse_onto_it_as_plain_mse_does(photo64):
    """With the noisy image as input, plain DIP learns the identity and returns the noise; the same run with the
    SURE loss keeps denoising.  A 3-scale 16-channel net keeps it short."""
    y = GaussianNoise(25).simulate(photo64, torch.Generator().manual_seed(0))
    base = get_preset("denoise-sure")
    small = replace(base, net={**base.net, "channels_down": (16, 16, 16)})
    kw = {"stopping": "none", "progress": False, "sigma": 25 / 255, "iters": 300, "reference": photo64}
    mse = restore(y, GaussianNoise(25), replace(small, loss="mse"), **kw)
    with_sure = restore(y, GaussianNoise(25), small, **kw)
    noisy = psnr(y, photo64)
    assert mse.metrics["psnr_output"] < noisy + 2.0, mse.metrics  # it has (nearly) copied the noise
    assert with_sure.metrics["psnr_output"] > noisy + 5.0, with_sure.metrics


def test_default_denoising_minimises_sure_and_beats_the_reference_recipe_at_equal_steps(photo64):
    """At the same small step budget (150 steps, the noise level estimated from the image) the default SURE preset
    is ahead of the reference recipe, which needs ~700 steps to peak and whose average still carries the first,
    blurry steps after 150 (weight 0.99^150 ≈ 0.2; the default's average forgets them, see solve's ema_warmup)."""
    y = GaussianNoise(25).simulate(photo64, torch.Generator().manual_seed(0))
    kw = {"reference": photo64, "iters": 150, "progress": False}
    new = denoise(y, **kw)
    old = denoise(y, preset="denoise", stopping="none", **kw)
    assert new.config["preset"]["name"] == "denoise-sure" and new.result.stop["rule"] == "risk-minimum"
    assert "divergence" in new.result.history
    assert new.metrics["psnr"] > old.metrics["psnr"] + 1.0, (new.metrics, old.metrics)
    assert new.metrics["psnr_output"] > psnr(y, photo64) + 6.0, new.metrics


def test_risk_minimum_stops_after_patience_and_returns_the_average_at_the_minimum():
    rule = RiskMinimum(window=3, patience=4)
    risks = [5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8]
    stopped = None
    for step, r in enumerate(risks, 1):
        if rule.update(step, torch.full((1,), float(step)), torch.full((1,), -float(step)), r):
            stopped = step
            break
    # 3-step means: 4, 3, 2, 1.67 (steps 3–6), then rising; the minimum is at step 6, stop 4 steps later
    assert rule.best_step == 6 and stopped == 10 and rule.stopped_at == 10
    assert float(rule.selected()[1]) == -6.0  # the averaged image at the minimum, not x_t


def test_risk_minimum_stops_when_the_divergence_turns_negative_not_when_the_risk_does():
    """A negative divergence means the network games the divergence term: the rule stops there and returns the
    best step before.  A slightly negative risk estimate alone (truncated noise near the bounds) does not stop."""
    rule = RiskMinimum(window=2, patience=100)
    x = torch.zeros(1, 1, 2, 2)
    losses = [0.05, 0.03, 0.02, 0.01, -0.005, -0.01, -0.02, -0.2]
    divs = [0.05, 0.05, 0.04, 0.04, 0.03, 0.01, -0.05, -0.3]
    fired = next(t for t, (v, d) in enumerate(zip(losses, divs), start=1)
                 if rule.update(t, x + t, None, v, {"divergence": d}))
    assert fired == rule.stopped_at == 7                              # the first negative mean: (0.01 − 0.05) / 2
    step, image = rule.selected()
    assert step == 6 and float(image.mean()) == 6.0                   # the minimum so far, negative risk included


def test_sure_over_uncensored_values_gives_no_reward_for_a_negative_slope_at_clipped_values():
    """On a clipped region y is constant, so a network can give its output any slope there without changing the
    fit.  Plain SURE rewards a negative slope without bound; SURE over the uncensored values does not see it."""
    g = torch.Generator().manual_seed(3)
    y = (torch.rand(1, 3, 16, 16, generator=g) * 1.4 - 0.2).clamp(0, 1)  # ~30 % of the values at 0 or 1
    clipped = 1 - uncensored(y)
    assert 0.2 < float(clipped.mean()) < 0.4

    def h(slope):  # h(y) = y, with slope −slope in the input at the clipped values
        return lambda z: y + (z - y) * (1 - clipped) - slope * (z - y) * clipped

    def estimates(mask):
        out = {}
        for slope in (0.0, 50.0):
            probe = torch.Generator().manual_seed(4)
            vals = [sure(y, h(slope)(y), 0.1, mc_divergence(h(slope), y, y, 1e-3, probe, mask), mask)
                    for _ in range(64)]
            out[slope] = float(torch.stack(vals).mean())
        return out

    plain, censored = estimates(None), estimates(uncensored(y))
    assert plain[50.0] < plain[0.0] - 0.1                              # the exploit lowers plain SURE
    assert censored[50.0] == pytest.approx(censored[0.0], abs=1e-9)    # and is invisible to SURE over U
    # h = identity on U: fit 0 and div_U = |U|, so SURE_U = (−|U|σ² + 2σ²|U|)/N = σ²|U|/N
    assert censored[0.0] == pytest.approx(0.1 ** 2 * float(uncensored(y).mean()), rel=0.05)
