"""Unpaired image translation A → B with perceptual discriminators (thesis ch. 5) on loop 2.

Generators G_ab (and G_ba with ``cycle``) are :class:`~netprior.nets.translation.TranslationGenerator`; the
discriminators D_b (and D_a) are :class:`~netprior.nets.perceptual.PerceptualDiscriminator` with a frozen
pretrained trunk (``lite0``, ``vgg16-hed``, ``vgg*``) or the plain learned trunk (``patch``).  With ``tap_scale``
each discriminator's frozen taps are divided by their std on the first ``CALIBRATION_IMAGES`` real images of its
domain, fixed before training (:meth:`~netprior.nets.perceptual.FrozenTaps.calibrate`).  Two phases:

1. pre-training (§5.3.3.3, "we pretrain generator as autoencoder"): ``pretrain_iters`` steps of
   E|G(x) − x| on images of both domains, each generator on both;
2. adversarial training, per iteration one G step then one D step (Adam 2·10⁻⁴, β = (0.5, 0.999)):

    L_G = Σ_dom adv_G(D_dom(fake_dom)) + λ_cyc (|G_ba(G_ab(a)) − a| + |G_ab(G_ba(b)) − b|)
          + λ_id (|G_ab(b) − b| + |G_ba(a) − a|)                          (identity loss, eq. 5.7; cycle: CycleGAN)
    L_D = Σ_dom adv_D(D_dom(real_dom), D_dom(fake_dom))

   with, for every output o of the multi-scale discriminator (eq. 5.6: log D sums the log-probabilities of the
   main and the patch outputs; per output the locations are averaged, a decision so that the 32² map does not
   outweigh the image-level output by 1024 : 1), LSGAN (CycleGAN's choice, the default) adv_D = E(o_real − 1)² +
   E o_fake², adv_G = E(o_fake − 1)², or the non-saturating loss adv_D = E softplus(−o_real) + E softplus(o_fake),
   adv_G = E softplus(−o_fake).  Without ``cycle`` only G_ab and D_b are trained (identity loss only: the thesis'
   VGG-GAN).  CycleGAN's pool of past fakes is not used.

The trained generator(s) are a :mod:`~netprior.statefile` of kind "translation-model".  Runs are one process
(the players are ``ModuleDict``s of two networks, which ``DistributedDataParallel`` does not wrap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from ..nets.perceptual import PerceptualDiscriminator
from ..nets.translation import TranslationGenerator
from ..statefile import load_state, save_state
from ..settings.translate import TranslateConfig
from ..train import Player, Step, TrainResult, train

MODEL_KIND, MODEL_VERSION = "translation-model", 1
CALIBRATION_IMAGES = 64


@dataclass
class TranslateRun:
    generators: nn.ModuleDict      # "ab" (and "ba")
    result: TrainResult
    pretrain: TrainResult | None
    config: dict


def adversarial_losses(kind: str, real: list[Tensor] | None, fake: list[Tensor]) -> Tensor:
    """The discriminator's loss (``real`` given) or the generator's (``real`` None) summed over the outputs of a
    multi-scale discriminator, each output averaged over its locations (see the module docstring)."""
    total = fake[0].new_zeros(())
    for i, f in enumerate(fake):
        if kind == "lsgan":
            total = total + ((f - 1) ** 2).mean() if real is None else total + ((real[i] - 1) ** 2).mean() + \
                (f ** 2).mean()
        else:
            total = total + F.softplus(-f).mean() if real is None else total + F.softplus(-real[i]).mean() + \
                F.softplus(f).mean()
    return total


def _generator(cfg: TranslateConfig) -> TranslationGenerator:
    return TranslationGenerator(cfg.g_width, 2, cfg.g_blocks, input_skip=cfg.g_input_skip)


def build_networks(cfg: TranslateConfig) -> tuple[nn.ModuleDict, nn.ModuleDict]:
    """(generators, discriminators) keyed by direction "ab"/"ba" and domain "b"/"a" (the second of each only with
    ``cycle``), from the global torch RNG."""
    dirs = ("ab", "ba") if cfg.cycle else ("ab",)
    gens = nn.ModuleDict({d: _generator(cfg) for d in dirs})
    discs = nn.ModuleDict({d[1]: PerceptualDiscriminator(cfg.disc, width=cfg.d_width, multiscale=cfg.multiscale)
                           for d in dirs})
    return gens, discs


def _split(real: Tensor) -> dict[str, Tensor]:
    return {"a": real[:, 0], "b": real[:, 1]}


def players(cfg: TranslateConfig, calibration: Tensor | None = None) -> tuple[list[Player], list[Player]]:
    """(pre-training players, adversarial players), built with the global RNG seeded by ``cfg.seed``; with
    ``cfg.tap_scale`` the discriminators' taps are calibrated on ``calibration`` ((N, 2, 3, H, W) real (a, b))."""
    torch.manual_seed(cfg.seed)
    gens, discs = build_networks(cfg)
    if cfg.tap_scale and calibration is not None:
        for dom, real in _split(calibration).items():
            if dom in discs:
                discs[dom].calibrate(real)
    source = {"ab": "a", "ba": "b"}

    def autoencoder_loss(step: Step, real: Tensor) -> Tensor:
        x, g = _split(real), step.net("G")
        return sum((g[d](x[dom]) - x[dom]).abs().mean() for d in g for dom in ("a", "b"))

    def generator_loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
        x, g, ds = _split(real), step.net("G"), step.net("D")
        fake = {d: g[d](x[source[d]]) for d in g}
        adv = sum(adversarial_losses(cfg.gan_loss, None, ds[d[1]](fake[d])) for d in g)
        ident = sum((g[d](x[d[1]]) - x[d[1]]).abs().mean() for d in g)
        terms = {"adv": float(adv.detach()), "identity": float(ident.detach())}
        loss = adv + cfg.identity_weight * ident
        if cfg.cycle:
            cyc = (g["ba"](fake["ab"]) - x["a"]).abs().mean() + (g["ab"](fake["ba"]) - x["b"]).abs().mean()
            terms["cycle"] = float(cyc.detach())
            loss = loss + cfg.cycle_weight * cyc
        return loss, terms

    def discriminator_loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
        x, g, ds = _split(real), step.net("G"), step.net("D")
        with torch.no_grad():
            fake = {d: g[d](x[source[d]]) for d in g}
        losses = {d[1]: adversarial_losses(cfg.gan_loss, ds[d[1]](x[d[1]]), ds[d[1]](fake[d])) for d in g}
        return sum(losses.values()), {f"D_{k}": float(v.detach()) for k, v in losses.items()}

    kw = dict(lr=cfg.lr, betas=cfg.betas)
    return ([Player("G", gens, autoencoder_loss, **kw)],
            [Player("G", gens, generator_loss, **kw), Player("D", discs, discriminator_loss, **kw)])


