"""The one optimisation loop every method uses.

    for t = 1 … T:   x_t = P_θ()                     (the parametrization: pixels, f_θ(z), G(z), …)
                     L_t = objective(x_t, t)         (named terms: data term through an operator, features…)
                     θ ← Π(optimiser step on ∇_θ L_t) (Π = the parametrization's projection, e.g. onto [0, 1])
                     x̄_t = λ x̄_{t−1} + (1 − λ) x_t    (exponential average, λ = ``ema``, 0.99 in the DIP code)
                     stop if the stopping rule says so

with metric callbacks, snapshots, a progress bar, and checkpoints from which a resumed run continues exactly as
the uninterrupted one would (parameters, optimiser state, average, history, stopping rule and the run's generator
state are saved in a :mod:`~netprior.statefile`: safetensors + JSON, nothing that can run code).

Randomness: the run's ``seed`` makes one ``torch.Generator`` on the parameters' device, which every part that draws
noise while optimising receives (:func:`netprior.seeding.bind`); nothing here touches the global RNG.
"""

from __future__ import annotations

import hashlib
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from . import seeding
from .errors import InputError
from .objective import Objective
from .statefile import load_state, save_state
from .stopping import StoppingRule

Loss = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]
Metric = Callable[[torch.Tensor], float]
OPTIMIZERS = ("adam", "lbfgs", "sgd")
#: Evaluations L-BFGS may spend per step (one iteration): its strong-Wolfe line search gets all but the first.
LBFGS_MAX_EVALS = 25
CHECKPOINT_KIND, CHECKPOINT_VERSION = "solver-checkpoint", 2  # version 1: the torch.save pickles of netprior 0.1


@dataclass
class SolveResult:
    """What a run produced.

    ``output`` is x_T at the last step run, ``averaged`` the exponential average x̄_T (None without ``ema``),
    ``image`` the result to use: the stopping rule's selection when it has one, else ``averaged`` when kept,
    else ``output``.  ``history`` maps "step", "loss", each objective term and each metric to per-step lists."""

    output: torch.Tensor
    averaged: torch.Tensor | None
    image: torch.Tensor
    history: dict[str, list[float]]
    steps: int
    seconds: float
    peak_memory_mb: float
    stop: dict | None = None
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)

    def summary(self) -> dict:
        """Scalars for a sidecar: steps, seconds, peak memory, stopping rule, last value of each history series."""
        last = {k: v[-1] for k, v in self.history.items() if v and k != "step"}
        return {"steps": self.steps, "seconds": round(self.seconds, 3), "peak_memory_mb": round(self.peak_memory_mb, 1),
                "stopping": self.stop, "final": last}


