"""The objective: named terms, weights, unweighted logging, per-sample totals, step-dependent terms, one encoder
pass per evaluation, and a critic term that updates itself."""

import pytest
import torch

from netprior.nets.discriminator import PatchDiscriminator
from netprior.objective import Encoder, Objective, Term
from netprior.operators import Identity
from netprior.terms import Critic, DataTerm, FeatureMatch


class Fn(Term):
    def __init__(self, fn, start=0):
        super().__init__()
        self.fn, self.start = fn, start

    def forward(self, x, cache):
        return self.fn(x)

    def active(self, step):
        return step is None or step > self.start


def test_weighted_sum_returns_total_and_unweighted_terms():
    def boom(x):
        raise AssertionError("terms with weight 0 must not be evaluated")

    obj = Objective({"sq": (2.0, Fn(lambda x: (x**2).sum())), "abs": (0.5, Fn(lambda x: x.abs().sum())),
                     "off": (0.0, Fn(boom))})
    x = torch.tensor([1.0, -3.0], requires_grad=True)
    total, values = obj(x, 1)
    assert values == {"sq": 10.0, "abs": 4.0}
    assert total.item() == pytest.approx(22.0)
    total.backward()
    assert x.grad.tolist() == pytest.approx([4.5, -12.5])
    assert set(obj.describe()["objective"]) == {"sq", "abs"}
    with pytest.raises(ValueError, match="non-zero"):
        Objective({"off": (0.0, Fn(boom))})


def test_terms_start_at_their_step_and_per_sample_totals_stay_separate():
    obj = Objective({"data": (1.0, DataTerm(Identity(), torch.zeros(3, 1, 2, 2), per_sample=True)),
                     "late": (10.0, Fn(lambda x: x.flatten(1).sum(1), start=5))})
    x = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert obj(x, 5)[1].keys() == {"data"}
    assert obj(x, 6)[1].keys() == {"data", "late"}
    assert obj.per_sample(x).tolist() == pytest.approx([0.0, 1 + 40.0, 4 + 80.0])
    assert obj.per_sample(x, only=["data"]).tolist() == pytest.approx([0.0, 1.0, 4.0])


def test_an_encoder_runs_once_per_evaluation_for_all_requested_taps():
    calls = []

    def net(x, layers):
        calls.append(tuple(layers))
        return {"a": x * 2, "b": x * 3}

    enc = Encoder(net)
    target = {"a": torch.zeros(1, 1, 2, 2)}
    obj = Objective({"fa": (1.0, FeatureMatch(enc, target)),
                     "fb": (1.0, FeatureMatch(enc, {"b": torch.zeros(1, 1, 2, 2)}, distance="l1"))})
    total, values = obj(torch.ones(1, 1, 2, 2), 1)
    assert calls == [("a", "b")]
    assert values == {"fa": 4.0, "fb": 3.0}


def test_the_critic_term_trains_its_critic_at_every_evaluation():
    torch.manual_seed(0)
    real = torch.rand(1, 3, 32, 32)
    critic = Critic(PatchDiscriminator(), real, lr=1e-3, start=2)
    obj = Objective({"pc": (1.0, critic)})
    before = [p.detach().clone() for p in critic.critic.parameters()]
    fake = torch.zeros(1, 3, 32, 32, requires_grad=True)
    assert obj.evaluate(fake, 2)[0] is None  # not active yet
    total, values = obj(fake, 3)
    assert {"pc", "wasserstein", "gp"} <= set(values)
    assert any(not torch.equal(a, b) for a, b in zip(before, critic.critic.parameters()))
    assert "pc.critic_opt" in "".join(obj.state_dict()) or any(k.endswith("_extra_state") for k in obj.state_dict())


def test_a_checkpoint_of_another_objective_is_refused_with_one_line(tmp_path):
    from netprior.errors import InputError
    from netprior.parametrize import Pixels
    from netprior.solve import solve

    torch.manual_seed(0)
    real = torch.rand(1, 3, 32, 32)
    ck = tmp_path / "run.ckpt"
    with_critic = Objective({"pc": (1.0, Critic(PatchDiscriminator(), real, lr=1e-3))})
    solve(Pixels(torch.zeros(1, 3, 32, 32)), with_critic, iters=1, progress=False, checkpoint=ck)
    other = Objective({"data": (1.0, DataTerm(Identity(), real))})
    with pytest.raises(InputError, match="another objective"):
        solve(Pixels(torch.zeros(1, 3, 32, 32)), other, iters=2, progress=False, checkpoint=ck)
