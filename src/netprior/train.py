"""Loop 2: training networks on a collection of images (loop 1, :mod:`netprior.solve`, fits one image).

    for t = 1 … T:                                         (an iteration)
        for each player p (in order) with (t − 1) mod p.every = 0, p.steps times:
            θ_p ← optimiser step on ∇_θp  Σ_micro [ L_p(step, x_micro) + w_p·k_p·R_p(step, x_micro) ] / A
        θ̄_p ← β θ̄_p + (1 − β) θ_p   after each step of a player with an EMA copy (β warms up, see _update_ema)

A *player* is one network with its optimiser and its loss L_p (a GAN has a discriminator and a generator; AGE an
encoder and a generator updated 1:2).  While a player steps, the other players' parameters are frozen
(``requires_grad=False``) but their networks can be called.  Each optimiser step sums A micro-batches (gradient
accumulation; each loss is divided by A); R_p is an optional penalty hook (R1, WGAN-GP…) evaluated every k_p-th
step of the player and weighted w_p·k_p ("lazy regularisation", Karras et al. 2020); ``lr_schedule(t)`` multiplies
the learning rate.  On CUDA the losses run under ``torch.autocast`` (float16) with one ``GradScaler`` per player
(``amp``); penalties are computed in float32; on the CPU mixed precision is off.

Randomness is a function of (seed, iteration, process), not of history: at each iteration the global RNG is
reseeded from them, the data order and augmentations are seeded by (seed, epoch, index) (:mod:`netprior.data`) and
``step.noise`` draws the noise of the optimiser step's *global* batch from (seed, iteration, player, step) and gives
each process and micro-batch its slice.  So a run resumed from a checkpoint continues exactly as an uninterrupted
one; a run on W processes (``torchrun``; each player's network wrapped in ``DistributedDataParallel``, which
averages the gradients) computes the same steps as a one-process run with the same global batch, and accumulating
A micro-batches the same step as one A × larger batch, up to floating-point summation order — for networks without
batch norm.  Batch norm sees the images of its own forward call: on CUDA, DDP runs turn it into ``SyncBatchNorm``
(statistics of all processes' shares); on the CPU (gloo) DDP refuses SyncBatchNorm and each process normalises
with its own share, as each micro-batch does with accumulation.

Rank 0 alone writes: a JSONL log (one line per ``log_every`` iterations: losses averaged over the iterations and
processes, learning rates, seconds, images), sample grids, evaluation results (``evaluate``, e.g. FID), and the
checkpoint — a :mod:`~netprior.statefile` (safetensors + JSON) with every network, optimiser, grad scaler, EMA copy,
the data-stream position, history and snapshots — written every ``checkpoint_every`` iterations and at the end, and
resumed from when it exists (with a larger ``iters`` a finished run trains on).  While rank 0 samples or evaluates,
the other processes wait at their next collective operation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from . import distributed
from .data.loader import BatchStream
from .errors import InputError
from .solve import _split, peak_memory_mb
from .statefile import load_state, save_state

CHECKPOINT_KIND, CHECKPOINT_VERSION = "training-checkpoint", 1

LossFn = Callable[["Step", "Tensor | None"], "Tensor | tuple[Tensor, dict[str, float]]"]


@dataclass
class Player:
    """One network, its optimiser and its loss ``loss(step, real) -> loss | (loss, {term: value})``.

    ``real`` is this process' micro-batch of training images (None when ``uses_data`` is False).  ``steps``
    optimiser steps per iteration, taken in iterations t with (t − 1) mod ``every`` = 0.  ``optimizer`` builds
    the optimiser from the parameters (default Adam(lr, betas)).  ``penalty(step, real)`` is added with weight
    ``penalty_weight × penalty_every`` every ``penalty_every``-th step.  ``ema`` keeps an exponential moving
    average copy of the network with that decay.  ``clip_grad`` clips the global gradient norm."""

    name: str
    net: nn.Module
    loss: LossFn
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer] | None = None
    steps: int = 1
    every: int = 1
    lr_schedule: Callable[[int], float] | None = None
    penalty: LossFn | None = None
    penalty_weight: float = 0.0
    penalty_every: int = 1
    uses_data: bool = True
    ema: float | None = None
    clip_grad: float | None = None


@dataclass
class Step:
    """What a loss sees: the iteration, the active player, the networks, and noise consistent across processes.

    ``net(name)`` is the network to call: the active player's goes through its DDP wrapper (so its gradients are
    averaged over processes), the others are the plain modules (frozen during this step).  Penalty hooks should
    call ``module(name)`` (the plain module: DDP does not support the double backward of gradient penalties)."""

    iteration: int
    player: str
    local_batch: int
    device: torch.device
    _nets: dict[str, nn.Module]
    _wrapped: dict[str, nn.Module]
    _noise_seed: tuple[int, ...]
    _offset: int  # where this process' micro-batch starts in the optimiser step's global batch
    _total: int   # the global batch of one optimiser step
    _calls: int = 0

    def net(self, name: str) -> nn.Module:
        return self._wrapped[name] if name == self.player else self._nets[name]

    def module(self, name: str) -> nn.Module:
        return self._nets[name]

    def noise(self, *shape: int, kind: str = "normal") -> Tensor:
        """(local_batch, *shape) noise (``normal`` or ``uniform``): this process' and micro-batch's slice of the
        noise of the optimiser step's whole global batch, which depends only on (seed, iteration, player, step,
        call number) — so neither the number of processes nor gradient accumulation changes the noise used."""
        g = torch.Generator().manual_seed(_seed(*self._noise_seed, self._calls))
        self._calls += 1
        draw = torch.randn if kind == "normal" else torch.rand
        full = draw((self._total, *shape), generator=g)
        return full[self._offset:self._offset + self.local_batch].to(self.device)


@dataclass
class TrainResult:
    """The trained networks (``nets``; ``ema`` holds the averaged copies), the logged history (``iteration``,
    ``<player>/<term>``, ``eval_iteration``, ``eval/<name>``), snapshots (iteration, samples) and the cost: wall
    seconds (summed over resumed runs), real images drawn by all processes, peak memory of this process."""

    nets: dict[str, nn.Module]
    ema: dict[str, nn.Module]
    history: dict[str, list[float]]
    iterations: int
    seconds: float
    images: int
    peak_memory_mb: float
    world: int
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        last = {k: v[-1] for k, v in self.history.items() if v and k != "iteration"}
        return {"iterations": self.iterations, "seconds": round(self.seconds, 3), "images": self.images,
                "images_per_second": round(self.images_per_second, 2), "processes": self.world,
                "peak_memory_mb": round(self.peak_memory_mb, 1), "final": last}


def _seed(*parts: int) -> int:
    return int.from_bytes(hashlib.sha1(repr(parts).encode()).digest()[:8], "big") >> 1


def _fingerprint(players: list[Player], opts: list[torch.optim.Optimizer], batch: int, accum: int, world: int) -> str:
    text = [f"batch={batch} accum={accum} world={world}"]
    for p, o in zip(players, opts):
        shapes = ";".join(f"{k}:{tuple(v.shape)}" for k, v in p.net.state_dict().items())
        text.append(f"{p.name}|{type(p.net).__name__}|{type(o).__name__}|{p.steps}/{p.every}|{shapes}")
    return hashlib.sha1("\n".join(text).encode()).hexdigest()[:16]


@contextmanager
def _eval_mode(models: dict[str, nn.Module]):
    """The networks in eval mode without gradients, restored to their previous mode afterwards."""
    modes = {n: m.training for n, m in models.items()}
    try:
        with torch.no_grad():
            yield {n: m.eval() for n, m in models.items()}
    finally:
        for n, m in models.items():
            m.train(modes[n])


@torch.no_grad()
def _update_ema(avg: nn.Module, net: nn.Module, decay: float, updates: int) -> None:
    """θ̄ ← β_n θ̄ + (1 − β_n) θ with β_n = min(β, (1 + n)/(10 + n)) at the n-th update (the warm-up of
    TensorFlow's ExponentialMovingAverage, so that early averages are not dominated by the initial weights);
    buffers (batch-norm statistics) are copied."""
    beta = min(decay, (1 + updates) / (10 + updates))
    for a, p in zip(avg.parameters(), net.parameters()):
        a.lerp_(p.detach(), 1.0 - beta)
    for a, b in zip(avg.buffers(), net.buffers()):
        a.copy_(b)


def train(players: list[Player], data, *, iters: int, batch: int, accum: int = 1, seed: int = 0,
          device: str = "auto", workers: int = 0, amp: bool = True,
          sample: Callable[[dict[str, nn.Module]], Tensor] | None = None, sample_every: int = 0,
          evaluate: Callable[[int, dict[str, nn.Module]], dict[str, float]] | None = None, eval_every: int = 0,
          checkpoint: str | Path | None = None, checkpoint_every: int = 500, log: str | Path | None = None,
          log_every: int = 10, progress: bool = True, desc: str = "training") -> TrainResult:
    """Train ``players`` on the images of ``data`` (a Dataset of (C, H, W) tensors indexed by (epoch, i), such as
    :class:`~netprior.data.ImageFolder`) for ``iters`` iterations; see the module docstring.

    ``batch`` is the global batch of one optimiser step: ``accum`` micro-batches per step, each split over the
    processes (it must divide evenly).  ``sample(models)`` (rank 0, every ``sample_every`` iterations and at the
    end, no grad, networks in eval mode, EMA copies in place of their players) returns images kept as snapshots;
    ``evaluate(iteration, models)`` returns numbers stored in the history as ``eval/<name>``.
    """
    if iters < 1:
        raise InputError(f"the iteration budget must be >= 1, got {iters}")
    if not players or len({p.name for p in players}) != len(players):
        raise InputError("train needs at least one player and distinct player names")
    procs = distributed.setup(device)
    try:
        return _train(players, data, procs, iters=iters, batch=batch, accum=accum, seed=seed, workers=workers,
                      amp=amp, sample=sample, sample_every=sample_every, evaluate=evaluate, eval_every=eval_every,
                      checkpoint=checkpoint, checkpoint_every=checkpoint_every, log=log, log_every=log_every,
                      progress=progress, desc=desc)
    finally:
        distributed.teardown(procs)


def _train(players, data, procs, *, iters, batch, accum, seed, workers, amp, sample, sample_every, evaluate,
           eval_every, checkpoint, checkpoint_every, log, log_every, progress, desc) -> TrainResult:
    dev, world = procs.device, procs.world
    if accum < 1 or batch % (accum * world):
        raise InputError(f"--batch {batch} must be a multiple of --accum ({accum}) × processes ({world})")
    local = batch // (accum * world)
    stream = BatchStream(data, local, rank=procs.rank, world=world, seed=seed, workers=workers,
                         pin_memory=dev.type == "cuda")
    use_amp = amp and dev.type == "cuda"
    nets: dict[str, nn.Module] = {}
    wrapped: dict[str, nn.Module] = {}
    for p in players:
        net = p.net.to(dev)
        if world > 1:
            if dev.type == "cuda":  # DDP accepts SyncBatchNorm on GPU modules only
                net = p.net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            wrapped[p.name] = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
        else:
            wrapped[p.name] = net
        nets[p.name] = net
    opts = [(p.optimizer or (lambda ps, p=p: torch.optim.Adam(ps, lr=p.lr, betas=p.betas)))(
        list(p.net.parameters())) for p in players]
    for o in opts:
        for g in o.param_groups:
            g.setdefault("initial_lr", g["lr"])
    scalers = [torch.amp.GradScaler("cuda", enabled=use_amp) for _ in players]
    ema = {p.name: copy.deepcopy(p.net).eval().requires_grad_(False) for p in players if p.ema is not None}
    history: dict[str, list[float]] = {"iteration": []}
    snapshots: list[tuple[int, Tensor]] = []
    start, elapsed = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint else None
    fp = _fingerprint(players, opts, batch, accum, world)

    if ckpt is not None and ckpt.exists():
        state = load_state(ckpt, kind=CHECKPOINT_KIND, version=CHECKPOINT_VERSION, what="training checkpoint")
        if not isinstance(state, dict) or state.get("fingerprint") != fp:
            raise InputError(f"{ckpt}: the checkpoint belongs to other networks, optimisers, batch or number of "
                             "processes; delete it or choose another --checkpoint path")
        for p, o, s in zip(players, opts, scalers):
            p.net.load_state_dict(state["players"][p.name]["net"])
            o.load_state_dict(state["players"][p.name]["optimizer"])
            s.load_state_dict(state["players"][p.name]["scaler"])
        for name, avg in ema.items():
            avg.load_state_dict(state["ema"][name])
        start, elapsed, history, snapshots = state["iteration"], state["seconds"], state["history"], state["snapshots"]
        stream.seek(state["stream_position"])

    def models() -> dict[str, nn.Module]:
        return {name: ema.get(name, net) for name, net in nets.items()}

    def save_checkpoint(iteration: int) -> None:
        if procs.main:
            save_state(ckpt, {
                "fingerprint": fp, "iteration": iteration, "seconds": elapsed + time.perf_counter() - t0,
                "stream_position": stream.position, "history": history, "snapshots": snapshots,
                "players": {p.name: {"net": p.net.state_dict(), "optimizer": o.state_dict(), "scaler": s.state_dict()}
                            for p, o, s in zip(players, opts, scalers)},
                "ema": {name: avg.state_dict() for name, avg in ema.items()}}, kind=CHECKPOINT_KIND,
                version=CHECKPOINT_VERSION)
        distributed.barrier(procs)

    log_path = Path(log) if log else None
    if procs.main and log_path is not None:
        kept = []
        if start and log_path.exists():  # drop lines written after the checkpoint we resume from
            kept = [ln for ln in log_path.read_text().splitlines() if ln and json.loads(ln)["iteration"] <= start]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(ln + "\n" for ln in kept))

    from tqdm.auto import tqdm

    bar = tqdm(total=iters, initial=start, desc=desc, disable=not (progress and procs.main), leave=False,
               dynamic_ncols=True)
    t0 = time.perf_counter()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for it in range(start + 1, iters + 1):
        torch.manual_seed(_seed(seed, it, procs.rank))
        for pi, (p, opt, scaler) in enumerate(zip(players, opts, scalers)):
            if (it - 1) % p.every:
                continue
            for other in players:
                other.net.requires_grad_(other is p)
            scale = p.lr_schedule(it) if p.lr_schedule else 1.0
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * scale
            for s in range(p.steps):
                opt.zero_grad(set_to_none=True)
                count = ((it - 1) // p.every) * p.steps + s
                lazy = p.penalty is not None and count % p.penalty_every == 0
                for micro in range(accum):
                    real = next(stream).to(dev, non_blocking=True) if p.uses_data else None
                    step = Step(it, p.name, local, dev, nets, wrapped, (seed, it, pi, s),
                                (micro * world + procs.rank) * local, batch)
                    sync = micro == accum - 1 or world == 1
                    with nullcontext() if sync else wrapped[p.name].no_sync():
                        with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
                            loss, terms = _split(p.loss(step, real))
                        total = loss.float()
                        if lazy:
                            pen = p.penalty(step, real)
                            terms["penalty"] = float(pen.detach())
                            total = total + p.penalty_weight * p.penalty_every * pen
                        scaler.scale(total / accum).backward()
                    terms["loss"] = float(loss.detach())
                    for k, v in terms.items():
                        key = f"{p.name}/{k}"
                        sums[key] = sums.get(key, 0.0) + v
                        counts[key] = counts.get(key, 0) + 1
                if p.clip_grad is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(p.net.parameters(), p.clip_grad)
                scaler.step(opt)
                scaler.update()
                if p.name in ema:
                    _update_ema(ema[p.name], p.net, p.ema, count)
        for other in players:
            other.net.requires_grad_(True)
        if it % log_every == 0 or it == iters:
            values = distributed.mean_over_processes({k: v / counts[k] for k, v in sums.items()}, procs)
            sums, counts = {}, {}
            history["iteration"].append(it)
            for k, v in values.items():
                history.setdefault(k, []).append(v)
            if procs.main:
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items() if k.endswith("/loss")}, refresh=False)
                if log_path is not None:
                    line = {"iteration": it, "seconds": round(elapsed + time.perf_counter() - t0, 3),
                            "images": stream.position * local * world, **values,
                            **{f"{p.name}/lr": opt.param_groups[0]["lr"] for p, opt in zip(players, opts)}}
                    with open(log_path, "a") as f:
                        f.write(json.dumps(line) + "\n")
        if procs.main and sample is not None and ((sample_every and it % sample_every == 0) or it == iters):
            with _eval_mode(models()) as ms:
                snapshots.append((it, sample(ms).detach().float().cpu().clamp(0, 1)))
        if procs.main and evaluate is not None and ((eval_every and it % eval_every == 0) or it == iters):
            history.setdefault("eval_iteration", []).append(it)
            with _eval_mode(models()) as ms:
                for k, v in evaluate(it, ms).items():
                    history.setdefault(f"eval/{k}", []).append(float(v))
        bar.update(1)
        if ckpt is not None and (it % checkpoint_every == 0 or it == iters):
            save_checkpoint(it)
    bar.close()
    seconds = elapsed + time.perf_counter() - t0
    return TrainResult(nets=nets, ema=ema, history=history, iterations=max(start, iters), seconds=seconds,
                       images=stream.position * local * world, peak_memory_mb=peak_memory_mb(dev), world=world,
                       snapshots=snapshots)
