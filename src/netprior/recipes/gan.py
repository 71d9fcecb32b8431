"""GAN inversion and its applications, with a frozen pretrained generator as the image prior.

Reconstruction loss for an observation y = A(x) through a degradation operator A (identity, mask, grayscale,
downsampling), per target image:

    L(x̂) = (1/n)||A(x̂) − y||² + λ_feat · d(φ(A(x̂)), φ(y))

with φ the taps of a frozen backbone (Lite0 offline; Inception-v3 ``Mixed_7a`` or VGG-16 ``conv4_3`` when their
weights are available) and d the mean squared feature distance (Pividori et al., L_mse-feat, §4.1) or the mean
absolute one (mGANprior, thesis eq. 4.6).  Single-channel observations are replicated to RGB for φ.  For the mask
operator A(x̂) = x̂ ⊙ m, which is the inpainting loss L(x̂ ∘ m, y ∘ m) of thesis eq. 4.7.

Methods (all optimised by :func:`netprior.solve.solve` with Adam):

1. ``latent``:   z* = argmin_z L(G(z)) − λ₁ log P_z(z)   (= λ₁·½||z||² for N(0, I)), R random restarts, the best
   final objective kept per target (Pividori §3.3; Creswell & Bharath).
2. ``two-step``: then δ* = argmin_δ L(G2(G1(z*) + δ)) + λ₂||δ||₁ at the dense layer (or ``layer``), δ from 0;
   the representation is h* = G1(z*) + δ* (Pividori §3.3).
3. ``mgan``:     {z_n, α_n} = argmin L(G2(Σ_n G1(z_n) ⊙ α_n)), N codes (20), α_n = 1/N initially, composition
   layer ℓ; optionally an attention module (SAGAN dot / scaled-dot, CBAM) on the composed map, optimised jointly
   (Gu et al. 2020; Kostakis thesis §4.3, §5.3).  Initialisation ``init``: ``mixed`` (default) — K = ⌈N/2⌉
   codes around the latent solution, z_n = z* + σ·ε_n with α_n = 1/K (σ = 0.1, z* from the latent search above
   with the same loss), and N − K Gaussian codes with α_n = α₀ = 0.01, so the image starts near G(z*) while codes
   of other faces are at hand; ``latent`` — all N codes around z*, α_n = 1/N; ``random`` — N Gaussian codes,
   α_n = 1/N (the thesis').  Starting at z* is a choice of this library (issue 20, ``docs/methods/gan.md``):
   Gaussian codes lose to a single code on faces the generator makes (28 against 41 dB), codes all around z*
   stay in z*'s basin on real faces (below two-step); the mixed start is the only one above two-step on both
   (N = 20, 100 steps after a 200 × 2 latent search: five real crops 21.7 → 23.5 dB, two-step 22.4; four
   generated faces 49.1 → 48.8 dB, two-step 47.8, latent 40.7 — a fraction of a dB given up on them).

The decisions behind the defaults and the measurements that chose them: ``docs/methods/gan.md``.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Callable

import torch
from torch import Tensor

from .. import record, seeding
from ..backbones import cached_backbone
from ..errors import InputError
from ..generators.base import SplitGenerator
from ..io import tagged_path
from ..metrics import batch_quality
from ..objective import Encoder, Objective
from ..operators import Downsample, Grayscale, Identity, Mask, Operator, TargetMasks
from ..parametrize import LatentCode, LayerOffset, MultiCode
from ..record import Run
from ..seeding import initialising
from ..segmentation import segment_attention
from ..settings.gan import DISTANCES, FeatureLoss, InversionConfig, make_config
from ..solve import SolveResult, solve
from ..terms import DataTerm, FeatureMatch, ParamPenalty


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def reconstruction(y: Tensor, operator: Operator, feature: FeatureLoss, device) -> dict:
    """The per-target terms of L(x̂) = mean (A(x̂) − y)² + λ_feat·d(φ(A(x̂)), φ(y)) (module docstring): "data" and,
    with λ_feat > 0, "feat"; ``y`` is (B, C, h, w)."""
    y, op = y.to(device), operator.to(device)
    terms = {"data": (1.0, DataTerm(op, y, per_sample=True))}
    if feature.weight > 0:
        bb = cached_backbone(feature.backbone, str(device))
        targets = bb.targets(_rgb(y), feature.layers)
        encoder = Encoder(bb, transform=_Degraded(op), backbone=bb)
        terms["feat"] = (feature.weight, FeatureMatch(encoder, targets, distance=DISTANCES[feature.distance],
                                                      per_sample=True))
    return terms


class _Degraded(torch.nn.Module):
    """The feature network's view: A(x̂), single channels replicated to RGB."""

    def __init__(self, op: Operator):
        super().__init__()
        self.op = op

    def forward(self, x: Tensor) -> Tensor:
        return _rgb(self.op(x))