def _phase_path(checkpoint: str | Path | None, phase: str) -> Path | None:
    if checkpoint is None:
        return None
    p = Path(checkpoint)
    return p.with_name(f"{p.stem}.{phase}{p.suffix}")


def train_translation(data, cfg: TranslateConfig | None = None, *, device: str = "auto", workers: int = 0,
                      checkpoint: str | Path | None = None, log: str | Path | None = None, progress: bool = True,
                      sample_every: int = 0, preview: Tensor | None = None,
                      evaluate: Callable[[int, dict], dict[str, float]] | None = None,
                      eval_every: int = 0) -> TranslateRun:
    """Pre-train, then train adversarially, on ``data`` (a :class:`~netprior.data.unpaired.Unpaired` of two
    ``cfg.size`` collections).  Snapshots: [a, G_ab(a)] pairs of the ``preview`` images (default: 8 of A).
    ``checkpoint`` (if given) is used for the adversarial phase, ``<stem>.pretrain<suffix>`` for the first."""
    cfg = cfg or TranslateConfig()
    shape = tuple(data[0].shape)
    if shape != (2, 3, cfg.size, cfg.size):
        raise InputError(f"the data gives {shape} pairs, the translation is built for (2, 3, {cfg.size}, {cfg.size})")
    pre, adv = players(cfg, torch.stack([data[(0, i)] for i in range(min(CALIBRATION_IMAGES, len(data)))]))
    a = preview if preview is not None else torch.stack([data[(0, i)][0] for i in range(min(8, len(data)))])

    def snapshot(models):
        g = models["G"]["ab"]
        return torch.stack([a, g(a.to(next(g.parameters()).device)).cpu()], 1).flatten(0, 1)

    pre_result = None
    if cfg.pretrain_iters > 0:
        pre_result = train(pre, data, iters=cfg.pretrain_iters, batch=cfg.batch, seed=cfg.seed, device=device, workers=workers,
                           checkpoint=_phase_path(checkpoint, "pretrain"), progress=progress,
                           desc="translate: pre-train G as autoencoder", log=_phase_path(log, "pretrain"))
    result = train(adv, data, iters=cfg.iters, batch=cfg.batch, seed=cfg.seed + 1, device=device, workers=workers,
                   sample=snapshot, sample_every=sample_every, evaluate=evaluate, eval_every=eval_every,
                   checkpoint=checkpoint, log=log, progress=progress, desc=f"translate ({cfg.disc})")
    config = {"method": "translate", **asdict(cfg), "data": data.describe() if hasattr(data, "describe") else None}
    return TranslateRun(generators=result.nets["G"], result=result, pretrain=pre_result, config=config)


def save_model(gens: nn.ModuleDict, cfg: TranslateConfig, path: str | Path, *, training: dict | None = None) -> Path:
    """Write the generator(s) with the config, atomically."""
    return save_state(path, {"config": asdict(cfg), "generators": {d: {k: v.cpu() for k, v in g.state_dict().items()}
                                                                   for d, g in gens.items()},
                             "training": training or {}}, kind=MODEL_KIND, version=MODEL_VERSION)


def load_model(path: str | Path, device: str = "cpu") -> tuple[nn.ModuleDict, TranslateConfig]:
    """(generators, config) from a file written by :func:`save_model` (other files: one-line error)."""
    state = load_state(path, kind=MODEL_KIND, version=MODEL_VERSION, what="translation model file")
    try:
        # files written before the input skip lack the key and hold the plain generator
        cfg = TranslateConfig(**{"g_input_skip": False, **state["config"], "betas": tuple(state["config"]["betas"])})
        gens = nn.ModuleDict({d: _generator(cfg) for d in state["generators"]})
        for d, g in gens.items():
            g.load_state_dict(state["generators"][d])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged translation model file ({str(exc).splitlines()[0][:200]})") from None
    return gens.to(device).eval(), cfg


@torch.no_grad()
def translate(g: TranslationGenerator, images: Tensor, batch: int = 32) -> Tensor:
    """G(x) of (N, 3, H, W) images in [0, 1] (H, W multiples of ``g.multiple``), in eval mode, on G's device."""
    dev = next(g.parameters()).device
    return torch.cat([g(images[i:i + batch].to(dev)).cpu() for i in range(0, len(images), batch)])
