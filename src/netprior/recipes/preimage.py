"""Natural pre-images: reconstruct an image from its representation Φ_l(x0) at one layer of a frozen classifier
(Mahendran & Vedaldi, CVPR 2015 / IJCV 2016; Ulyanov's thesis §7.3.4, Fig. 7.9).

    x* = argmin_x  ||Φ_l(x) − Φ_l(x0)||² / ||Φ_l(x0)||²  +  λ_TV R_TV^β(x)  +  λ_α R_α(x)          (prior "tv")
    θ* = argmin_θ  ||Φ_l(f_θ(z)) − Φ_l(x0)||² / ||Φ_l(x0)||²,   x* = f_θ*(z)                       (prior "dip")

The data term is normalised by ||Φ_l(x0)||² (M&V), so it starts near 1 at every layer; its square root is the
*relative feature error* ||Φ(x) − Φ(x0)|| / ||Φ(x0)|| reported everywhere.

The decisions behind the defaults and the measurements that chose them: ``docs/methods/preimage.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import torch

from .. import nets, record
from ..backbones import Backbone
from ..backbones.strides import check_image_size
from ..distributed import resolve_device
from ..evaluation.distance import relative_feature_error
from ..errors import InputError
from ..losses import total_variation
from ..metrics import psnr, ssim
from ..objective import Encoder, Objective
from ..parametrize import CroppedDeepPrior, Pixels, make_input
from ..record import PreImageGrid, Run
from ..seeding import generator, initialising
from ..settings.preimage import (DIP_INPUT_DEPTH, DIP_NETS, INIT_NOISE_STD, NEIGHBOUR_DIFF_V, PIXEL_NORM_BOUND, PRESETS,
                                PRIORS, Regularisers)
from ..solve import solve
from ..terms import TV, FeatureMatch, PixelRange


def feature_targets(backbone: Backbone, x0: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """Φ_l(x0) for every layer in one forward pass; unknown or repeated layer names raise with the valid list."""
    targets = backbone.targets(x0, layers)
    check_image_size(backbone, x0, layers)
    return targets


def preimage_objective(backbone: Backbone, layer: str, target: torch.Tensor, reg: Regularisers | None) -> Objective:
    """E(x) = ||Φ_l(x) − Φ_l(x0)||² / ||Φ_l(x0)||² + λ_TV R_TV^β(x) + λ_α R_α(x) (terms data / tv / alpha)."""
    terms = {"data": (1.0, FeatureMatch(Encoder(backbone, backbone=backbone), {layer: target}, distance="relative"))}
    if reg is not None:
        terms["tv"] = (reg.tv_weight, TV("power", beta=reg.tv_beta, scale=NEIGHBOUR_DIFF_V))
        terms["alpha"] = (reg.alpha_weight, PixelRange(backbone.mean, PIXEL_NORM_BOUND, reg.alpha))
    return Objective(terms)


def dip_parametrization(size: tuple[int, int], dip_net: str, generator: torch.Generator) -> CroppedDeepPrior:
    """The skip network ``DIP_NETS[dip_net]`` (initialised from the global RNG, see
    :func:`netprior.seeding.initialising`) on a 32-channel U(0, 0.1) code z drawn from ``generator`` on the padded
    grid, its output cropped to ``size``."""
    spec = DIP_NETS[dip_net]
    cell = 2 ** len(spec["channels_down"])
    padded = tuple(max(2, math.ceil(s / cell)) * cell for s in size)
    z = make_input("noise", DIP_INPUT_DEPTH, padded, generator=generator)
    return CroppedDeepPrior(nets.build("skip", DIP_INPUT_DEPTH, 3, **spec), z, size)


def invert(x0: torch.Tensor, backbone: Backbone, layer: str, *, prior: str = "tv", iters: int | None = None,
           lr: float | None = None, regularisers: Regularisers | None = None, dip_net: str | None = None,
           seed: int = 0, device: str = "cpu", checkpoint: str | None = None, snapshot_every: int = 0,
           progress: bool = True, target: torch.Tensor | None = None) -> Run:
    """Natural pre-image of ``x0`` (1, 3, H, W) in [0, 1] at tap ``layer`` of ``backbone`` with prior ``tv`` (pixels
    + M&V regularisers) or ``dip`` (Deep Image Prior), from the prior's preset (:data:`PRESETS`) with ``iters``,
    ``lr``, ``dip_net`` overriding it.  ``regularisers`` applies to ``tv`` only (default :class:`Regularisers`;
    weights 0 give unregularised pixels).  ``target`` passes a precomputed Φ_l(x0)."""
    if prior not in PRIORS:
        raise InputError(f"unknown prior {prior!r}; use one of {', '.join(PRIORS)}")
    settings = PRESETS[prior].override(iters=iters, lr=lr, dip_net=dip_net)
    if x0.dim() != 4 or x0.shape[:2] != (1, 3):
        raise InputError(f"expected one RGB image (1, 3, H, W), got {tuple(x0.shape)}")
    dev = resolve_device(device)
    backbone = backbone.to(dev)
    x0 = x0.to(dev)
    if target is None:
        target = feature_targets(backbone, x0, [layer])[layer]
    target = target.to(dev)
    gen = generator(seed)
    size = tuple(x0.shape[-2:])
    if prior == "tv":
        reg = regularisers or Regularisers()
        init = backbone.mean.view(1, 3, 1, 1).cpu() + INIT_NOISE_STD * torch.randn((1, 3, *size), generator=gen)
        param = Pixels(init)
    else:
        reg = None
        with initialising(seed):
            param = dip_parametrization(size, settings.dip_net, gen)
    param = param.to(dev)
    objective = preimage_objective(backbone, layer, target, reg)
    result = solve(param, objective, iters=settings.iters, lr=settings.lr, seed=seed, checkpoint=checkpoint,
                   snapshot_every=snapshot_every, progress=progress, desc=f"pre-image/{prior}/{layer}")
    image = result.output.clamp(0, 1)
    result.image = image
    rel = relative_feature_error(backbone, image, {layer: target})[layer]
    metrics = {"relative_feature_error": rel, "psnr": psnr(image, x0), "ssim": ssim(image, x0),
               "total_variation": float(total_variation(image, beta=1.0))}
    extra = {"regularisers": {**asdict(reg), "B_plus": PIXEL_NORM_BOUND, "V": NEIGHBOUR_DIFF_V,
                              "init_noise_std": INIT_NOISE_STD}} if reg is not None else \
        {"dip_net": {"name": settings.dip_net, **DIP_NETS[settings.dip_net], "input_depth": DIP_INPUT_DEPTH}}
    config = record.config("natural-pre-image", param, objective, prior=prior, backbone=backbone.name,
                           weights=backbone.weights, weights_file=backbone.weights_file, layer=layer,
                           target_shape=list(target.shape), iters=settings.iters, lr=settings.lr, optimizer="adam",
                           seed=seed, device=str(dev), image_shape=list(x0.shape), **extra)
    return Run(image=image.cpu(), config=config, metrics=metrics, results={"pre-image": result})


def invert_layers(x0: torch.Tensor, backbone: Backbone, layers: list[str], *, priors: tuple[str, ...] = PRIORS,
                  checkpoint: str | None = None, device: str = "cpu", **kw) -> PreImageGrid:
    """Pre-images of ``x0`` at each of ``layers`` (each layer inverted on its own) under each prior; the targets are
    computed in one forward pass, which also rejects unknown or repeated layer names.  With ``checkpoint`` each run
    uses ``<checkpoint>.<prior>.<layer>``."""
    bad = [p for p in priors if p not in PRIORS]
    if bad or not priors:
        raise InputError(f"unknown prior(s) {', '.join(bad) or '(none)'}; use {', '.join(PRIORS)}")
    targets = feature_targets(backbone.to(device), x0.to(device), list(layers))
    grid = PreImageGrid(original=x0.cpu(), layers=list(layers), priors=list(priors))
    for p in priors:
        grid.runs[p] = {}
        for l in layers:
            ck = f"{checkpoint}.{p}.{l}" if checkpoint else None
            grid.runs[p][l] = invert(x0, backbone, l, prior=p, target=targets[l], checkpoint=ck, device=device,
                                     **kw)
    return grid