def _solve_kw(progress: bool, checkpoint: str | None, phase: str, seed: int, callback=None) -> dict:
    return {"progress": progress, "checkpoint": tagged_path(checkpoint, phase), "seed": seed,
            "desc": f"gan/{phase}", "callback": callback}


def _phase(callback, phase: str):
    """The solver callback (step, x) that reports ``phase`` to an inversion callback (phase, step, x)."""
    return None if callback is None else (lambda step, x: callback(phase, step, x))


def _latent(y: Tensor, operator: Operator, g: SplitGenerator, cfg: InversionConfig, seed: int, progress: bool,
            checkpoint: str | None, callback=None) -> tuple[Tensor, Tensor, SolveResult]:
    """Latent inversion with restarts in one batch: returns (z* (B, dim), final loss (B,), solver record)."""
    b, r = y.shape[0], cfg.restarts
    z0 = g.prior.sample(b * r, seeding.generator(seed)).to(g.device)
    param = LatentCode(g, z0)
    objective = Objective({**reconstruction(y.repeat(r, 1, 1, 1), operator, cfg.feature, g.device),
                           "prior": (cfg.lambda_prior, ParamPenalty.latent_prior(param))})
    result = solve(param, objective, iters=cfg.iters, lr=cfg.lr,
                   **_solve_kw(progress, checkpoint, "latent", seed, callback))
    x = param().detach()
    final = objective.per_sample(x, only=("data", "feat"))
    best = objective.per_sample(x).view(r, b).argmin(dim=0)
    idx = best * b + torch.arange(b, device=best.device)
    return param.z.detach()[idx], final[idx], result


def _multi_code_init(y: Tensor, operator: Operator, g: SplitGenerator, cfg: InversionConfig, seed: int,
                     progress: bool, checkpoint: str | None, results: dict[str, SolveResult]
                     ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor] | None]:
    """mgan's initial codes (B, N, dim), their starting importances (B, N) (None: 1/N) and, for the starts at the
    latent solution, (z*, its loss L per target) (module docstring).

    ``random``: N Gaussian codes per target (the thesis' initialisation).  ``latent``: z_n = z* + σ·ε_n with z* the
    latent inversion (``init_iters`` steps at ``init_lr``, ``restarts``, λ₁, the same loss) and σ =
    ``init_spread``, so that with α_n = 1/N the composition starts at ≈ G1(z*) and the image at ≈ G(z*); the
    spread breaks the symmetry between the codes (identical codes get identical gradients).  ``mixed``: K = ⌈N/2⌉
    such codes with α_n = 1/K and N − K Gaussian codes with α_n = ``init_alpha``."""
    b, n = y.shape[0], cfg.codes
    gen = seeding.generator(seed)
    if cfg.init == "random":
        return g.prior.sample(b * n, gen).view(b, n, -1).to(g.device), None, None
    z, loss_z, results["latent"] = _latent(y, operator, g, replace(cfg, iters=cfg.init_iters, lr=cfg.init_lr),
                                           seed, progress, checkpoint)
    k = n if cfg.init == "latent" else n - n // 2
    # drawn target after target, so that a target's codes do not depend on the others in the batch
    draws = [(torch.randn(k, z.shape[-1], generator=gen), g.prior.sample(n - k, gen)) for _ in range(b)]
    eps = torch.stack([e for e, _ in draws]).to(g.device)
    gaussian = torch.stack([c for _, c in draws]).to(g.device)
    codes = torch.cat([z[:, None, :] + cfg.init_spread * eps, gaussian], dim=1)
    weights = torch.cat([torch.full((b, k), 1.0 / k), torch.full((b, n - k), cfg.init_alpha)], dim=1)
    return codes, weights, (z, loss_z)


