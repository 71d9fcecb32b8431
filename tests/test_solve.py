import pytest
import torch

from netprior.errors import InputError
from netprior.nets import skip
from netprior.parametrize import DeepPrior, Pixels, make_input
from netprior.solve import solve
from netprior.stopping import Discrepancy, WindowedVariance


def test_pixels_converge_with_adam_and_lbfgs():
    target = torch.rand(1, 3, 8, 8)
    for opt, lr, iters in [("adam", 0.1, 200), ("lbfgs", 1.0, 20)]:
        r = solve(Pixels(torch.zeros_like(target)), lambda x: ((x - target) ** 2).sum(), iters=iters, lr=lr,
                  optimizer=opt, progress=False)
        assert r.history["loss"][-1] < 1e-3 * r.history["loss"][0]
        assert torch.allclose(r.output, target, atol=0.02)


def rosenbrock(x):
    a, b = x.flatten()[0::2], x.flatten()[1::2]
    return ((1 - a) ** 2 + 100 * (b - a * a) ** 2).sum()


def test_lbfgs_steps_follow_native_lbfgs_where_the_unit_step_is_rejected():
    """On Rosenbrock's valley the trial step t = 1 is often rejected by the line search; solve's one-iteration
    steps must then backtrack like torch's own L-BFGS loop (before the fix they had no evaluation left for the line
    search, took zero steps and stalled), and log the loss at each step's start, which never increases."""
    x0 = torch.tensor([[-1.2, 1.0] * 4]).view(1, 1, 2, 4)
    r = solve(Pixels(x0.clone()), rosenbrock, iters=40, lr=1.0, optimizer="lbfgs", progress=False)
    native = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([native], lr=1.0, max_iter=40, max_eval=1000, history_size=100,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(native)
        loss.backward()
        return loss

    opt.step(closure)
    assert float(rosenbrock(r.output)) == pytest.approx(float(rosenbrock(native.detach())), rel=1e-4, abs=1e-8)
    assert float(rosenbrock(r.output)) < 1e-6 * r.history["loss"][0]
    assert all(b <= a + 1e-9 for a, b in zip(r.history["loss"], r.history["loss"][1:]))


def test_ema_and_metrics_and_snapshots():
    target = torch.ones(1, 1, 4, 4)
    r = solve(Pixels(torch.zeros_like(target)), lambda x: ((x - target) ** 2).mean(), iters=30, lr=0.01, ema=0.9,
              metrics={"mean": lambda x: float(x.mean())}, metrics_every=5, snapshot_every=10, progress=False)
    assert r.averaged is not None and r.averaged.mean() < r.output.mean()  # the average lags behind
    assert r.history["mean_step"] == [5, 10, 15, 20, 25, 30] and len(r.history["mean_avg"]) == 6
    assert [s for s, _ in r.snapshots] == [10, 20, 30]
    assert r.image is r.averaged


def test_ema_warmup_forgets_the_first_outputs():
    """A parametrization that outputs 0 at the first step and 1 from then on: the plain average (λ = 0.97) still
    carries 0.97^29 ≈ 0.41 of the start after 30 steps; with the warm-up decay min(λ, (1 + t)/(10 + t)) the start's
    weight is the product of the early decays, under 1 %."""

    class Jump(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))
            self.calls = 0

        def forward(self):
            self.calls += 1
            return self.w * 0 + (0.0 if self.calls == 1 else 1.0)

    def loss(x):
        return (x - 1) ** 2

    plain = solve(Jump(), loss, iters=30, ema=0.97, progress=False)
    warm = solve(Jump(), loss, iters=30, ema=0.97, ema_warmup=10, progress=False)
    assert float(plain.averaged) == pytest.approx(1 - 0.97 ** 29, abs=1e-4)
    assert float(warm.averaged) > 0.99


def _dip_problem():
    y = torch.rand(1, 3, 16, 16)
    net = skip(4, 3, channels_down=(8, 8), channels_skip=2)
    p = DeepPrior(net, make_input("noise", 4, (16, 16)), reg_noise_std=0.05)
    return y, p


def test_checkpoint_resume_continues_identically(tmp_path):
    torch.manual_seed(0)
    y, p = _dip_problem()
    state = {k: v.clone() for k, v in p.state_dict().items()}
    obj = lambda x: ((x - y) ** 2).mean()  # noqa: E731
    full = solve(p, obj, iters=20, ema=0.9, seed=1, progress=False, stopping=WindowedVariance(5, 100))
    p.load_state_dict(state)
    ck = tmp_path / "run.ckpt"
    half = solve(p, obj, iters=10, ema=0.9, seed=1, progress=False, checkpoint=ck, checkpoint_every=5,
                 stopping=WindowedVariance(5, 100))
    assert ck.exists() and half.steps == 10
    _, p2 = _dip_problem()  # fresh objects, as a new process would have
    rest = solve(p2, obj, iters=20, ema=0.9, seed=1, progress=False, checkpoint=ck,
                 stopping=WindowedVariance(5, 100))
    assert rest.steps == 20
    assert rest.history["loss"] == full.history["loss"]
    assert torch.equal(rest.output, full.output) and torch.equal(rest.averaged, full.averaged)


def test_checkpoint_of_other_model_is_refused(tmp_path):
    y, p = _dip_problem()
    ck = tmp_path / "a.ckpt"
    solve(p, lambda x: ((x - y) ** 2).mean(), iters=2, progress=False, checkpoint=ck)
    with pytest.raises(InputError, match="different model"):
        solve(Pixels(y), lambda x: ((x - y) ** 2).mean(), iters=4, progress=False, checkpoint=ck)


def test_seed_makes_runs_reproducible():
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        y, p = _dip_problem()
        runs.append(solve(p, lambda x: ((x - y) ** 2).mean(), iters=5, seed=7, progress=False).output)
    assert torch.equal(runs[0], runs[1])


def test_windowed_variance_detects_the_stable_phase():
    rule = WindowedVariance(window=5, patience=10)
    stopped = None
    for t in range(1, 200):
        # oscillation whose amplitude shrinks until t = 50, then grows again (overfitting): VAR ≈ amp²
        amp = abs(t - 50) / 50 + 0.01
        x = torch.full((1, 1, 4, 4), amp * (-1) ** t)
        if rule.update(t, x, None, 0.0):
            stopped = t
            break
    assert stopped is not None and 50 <= rule.best_step <= 53 and stopped == rule.best_step + 10


def test_discrepancy_fires_at_noise_level():
    rule = Discrepancy(sigma=0.1, smoothing=0.0, min_steps=1)
    losses = [0.05, 0.03, 0.02, 0.0105, 0.0099, 0.005]
    x = torch.zeros(1, 1, 2, 2)
    fired = [rule.update(t, x, x, l) for t, l in enumerate(losses, 1)]
    assert fired.index(True) == 4 and rule.best_step == 5


def test_bad_budget_and_optimizer():
    with pytest.raises(InputError):
        solve(Pixels(torch.zeros(1)), lambda x: x.sum(), iters=0, progress=False)
    with pytest.raises(InputError, match="optimizer"):
        solve(Pixels(torch.zeros(1)), lambda x: x.sum(), iters=1, optimizer="rmsprop", progress=False)