def peak_memory_mb(device: torch.device | str = "cpu") -> float:
    """Peak resident memory of this process (CPU) or peak allocated CUDA memory, in MiB."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _make_optimizer(name: str, params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":  # one iteration per step; torch's default max_eval for max_iter=1 is 1, which leaves the
        # line search no evaluation: a rejected trial step becomes a zero step, which every later step repeats
        return torch.optim.LBFGS(params, lr=lr, max_iter=1, max_eval=LBFGS_MAX_EVALS, history_size=100,
                                 line_search_fn="strong_wolfe")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise InputError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")


def _split(value) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(value, tuple):
        loss, terms = value
        return loss, {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in terms.items()}
    return value, {}


def _fingerprint(param: nn.Module, optimizer: str) -> str:
    shapes = ";".join(f"{k}:{tuple(v.shape)}" for k, v in param.state_dict().items())
    return hashlib.sha1(f"{type(param).__name__}|{optimizer}|{shapes}".encode()).hexdigest()[:16]


def solve(param: nn.Module, objective: Objective | Loss, *, iters: int, lr: float = 0.01, optimizer: str = "adam",
          ema: float | None = None, ema_warmup: int = 0, stopping: StoppingRule | None = None,
          metrics: dict[str, Metric] | None = None, metrics_every: int = 1, snapshot_every: int = 0,
          checkpoint: str | Path | None = None, checkpoint_every: int = 100, seed: int | None = None,
          progress: bool = True, desc: str = "optimising", extra_params: Iterable[torch.Tensor] = (),
          lr_schedule: Callable[[int], float] | None = None,
          callback: Callable[[int, torch.Tensor], None] | None = None) -> SolveResult:
    """Minimise ``objective(param(), step)`` over the parameters of ``param`` (and ``extra_params``), projecting
    them with ``param.project_()`` after every step.

    ``objective`` is an :class:`~netprior.objective.Objective` (named terms, evaluated with the step number) or a
    plain function of x returning the loss or (loss, {term name: value}); a term named ``"data"`` is what stopping
    rules watch (else the total loss).  ``metrics`` are evaluated on x_t (key ``name``) and on x̄_t
    (``name_avg``) every ``metrics_every`` steps — e.g. PSNR to a reference.  ``lr_schedule(step)`` multiplies the
    learning rate.  ``ema_warmup`` = k > 0 lets the average forget the first outputs: its decay at step t is
    min(λ, (1 + t)/(k + t)) (the ``num_updates`` warm-up of TensorFlow's ExponentialMovingAverage), so x̄_t does not
    carry the random start of the network for ~1/(1 − λ) steps.  ``checkpoint`` is a file: saved every ``checkpoint_every`` steps and at the end, and resumed from
    when it exists.  ``seed`` seeds the run's generator (see the module docstring); without it the parts draw
    from the global RNG.
    """
    if iters < 1:
        raise InputError(f"the iteration budget must be >= 1, got {iters}")
    if ema is not None and not 0.0 <= ema < 1.0:
        raise InputError(f"ema must be in [0, 1), got {ema}")
    params = [p for p in param.parameters() if p.requires_grad] + list(extra_params)
    if not params:
        raise InputError("nothing to optimise: the parametrization has no trainable parameters")
    rng = None if seed is None else seeding.generator(seed, params[0].device)
    seeding.bind(rng, param, objective)
    project = getattr(param, "project_", None)
    takes_step = isinstance(objective, Objective)
    opt = _make_optimizer(optimizer, params, lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule) if lr_schedule else None
    metrics = metrics or {}
    history: dict[str, list[float]] = {"step": [], "loss": []}
    avg: torch.Tensor | None = None
    snapshots: list[tuple[int, torch.Tensor]] = []
    start, elapsed = 0, 0.0
    ckpt_path = Path(checkpoint) if checkpoint else None
    fp = _fingerprint(param, optimizer)

    if ckpt_path is not None and ckpt_path.exists():
        state = load_state(ckpt_path, kind=CHECKPOINT_KIND, version=CHECKPOINT_VERSION, what="checkpoint")
        if not isinstance(state, dict) or state.get("fingerprint") != fp:
            raise InputError(f"{ckpt_path}: checkpoint belongs to a different model or optimizer; "
                             "delete it or choose another --checkpoint path")
        param.load_state_dict(state["param"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state.get("scheduler"):
            sched.load_state_dict(state["scheduler"])
        if isinstance(objective, nn.Module) and state.get("objective") is not None:
            try:
                objective.load_state_dict(state["objective"])
            except RuntimeError:  # e.g. an IMAGINE checkpoint written before the objective had named terms
                raise InputError(f"{ckpt_path}: checkpoint holds another objective's state (critic, terms); "
                                 "delete it or choose another --checkpoint path") from None
        start, elapsed, history, snapshots = state["step"], state["seconds"], state["history"], state["snapshots"]
        avg = None if state["avg"] is None else state["avg"].to(params[0].device)
        if stopping is not None and state.get("stopping") is not None:
            stopping.load_state_dict(state["stopping"])
        (rng.set_state if rng is not None else torch.set_rng_state)(state["rng"])

    def save_checkpoint(step: int) -> None:
        state = {"fingerprint": fp, "step": step, "seconds": elapsed + time.perf_counter() - t0,
                 "param": param.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict() if sched else None,
                 "objective": objective.state_dict() if isinstance(objective, nn.Module) else None,
                 "avg": avg, "history": history, "snapshots": snapshots,
                 "stopping": stopping.state_dict() if stopping is not None else None,
                 "rng": rng.get_state() if rng is not None else torch.get_rng_state()}
        save_state(ckpt_path, state, kind=CHECKPOINT_KIND, version=CHECKPOINT_VERSION)

    from tqdm.auto import tqdm

    bar = tqdm(total=iters, initial=start, desc=desc, disable=not progress, leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    x = param().detach() if start >= iters else None
    stopped = stopping is not None and stopping.stopped_at is not None
    step = start
    while step < iters and not stopped:
        step += 1
        cache: dict = {}

        def closure():
            opt.zero_grad(set_to_none=True)
            out = param()
            loss, terms = _split(objective(out, step) if takes_step else objective(out))
            loss.backward()
            if not cache:  # x_t and L(x_t): the step's first evaluation (L-BFGS then evaluates trial points)
                cache.update(out=out, loss=loss, terms=terms)
            return loss

        opt.step(closure)
        if project is not None:
            project()
        if sched is not None:
            sched.step()
        x = cache["out"].detach()
        loss_value = float(cache["loss"].detach())
        if ema is not None:
            decay = min(ema, (1 + step) / (ema_warmup + step)) if ema_warmup else ema
            avg = x.clone() if avg is None else avg.mul_(decay).add_(x, alpha=1 - decay)
        history["step"].append(step)
        history["loss"].append(loss_value)
        for k, v in cache["terms"].items():
            history.setdefault(k, []).append(v)
        if metrics and (step % metrics_every == 0 or step == iters):
            for name, fn in metrics.items():
                history.setdefault(name, []).append(fn(x))
                history.setdefault(f"{name}_step", []).append(step)
                if avg is not None:
                    history.setdefault(f"{name}_avg", []).append(fn(avg))
        if snapshot_every and step % snapshot_every == 0:
            snapshots.append((step, (avg if avg is not None else x).cpu().clone()))
        if callback is not None:
            callback(step, x)
        if stopping is not None:
            stopped = stopping.update(step, x, avg, cache["terms"].get("data", loss_value), cache["terms"])
        if progress and step % 10 == 0:
            post = {"loss": f"{loss_value:.4g}"}
            for name in metrics:
                if history.get(name):
                    post[name] = f"{history[name][-1]:.2f}"
            bar.set_postfix(post, refresh=False)
        bar.update(1)
        if ckpt_path is not None and (step % checkpoint_every == 0 or step == iters or stopped):
            save_checkpoint(step)
    bar.close()
    seconds = elapsed + time.perf_counter() - t0
    if x is None:
        x = param().detach()
    image = avg if avg is not None else x
    stop_info = None
    if stopping is not None:
        stop_info = stopping.describe()
        sel = stopping.selected()
        if sel is not None:
            image = sel[1]
        if stopping.stopped_at is None:
            stop_info["note"] = "the budget ran out before the rule fired; returned the rule's best step so far"
    device = params[0].device
    return SolveResult(output=x, averaged=avg, image=image, history=history, steps=step, seconds=seconds,
                       peak_memory_mb=peak_memory_mb(device), stop=stop_info, snapshots=snapshots)