def invert(y: Tensor, generator: SplitGenerator, config: InversionConfig | None = None, *,
           operator: Operator | None = None, seed: int = 0, progress: bool = True,
           checkpoint: str | None = None, reference: Tensor | None = None,
           callback: Callable[[str, int, Tensor], None] | None = None, task: str = "invert",
           notes: dict | None = None) -> Run:
    """Invert ``generator`` on observations ``y`` (B, C, h, w) in [0, 1] seen through ``operator`` (identity by
    default) with the method and settings of ``config`` (default: latent).  ``reference`` (B, 3, H, W) adds
    PSNR/SSIM of the reconstruction (mean over targets).  ``callback(phase, step, x_t)`` is called after every
    solver step of every phase (latent, offset, mgan); an exception raised in it ends the inversion there.
    ``task`` and ``notes`` go into the run's config.  The run's outputs: ``method``, ``z`` (codes (B, dim) or
    (B, N, dim)), ``layer``/``h``/``ctx`` (the representation that produces the image through G2: latent h =
    G1(z*), two-step h* = G1(z*) + δ*, mgan the composed map), ``loss`` (final L per target, no regulariser) and,
    for two-step and the mgan starts at z*, ``latent_image``/``latent_loss``."""
    cfg = config or make_config("latent")
    op = operator or Identity()
    g = generator
    dev = g.device
    y = y.to(dev)
    results: dict[str, SolveResult] = {}
    latent_image = latent_loss = None
    if cfg.method in ("latent", "two-step"):
        z, loss_z, results["latent"] = _latent(y, op, g, cfg, seed, progress, checkpoint, _phase(callback, "latent"))
        with torch.no_grad():
            ctx = g.condition(z)
        layer = g.check_layer(cfg.layer if cfg.method == "two-step" else None)
        if cfg.method == "latent":
            with torch.no_grad():
                h, image = g.g1(z, layer), g(z)
            loss = loss_z
        else:
            param = LayerOffset(g, layer, z)
            objective = Objective({**reconstruction(y, op, cfg.feature, dev),
                                   "l1_offset": (cfg.lambda_offset, ParamPenalty.offset_l1(param))})
            results["offset"] = solve(param, objective, iters=cfg.offset_iters, lr=cfg.offset_lr,
                                      **_solve_kw(progress, checkpoint, "offset", seed, _phase(callback, "offset")))
            with torch.no_grad():
                image = param()
                loss = objective.per_sample(image, only=("data", "feat"))
                latent_image = g(z)
            h, latent_loss = param.h, loss_z
    else:
        layer = g.check_layer(cfg.layer or g.composition_layer)
        z0, weights, start = _multi_code_init(y, op, g, cfg, seed, progress, checkpoint, results)
        if start is not None:
            with torch.no_grad():
                latent_image, latent_loss = g(start[0]), start[1]
        with initialising(seed):  # attention modules' initial weights
            param = MultiCode(g, layer, z0, cfg.attention, weights).to(dev)
        objective = Objective(reconstruction(y, op, cfg.feature, dev))
        results["mgan"] = solve(param, objective, iters=cfg.iters, lr=cfg.lr,
                                **_solve_kw(progress, checkpoint, "mgan", seed, _phase(callback, "mgan")))
        with torch.no_grad():
            image = param()
            loss = objective.per_sample(image)
            h = param.compose()
            ctx = g.condition(param.z.mean(dim=1))
        z = param.z.detach()
    settings = {**asdict(cfg), "layer": layer}
    config = record.config(settings.pop("method"), op, task=task, **settings, seed=seed,
                           generator=g.describe(), observation_shape=list(y.shape), **(notes or {}))
    inv = Run(image=image.detach(), config=config, results=results,
              outputs={"method": cfg.method, "z": z, "layer": layer, "h": h.detach(),
                       "ctx": None if ctx is None else ctx.detach(), "loss": loss.detach(),
                       "latent_image": latent_image, "latent_loss": latent_loss})
    inv.metrics = {"loss": float(loss.mean())}
    if latent_loss is not None:
        inv.metrics["latent_loss"] = float(latent_loss.mean())
    if reference is not None:
        inv.metrics.update(batch_quality(inv.image, reference))
    return inv


