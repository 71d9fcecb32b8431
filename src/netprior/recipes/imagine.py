"""IMAGINE: image synthesis by image-guided inversion of a pretrained classifier (Wang, Li, Singh, Lu, Vasconcelos,
CVPR 2021), its controls, and the image-guided DeepInversion baseline of the paper.

From one target image x0, a variation x̂ is optimised over its pixels from a random start (eq. 9):

    x* = argmin_x̂  CE(f(x̂), y*) + R_img(x̂) + λ·R_dm(x̂; x0, Φ) + γ·R_pc(x̂)

* y* = argmax_y f_y(x0) unless given.
* R_img = α·TV(x̂) + β·||x̂||  (eq. 2, α = 1e-4, β = 1e-5, "following [42]").
* R_dm = Σ_{l∈Φ} ||μ_l(x̂) − μ_l(x0)||₂ + ||σ_l(x̂) − σ_l(x0)||₂ (eq. 5, :func:`netprior.losses.distribution_matching`),
  λ = 5.
* R_pc = −E_p d(p) (eqs. 6–8): a patch critic d (:class:`netprior.nets.discriminator.PatchDiscriminator`) trained
  with WGAN-GP between the patches of x0 and of x̂, one critic update per step of x̂, inside the objective.
* Two stages: stage 1 with γ = 0 (warm-up), stage 2 with γ = 10; 2000 steps each; Adam, lr 0.2 for x̂, 5e-4 for d;
  224×224 images.

Controls: position (eq. 10, ν·||Grad-CAM(x̂, y*) − a0|| with a Gaussian blob a0), shape (eq. 11, a clipart for the
deepest layer, the target for the shallow ones), style (eq. 12, a style image on the shallow layers, starting from the
content image, critic fed the style image) and counterfactual explanation (eq. 13).  Baseline: DeepInversion
(Yin et al. 2020) made image-guided as in the paper, CE + R_img + BN-statistics prior (eq. 3) + 5·R_dm, no critic.

x̂ is optimised in the target's colour axes and a 1/f Fourier basis from 1/f noise (``parametrization="spectral"``,
:class:`~netprior.parametrize.SpectralPixels`; Olah et al. 2017) or, as in DeepInversion's code, as pixels of the
classifier's normalised input space from N(0, 1) noise (``"pixels"``).

The decisions behind the defaults and the measurements that chose them: ``docs/methods/imagine.md``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import record
from ..backbones import Backbone, load_backbone
from ..distributed import resolve_device
from ..errors import InputError
from ..evaluation.distance import evaluate
from ..inputs import fit_square, gaussian_blob, region_mask
from ..io import tagged_path
from ..nets.discriminator import PatchDiscriminator
from ..objective import Encoder, FillOutside, Jitter, Objective
from ..parametrize import NormalizedPixels, SpectralPixels, colour_basis, spectral_noise
from ..record import Run
from ..schedules import cosine_per_stage
from ..seeding import generator, initialising
from ..settings.imagine import CAM_LAYERS, LAYERS, PRESETS, Settings
from ..solve import solve
from ..terms import (
    TV,
    Anchor,
    BNStats,
    ClassTarget,
    Critic,
    DistMatch,
    GradCamPosition,
    ImageNorm,
)

# ----------------------------------------------------------------------------------------------- inputs


def resolve_layers(backbone: Backbone, settings: Settings, *, need_cam: bool = False) -> tuple[tuple[str, ...], str]:
    """Φ and the Grad-CAM layer for ``backbone``: the settings' when given, else the per-backbone defaults (the CAM
    layer may stay None unless ``need_cam``)."""
    layers = settings.layers or LAYERS.get(backbone.name)
    cam = settings.cam_layer or CAM_LAYERS.get(backbone.name)
    if layers is None or (need_cam and cam is None):
        raise InputError(f"no default IMAGINE layers for backbone {backbone.name!r}; pass them explicitly "
                         f"(layers, e.g. --layers A,B,C,D, and --cam-layer) from: {', '.join(backbone.layer_names)}")
    missing = [name for name in (*layers, cam) if name is not None and name not in backbone.layer_names]
    if missing:
        raise InputError(f"backbone {backbone.name!r} has no layer(s) {', '.join(missing)}; "
                         f"valid layers: {', '.join(backbone.layer_names)}")
    return tuple(layers), cam


def target_class(backbone: Backbone, x: Tensor, cls: int | None) -> int:
    """y*: ``cls`` if given (checked against the classifier's range), else argmax f(x)."""
    if cls is None:
        with torch.no_grad():
            return int(backbone.logits(x).argmax(1)[0])
    if not 0 <= cls < backbone.num_classes:
        raise InputError(f"class index {cls} is outside the classifier's range 0..{backbone.num_classes - 1}")
    return int(cls)


# ----------------------------------------------------------------------------------------------- the objective


def imagine_objective(bb: Backbone, cls: int, s: Settings, matches: list[tuple[str, dict, Tensor | None]], *,
                      real: Tensor | None = None, position: tuple[str, Tensor] | None = None,
                      anchor: tuple[Tensor, Tensor] | None = None, bn: bool = False) -> Objective:
    """Eq. 9 and its controls as named terms: ce, tv, l2 (R_img on the normalised image), one R_dm per
    ``matches`` entry (name, {layer: target features}, region or None: eq. 13's masked features), bn
    (DeepInversion's prior, with ``bn``), position ((layer, blob), eq. 10), anchor ((query, keep), eq. 13) and pc, the
    patch critic from step ``iters_warmup`` + 1 on (when ``real`` is given and there are two stages).  The
    classifier sees x̂ jittered by ``s.jitter`` pixels; the critic, Grad-CAM and the masked features do not."""
    main = Encoder(bb, transform=Jitter(s.jitter) if s.jitter > 0 else None, backbone=bb)
    main.request(sorted({layer for _, targets, region in matches if region is None for layer in targets}))
    terms = {"ce": (1.0, ClassTarget(main, cls)), "tv": (s.alpha_tv, TV("norm", transform=bb.normalize)),
             "l2": (s.beta_l2, ImageNorm(bb.normalize))}
    for name, targets, region in matches:
        enc = main if region is None else Encoder(bb, transform=FillOutside(bb.mean, region), backbone=bb)
        terms[name] = (s.lam_dm, DistMatch(enc, targets))
    if bn:
        terms["bn"] = (s.bn_weight, BNStats(main, first_weight=s.first_bn_weight))
    if position is not None:
        terms["position"] = (s.nu_position, GradCamPosition(bb, cls, *position))
    if anchor is not None:
        terms["anchor"] = (s.anchor_weight, Anchor(*anchor))
    if real is not None and s.stages == 2:
        terms["pc"] = (s.gamma_pc, Critic(PatchDiscriminator(), real, lr=s.critic_lr, gp_weight=s.gp_weight,
                                          steps=s.critic_steps, start=s.iters_warmup))
    return Objective(terms)


# ----------------------------------------------------------------------------------------------- running


def _pixels(x: Tensor, bb: Backbone, s: Settings, colours):
    """The optimised image, started at ``x`` (in [0, 1]): DeepInversion's pixels in the classifier's normalised
    space (``s.parametrization == "pixels"``) or x = μ + C·F⁻¹(s ⊙ Y) in ``colours``' axes and a 1/f Fourier basis
    (``"spectral"``, :class:`~netprior.parametrize.SpectralPixels`)."""
    if s.parametrization == "spectral":
        return SpectralPixels(x.cpu(), colours).to(x.device)
    return NormalizedPixels(bb.normalize(x), bb.mean, bb.std)


def random_start(bb: Backbone, s: Settings, colours, seed: int, device) -> Tensor:
    """x̂'s start (in [0, 1], at the start size): 1/f noise with the reference's colours and spread (spectral;
    ``init_std`` does not apply) or DeepInversion's N(0, init_std²) in the normalised space, clipped (pixels)."""
    side = s.start_size or s.size
    if s.parametrization == "spectral":
        return spectral_noise((side, side), colours, generator(seed)).to(device)
    with initialising(seed):
        p = s.init_std * torch.randn(1, 3, side, side)
    return (bb.mean.view(1, -1, 1, 1) + bb.std.view(1, -1, 1, 1) * p.to(device)).clamp(0, 1)


def _optimise(param, objective: Objective, s: Settings, lengths: list[int], **kw):
    param.project_()
    objective.to(next(param.parameters()).device)
    return solve(param, objective, iters=sum(lengths), lr=s.lr, optimizer="adam",
                 lr_schedule=cosine_per_stage(lengths, s.lr_warmup, s.schedule == "cosine"), **kw)


def lowres_settings(s: Settings) -> Settings:
    """The settings of the multi-resolution start: warm-up objective only, ``iters_lowres`` steps at ``start_size``
    px, jitter scaled with the side (DeepInversion's jitter // 2 at half resolution)."""
    return replace(s, size=s.start_size, stages=1, iters_warmup=s.iters_lowres, lowres_factor=1,
                   jitter=round(s.jitter * s.start_size / s.size))


def _resize(x: Tensor, size: int) -> Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _synthesize(method: str, bb: Backbone, build, cls: int, start: Tensor, s: Settings, *, seed: int,
                checkpoint: str | None, progress: bool, snapshot_every: int, desc: str, reference: Tensor,
                **config) -> Run:
    """Optimise x̂ from ``start`` (in [0, 1], any side) with :func:`netprior.solve.solve`, clipped to the valid
    range after every step; ``build(settings)`` makes the objective for ``settings.size``; x̂ is parametrized by
    :func:`_pixels` with the colour basis of ``reference``.

    With ``s.lowres_factor`` > 1 (the CPU-budget lever; DeepInversion's code runs its first 2000 of 3000 steps at half
    resolution): ``s.iters_lowres`` steps of the warm-up objective at ``start_size`` px from ``start`` resized, then
    x̂ is upsampled bilinearly to ``s.size`` and the stages continue from it."""
    results, lowres = {}, None
    colours = colour_basis(reference.cpu())
    if s.start_size is not None:
        lo = lowres_settings(s)
        with initialising(seed):
            low_objective = build(lo)
        param = _pixels(_resize(start, lo.size), bb, lo, colours)
        results["lowres"] = _optimise(param, low_objective, lo, [lo.iters_warmup], seed=seed, progress=progress,
                                      checkpoint=tagged_path(checkpoint, "lowres"),
                                      desc=f"{desc} at {lo.size} px", snapshot_every=snapshot_every)
        lowres = param().detach().clamp(0, 1)
        start = _resize(lowres, s.size).clamp(0, 1)
    with initialising(seed):
        objective = build(s)
    param = _pixels(start if start.shape[-1] == s.size else _resize(start, s.size), bb, s, colours)
    warm: dict = {"warmup": None, "warmup_seconds": None, "lowres": lowres}
    resumed = checkpoint is not None and Path(checkpoint).exists()
    t_start = time.perf_counter()

    def after_step(step: int, _x: Tensor) -> None:
        if s.stages == 2 and step == s.iters_warmup:
            warm["warmup"] = param().detach().clamp(0, 1)
            warm["warmup_seconds"] = None if resumed else time.perf_counter() - t_start

    lengths = [s.iters_warmup] + ([s.iters_adversarial] if s.stages == 2 else [])
    results[method] = _optimise(param, objective, s, lengths, seed=seed, checkpoint=checkpoint, progress=progress,
                                desc=desc, snapshot_every=snapshot_every, callback=after_step)
    image = param().detach().clamp(0, 1)
    metrics = evaluate(bb, image, cls, reference=reference)
    metrics["final"] = {k: v[-1] for k, v in results[method].history.items() if k not in ("step",) and v}
    if "lowres" in results:
        metrics["lowres"] = results["lowres"].summary()
    cfg = record.config(method, param, objective, settings=s, backbone=bb.name, backbone_weights=bb.weights,
                        layers=list(s.layers), cam_layer=s.cam_layer, seed=seed, target_class=cls,
                        device=str(bb.mean.device), **config)
    return Run(image=image, config=cfg, metrics=metrics, results=results, outputs=warm)


def _setup(backbone: str | Backbone, settings: Settings | None, device: str, need_cam: bool = False):
    s = settings or PRESETS["paper"]
    dev = resolve_device(device)
    bb = load_backbone(backbone, dev)
    layers, cam_layer = resolve_layers(bb, s, need_cam=need_cam)
    return replace(s, layers=tuple(layers), cam_layer=cam_layer), dev, bb, layers, cam_layer


def imagine(target: Tensor, *, backbone: str | Backbone = "lite0", settings: Settings | None = None, seed: int = 0,
            cls: int | None = None, position: tuple[float, float] | None = None, shape: Tensor | None = None,
            device: str = "cpu", checkpoint: str | None = None, progress: bool = True,
            snapshot_every: int = 0) -> Run:
    """One IMAGINE variation of ``target`` (1, 3, H, W) in [0, 1] (eq. 9); each ``seed`` gives another.

    ``position`` = (x, y) in output pixels adds the location term (eq. 10); ``shape``, a clipart/drawing, replaces
    the target on the deepest layer (eq. 11).  ``settings.stages = 1`` runs the warm-up stage only."""
    s, dev, bb, layers, cam_layer = _setup(backbone, settings, device, need_cam=position is not None)
    reference = fit_square(target, s.size).to(dev)
    y = target_class(bb, reference, cls)

    def build(st: Settings) -> Objective:
        x0 = fit_square(target, st.size).to(dev)
        t0 = bb.targets(x0, layers)
        if shape is None:
            matches = [("dm", t0, None)]
        else:
            tc = bb.targets(fit_square(shape, st.size).to(dev), layers[-1:])
            matches = [("dm", {k: t0[k] for k in layers[:-1]}, None), ("dm_shape", tc, None)]
        blob = _blob(position, st, s.size, dev)
        return imagine_objective(bb, y, st, matches, real=x0, position=None if blob is None else (cam_layer, blob))

    start = random_start(bb, s, colour_basis(reference.cpu()), seed, dev)
    return _synthesize("imagine", bb, build, y, start, s, seed=seed, checkpoint=checkpoint, progress=progress,
                       snapshot_every=snapshot_every, desc=f"imagine/seed {seed}",
                       reference=reference, control="shape" if shape is not None else "none",
                       position=list(position) if position else None,
                       blob_sigma_px=s.blob_sigma * s.size if position else None)


def _blob(position: tuple[float, float] | None, st: Settings, size: int, dev) -> Tensor | None:
    """a0 of eq. 10 at ``st.size`` for ``position`` given in pixels of the ``size`` output (None without one)."""
    if position is None:
        return None
    factor = st.size / size
    return gaussian_blob(st.size, (position[0] * factor, position[1] * factor), st.blob_sigma * st.size).to(dev)


def stylize(content: Tensor, style: Tensor, *, backbone: str | Backbone = "lite0", settings: Settings | None = None,
            seed: int = 0, cls: int | None = None, position: tuple[float, float] | None = None, device: str = "cpu",
            checkpoint: str | None = None, progress: bool = True, snapshot_every: int = 0) -> Run:
    """Style control (eq. 12): R_dm to ``style`` on the shallow layers only, starting from ``content``, with the
    critic fed the style image; y* is the content's class."""
    s, dev, bb, layers, cam_layer = _setup(backbone, settings, device, need_cam=position is not None)
    xc = fit_square(content, s.size).to(dev)
    y = target_class(bb, xc, cls)

    def build(st: Settings) -> Objective:
        xs = fit_square(style, st.size).to(dev)
        blob = _blob(position, st, s.size, dev)
        return imagine_objective(bb, y, st, [("dm", bb.targets(xs, layers[:-1]), None)], real=xs,
                                 position=None if blob is None else (cam_layer, blob))

    return _synthesize("imagine", bb, build, y, xc, s, seed=seed, checkpoint=checkpoint,
                       progress=progress, snapshot_every=snapshot_every, desc=f"imagine-style/seed {seed}",
                       reference=xc, control="style", position=list(position) if position else None)


def counterfactual(query: Tensor, other: Tensor, query_mask: Tensor, other_mask: Tensor, *,
                   backbone: str | Backbone = "lite0", settings: Settings | None = None, seed: int = 0,
                   cls: int | None = None, device: str = "cpu", checkpoint: str | None = None,
                   progress: bool = True, snapshot_every: int = 0) -> Run:
    """Counterfactual explanation (eq. 13): translate the query's region (``query_mask`` white) towards the region
    of the counterfactual image ``other`` (``other_mask`` white), keeping the rest of the query; y* = other's class.

    Masks are (…, H, W) in [0, 1] of the size of their image."""
    s, dev, bb, layers, cam_layer = _setup(backbone, settings, device)
    rq = region_mask(query_mask, query, s.size, "query mask").to(dev)
    ro = region_mask(other_mask, other, s.size, "counterfactual mask").to(dev)
    xq = fit_square(query, s.size).to(dev)
    xo = fit_square(other, s.size).to(dev)
    y = target_class(bb, xo, cls)
    query_class = target_class(bb, xq, None)
    targets = bb.targets(FillOutside(bb.mean, ro)(xo), layers)
    if s.start_size is not None:
        raise InputError("the multi-resolution start (lowres_factor) is not offered for counterfactuals, which edit "
                         "the query in place")
    r = _synthesize("imagine", bb, lambda st: imagine_objective(bb, y, st, [("dm_region", targets, rq)], real=xo,
                                                                anchor=(xq, 1 - rq)), y, xq, s, seed=seed, checkpoint=checkpoint,
                    progress=progress, snapshot_every=snapshot_every, desc=f"counterfactual/seed {seed}",
                    reference=xq, control="counterfactual", query_class=query_class,
                    region_share={"query": float(rq.mean()), "other": float(ro.mean())})
    with torch.no_grad():
        r.metrics["query_confidence_before"] = float(bb.logits(xq).softmax(1)[0, y])
        r.metrics["query_class_after"] = int(bb.logits(r.image).argmax(1)[0])
        r.metrics["change_outside_region"] = float(((r.image - xq).abs() * (1 - rq)).sum() / ((1 - rq).sum() * 3))
    return r


def deepinversion(target: Tensor, *, backbone: str | Backbone = "lite0", settings: Settings | None = None,
                  seed: int = 0, cls: int | None = None, device: str = "cpu", checkpoint: str | None = None,
                  progress: bool = True, snapshot_every: int = 0) -> Run:
    """The paper's image-guided DeepInversion baseline: CE + R_img + w_bn·R_feat (eq. 3) + λ·R_dm, no critic, for
    the budget of both IMAGINE stages in one cosine cycle."""
    s, dev, bb, layers, cam_layer = _setup(backbone, settings, device)
    s = replace(s, stages=1, iters_warmup=s.total_iters)
    x0 = fit_square(target, s.size).to(dev)
    y = target_class(bb, x0, cls)

    def build(st: Settings) -> Objective:
        x = fit_square(target, st.size).to(dev)
        return imagine_objective(bb, y, st, [("dm", bb.targets(x, layers), None)], bn=True)

    start = random_start(bb, s, colour_basis(x0.cpu()), seed, dev)
    return _synthesize("deepinversion", bb, build, y, start, s, seed=seed, checkpoint=checkpoint,
                       progress=progress, snapshot_every=snapshot_every, desc=f"deepinversion/seed {seed}",
                       reference=x0)
