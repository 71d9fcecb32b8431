"""DCGAN (Radford et al. 2016) trained with loop 2 — the reference that the trained systems compare against.

Two players, the discriminator D first, then the generator G, each ``d_steps`` / ``g_steps`` Adam steps
(lr 2·10⁻⁴, β = (0.5, 0.999), §4) per iteration:

    L_D = E softplus(−D(x)) + E softplus(D(G(z)))      (+ γ/2 · R1 on real images when ``r1`` = γ > 0)
    L_G = E softplus(−D(G(z)))                          (non-saturating), z ~ N(0, I_nz)

with an exponential moving average of G's weights (``ema``) used for samples and evaluation.  Networks:
:mod:`netprior.nets.dcgan`.  The trained generator is saved as a :mod:`~netprior.statefile` ("dcgan-generator":
architecture options, EMA weights, training config).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from ..errors import InputError
from ..losses import gan_discriminator_loss, gan_generator_loss, r1_penalty
from ..nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ..record import Run
from ..seeding import generator, initialising
from ..settings.dcgan import PRESETS, DCGANConfig
from ..train import Player, Step, train


def discriminator_loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
    with torch.no_grad():
        fake = step.net("G")(step.noise(step.module("G").nz))
    d = step.net("D")
    real_logits, fake_logits = d(real), d(fake)
    return gan_discriminator_loss(real_logits, fake_logits), {
        "real_prob": float(torch.sigmoid(real_logits.detach()).mean()),
        "fake_prob": float(torch.sigmoid(fake_logits.detach()).mean())}


def generator_loss(step: Step, real: Tensor | None) -> Tensor:
    g = step.net("G")
    return gan_generator_loss(step.net("D")(g(step.noise(step.module("G").nz))))


def r1(step: Step, real: Tensor) -> Tensor:
    return 0.5 * r1_penalty(step.module("D"), real)


def players(cfg: DCGANConfig) -> list[Player]:
    """D and G with their losses, their weights drawn after seeding with ``cfg.seed``."""
    with initialising(cfg.seed):
        g = DCGANGenerator(cfg.size, cfg.nz, cfg.width, cfg.channels, cfg.norm)
        d = DCGANDiscriminator(cfg.size, cfg.width, cfg.channels, cfg.norm)
    return [Player("D", d, discriminator_loss, lr=cfg.lr, betas=cfg.betas, steps=cfg.d_steps,
                   penalty=r1 if cfg.r1 > 0 else None, penalty_weight=cfg.r1, penalty_every=cfg.r1_every),
            Player("G", g, generator_loss, lr=cfg.lr, betas=cfg.betas, steps=cfg.g_steps, uses_data=False,
                   ema=cfg.ema)]


def fixed_codes(nz: int, count: int, seed: int = 0) -> Tensor:
    return torch.randn(count, nz, generator=generator(seed))


@torch.no_grad()
def generate(g: DCGANGenerator, count: int, *, seed: int = 0, batch: int = 64) -> Tensor:
    """``count`` samples G(z) with z drawn from ``seed``, in eval mode (BN running statistics)."""
    training = g.training
    g.eval()
    dev = next(g.parameters()).device
    z = fixed_codes(g.nz, count, seed)
    out = torch.cat([g(z[i:i + batch].to(dev)).cpu() for i in range(0, count, batch)])
    g.train(training)
    return out


def train_dcgan(data, cfg: DCGANConfig | None = None, *, device: str = "auto", workers: int = 0,
                checkpoint: str | Path | None = None, log: str | Path | None = None, progress: bool = True,
                sample_every: int = 0, grid: int = 64,
                evaluate: Callable[[int, dict], dict[str, float]] | None = None, eval_every: int = 0) -> Run:
    """Train a DCGAN on ``data`` (an :class:`~netprior.data.ImageFolder` of ``cfg.size`` crops).  Snapshots are
    grids of ``grid`` samples from fixed codes; ``evaluate(iteration, {"G": …, "D": …})`` e.g. computes FID.
    The run's image is the last snapshot (None without ``sample_every``), ``outputs["generator"]`` the trained
    generator (the EMA copy when ``ema`` is set), ``result`` the training loop's record."""
    cfg = cfg or PRESETS["dcgan"]
    sample_size = data[0].shape
    if tuple(sample_size) != (cfg.channels, cfg.size, cfg.size):
        raise InputError(f"the data gives {tuple(sample_size)} images, the DCGAN is built for "
                         f"{(cfg.channels, cfg.size, cfg.size)}")
    ps = players(cfg)
    z = fixed_codes(cfg.nz, grid, cfg.seed)
    result = train(ps, data, iters=cfg.iters, batch=cfg.batch, accum=cfg.accum, seed=cfg.seed, device=device,
                   workers=workers, sample=lambda m: m["G"](z.to(next(m["G"].parameters()).device)),
                   sample_every=sample_every, evaluate=evaluate, eval_every=eval_every, checkpoint=checkpoint,
                   log=log, progress=progress, desc="dcgan")
    g = result.ema.get("G", result.nets["G"])
    config = {"method": "dcgan", **asdict(cfg), "data": data.describe() if hasattr(data, "describe") else None,
              "generator_is_ema": "G" in result.ema}
    image = result.snapshots[-1][1] if result.snapshots else None
    return Run(image=image, config=config, results={"train": result}, outputs={"generator": g})