def restore(y: Tensor, operator: Operator, generator: SplitGenerator, config: InversionConfig, *, task: str,
            reference: Tensor | None = None, **kw) -> Run:
    """Invert through a degradation (inpainting, colourisation, super-resolution): the reconstruction G(·) is
    the restored image.  ``reference`` adds PSNR/SSIM against the clean image."""
    return invert(y, generator, config, operator=operator, reference=reference, task=task, **kw)


def inpaint(y: Tensor, mask: Tensor, generator: SplitGenerator, config: InversionConfig, **kw) -> Run:
    """Inpainting with loss L(x̂ ∘ m, y ∘ m) (thesis eq. 4.7); m = 1 on known pixels, one mask (1, 1, H, W) for
    all targets or one per target (B, 1, H, W).  The output is the generator's reconstruction everywhere (no
    pasting of known pixels, as in the thesis' evaluation)."""
    if tuple(mask.shape[-2:]) != tuple(y.shape[-2:]):
        raise InputError(f"mask is {mask.shape[-1]}x{mask.shape[-2]} but the image is {y.shape[-1]}x{y.shape[-2]}")
    op = TargetMasks(mask) if mask.dim() == 4 and mask.shape[0] > 1 else Mask(mask)
    return restore(y * op.mask, op, generator, config, task="inpaint", **kw)


def colorize(gray: Tensor, generator: SplitGenerator, config: InversionConfig, **kw) -> Run:
    """Colourisation: A = luma (ITU-R 601), ``gray`` (B, 1, H, W); the output is the RGB reconstruction."""
    if gray.shape[1] != 1:
        raise InputError("colorize takes a single-channel (grayscale) observation")
    return restore(gray, Grayscale(), generator, config, task="colorize", **kw)


def super_resolve(y: Tensor, factor: int, generator: SplitGenerator, config: InversionConfig, *,
                  kernel: str = "lanczos2", **kw) -> Run:
    """×factor super-resolution: A = Lanczos downsampling by ``factor``; y must be the generator size / factor."""
    th, tw = generator.image_size
    if (y.shape[-2] * factor, y.shape[-1] * factor) != (th, tw):
        raise InputError(f"a x{factor} input for this generator must be {tw // factor}x{th // factor}, got "
                         f"{y.shape[-1]}x{y.shape[-2]}")
    return restore(y, Downsample(factor, kernel), generator, config, task="super-resolve", **kw)


def segment(x: Tensor, generator: SplitGenerator, k: int, config: InversionConfig | None = None, **kw) -> Run:
    """Pividori §5: invert ``x`` (1, 3, H, W) to the dense layer (two-step), read the self-attention map of
    G2 at h*, and cluster D = (1 − (A + Aᵀ)/2) ⊙ (1 − I) with average linkage into ``k`` segments.  The
    inversion's run, with the label map (H_a, W_a) at the attention resolution and the attention as outputs
    ``labels`` and ``attention``."""
    if generator.attention_stage is None:
        raise InputError(f"generator {generator.name} has no self-attention layer; segmentation needs a generator "
                         "with attention (biggan)")
    cfg = config or make_config("two-step")
    if cfg.method == "mgan":
        raise InputError("segmentation inverts with the latent or two-step method")
    inv = invert(x[:1], generator, cfg, task="segment", notes={"clusters": k}, **kw)
    with torch.no_grad():
        att = generator.attention_map(inv.h, inv.layer, inv.ctx)
    inv.outputs.update(labels=segment_attention(att.weights[0], att.query_hw, att.key_hw, k),
                       attention=att.weights[0])
    return inv
