"""Several Deep Image Prior runs as one optimisation: B independent networks evaluated with ``torch.func.vmap``.

    x_b = f_{θ_b}(z_b + ε_b),   L = Σ_b ||A_b(x_b) − y_b||² / n_b,   b = 1 … B

The parameters of the B networks are stacked (``torch.func.stack_module_state``) and one vmapped
``functional_call`` computes all B images.  Because L is a sum of per-image terms, ∂L/∂θ_b is image b's own
gradient; Adam and the exponential average act element-wise; each network's batch norm sees only its own image
(vmap gives it a batch of one, as in a single run); and each image draws its perturbations ε_b from its own
generator seeded like the single run (``solve(seed=s)`` reseeds the global RNG, whose stream this reproduces).  So
image b follows the same trajectory as ``dip.restore(y_b, A_b, preset, seed=s_b, stopping="none")``, up to
floating-point rounding — the point is speed: B small images fill a GPU (or a CPU's vector units) that one does not.

Limits: one shared iteration budget (no per-image stopping rule: a rule would stop all B at once), same image size
and preset for all B, and the networks' batch-norm running statistics are not kept (DIP never uses them: its
networks stay in train mode).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..errors import InputError
from ..operators import Operator
from ..parametrize import DeepPrior, Parametrization
from ..recipes.dip import Preset, get_preset, make_prior
from ..solve import SolveResult, solve


class StackedDeepPrior(Parametrization):
    """B :class:`DeepPrior` s of one architecture as one parametrization; ``forward()`` returns (B, C, H, W).

    ``seeds`` seed each image's perturbation stream (see the module docstring)."""

    def __init__(self, priors: list[DeepPrior], seeds: list[int]):
        super().__init__()
        if len({tuple(p.z.shape) for p in priors}) != 1 or len({p.reg_noise_std for p in priors}) != 1:
            raise InputError("stacked runs need inputs of one size and one perturbation level")
        self.base = copy.deepcopy(priors[0].net)
        torch.func.replace_all_batch_norm_modules_(self.base)  # batch statistics only, as a train-mode DIP net
        params, _ = stack_module_state([p.net for p in priors])
        self.names = list(params)
        self.stacked = nn.ParameterList([nn.Parameter(params[n].detach().clone()) for n in self.names])
        self.register_buffer("z", torch.stack([p.z for p in priors]))  # (B, 1, C, H, W)
        self.reg_noise_std = priors[0].reg_noise_std
        self.seeds = list(seeds)
        self.generators: list[torch.Generator] | None = None

    def _noise(self) -> torch.Tensor:
        if self.generators is None:
            self.generators = [torch.Generator(self.z.device).manual_seed(s) for s in self.seeds]
        shape = self.z.shape[1:]
        return torch.stack([torch.randn(shape, generator=g, device=self.z.device) for g in self.generators])

    def forward(self) -> torch.Tensor:
        z = self.z + self.reg_noise_std * self._noise() if self.reg_noise_std > 0 else self.z

        def one(params, zb):
            return functional_call(self.base, dict(zip(self.names, params)), (zb,))

        return vmap(one)(tuple(self.stacked), z).flatten(0, 1)

    def describe(self) -> dict:
        return {"parametrization": "StackedDeepPrior", "networks": len(self.seeds), "seeds": self.seeds,
                "reg_noise_std": self.reg_noise_std, "input_shape": list(self.z.shape[1:])}


def restore_stacked(ys: list[torch.Tensor], operators: list[Operator], preset: Preset | str, *, seeds: list[int],
                    iters: int, lr: float | None = None, out_size: tuple[int, int] | None = None,
                    device: str = "cpu", progress: bool = False) -> tuple[torch.Tensor, SolveResult]:
    """Restore B observations ``ys`` (each (1, C, h, w)) through their ``operators`` (restored size ``out_size``, default
    the observations') with one stacked optimisation of ``iters`` steps; returns the B results (B, 3, H, W) (the exponential averages, as a single run's
    ``image`` without a stopping rule) and the solver's record (its loss is the sum of the B data terms)."""
    if not (len(ys) == len(operators) == len(seeds)) or not ys:
        raise InputError("give one operator and one seed per observation")
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if preset.loss != "mse" or preset.input == "observation":
        raise InputError(f"stacked runs fit ||A(x) − y||² from a noise input; preset {preset.name!r} does not")
    preset = replace(preset, lr=lr or preset.lr)
    dev = torch.device(device)
    out_size = out_size or tuple(ys[0].shape[-2:])
    priors = [make_prior(preset, out_size, seed=s) for s in seeds]
    param = StackedDeepPrior(priors, seeds).to(dev)
    ops = [op.to(dev) for op in operators]
    targets = [y.to(dev) for y in ys]

    def objective(x):
        terms = [torch.mean((op(x[b:b + 1]) - y) ** 2) for b, (op, y) in enumerate(zip(ops, targets))]
        return sum(terms)

    result = solve(param, objective, iters=iters, lr=preset.lr, ema=preset.ema, progress=progress,
                   desc=f"dip/{preset.name} ×{len(ys)}")
    return result.image, result
