"""Deep Image Prior restoration (Ulyanov, Vedaldi, Lempitsky, CVPR 2018; thesis ch. 7).

    θ* = argmin_θ ||A(f_θ(z)) − y||²,   x* = f_θ*(z)                                    (eqs. 7.2–7.6)

with A the degradation operator of the task (identity for denoising/JPEG, Lanczos downsampling d for
super-resolution, a mask m for inpainting).  Every task here is the same recipe — build the preset's network,
the input z, the operator and the data term, and hand them to :func:`netprior.solve.solve` — with a stopping rule
that needs no clean image (see :mod:`netprior.stopping`).

The decisions behind the defaults and the measurements that chose them: ``docs/methods/dip.md``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import nets, record
from ..distributed import resolve_device
from ..errors import InputError
from ..metrics import estimate_noise_sigma, estimate_noise_sigma_before_clipping, psnr, ssim
from ..objective import Objective
from ..operators import Downsample, GaussianNoise, Identity, Mask, Operator
from ..parametrize import DeepPrior, make_input
from ..record import Run
from ..seeding import initialising
from ..settings.dip import DEFAULT_DENOISE, Preset, get_preset
from ..solve import solve
from ..stopping import Discrepancy, StoppingRule, by_name
from ..terms import DataTerm, Sure

SURE_EPS = 1e-3  # finite-difference step of the Monte-Carlo divergence, on the [0, 1] intensity scale





def _output_size(net: nn.Module, z: torch.Tensor) -> tuple[int, int] | None:
    """The network's output (H, W) for input ``z``, or None when the input is too small for its depth (padding
    wider than the coarsest feature map, or batch norm over a single value)."""
    try:
        with torch.no_grad():
            return tuple(net(z).shape[-2:])
    except (RuntimeError, ValueError):
        return None


def _objective(preset: Preset, op: Operator, y: torch.Tensor, param: DeepPrior, sigma: float | None) -> Objective:
    """The preset's loss on the output x: the data term ||A(x) − y||²/N, or SURE (see :mod:`netprior.sure`) with
    the divergence of the network in its input z (= y for ``input="observation"``) at the known or estimated σ
    (no "data" term then: stopping rules watch the loss, the estimated error to the clean image)."""
    if preset.loss == "mse":
        return Objective({"data": (1.0, DataTerm(op, y))})
    if not isinstance(op, (GaussianNoise, Identity)) or not sigma:
        raise InputError(f"preset {preset.name!r} (SURE loss) is for Gaussian denoising at a known or estimated "
                         "noise level: use `restore denoise`")
    return Objective({"sure": (1.0, Sure(param, y, sigma, SURE_EPS))})


def preset_net(preset: Preset | str) -> tuple[nn.Module, int]:
    """The preset's freshly initialised RGB network and its input depth (3 for a guide image, else z's depth)."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    cin = 3 if preset.input in ("guide", "observation") else preset.input_depth
    return nets.build(preset.arch, cin, 3, **preset.net), cin


def min_side(preset: Preset | str, candidates: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)) -> int:
    """The smallest square side (a multiple of 32 from ``candidates``) that the preset's network accepts."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    net, cin = preset_net(preset)
    for side in candidates:
        if _output_size(net, torch.zeros(1, cin, side, side)) == (side, side):
            return side
    raise InputError(f"preset {preset.name!r} accepts none of the sizes {candidates}")


def make_prior(preset: Preset, size: tuple[int, int], *, seed: int, guide: torch.Tensor | None = None,
               observation: torch.Tensor | None = None, out_channels: int = 3) -> DeepPrior:
    """What a run with ``seed`` starts from: the input code z for an output of ``size`` (the ``guide`` image for
    ``input="guide"``, the ``observation`` y for ``input="observation"``), then the preset's freshly initialised
    network, both drawn after seeding with ``seed`` (:func:`netprior.seeding.initialising`), as a
    :class:`DeepPrior`."""
    if preset.input == "guide":
        if guide is None:
            raise InputError(f"preset {preset.name!r} takes a guide image as network input")
        z = guide
    elif preset.input == "observation":
        y = observation
        if y is None or tuple(y.shape[-2:]) != tuple(size) or y.shape[1] != out_channels:
            raise InputError(f"preset {preset.name!r} feeds the observation to the network, so it restores only "
                             "images of the observation's size and channels (denoising)")
        z = y
    with initialising(seed):
        if preset.input not in ("guide", "observation"):
            z = make_input(preset.input, preset.input_depth, size)
        net = nets.build(preset.arch, z.shape[1], out_channels, **preset.net)
    return DeepPrior(net, z, reg_noise_std=preset.reg_noise_std, optimize_input=preset.optimize_input)


def restore(y: torch.Tensor, operator: Operator, preset: Preset | str, *, out_size: tuple[int, int] | None = None,
            out_channels: int = 3, guide: torch.Tensor | None = None, iters: int | None = None,
            lr: float | None = None, reg_noise_std: float | None = None, seed: int = 0, device: str = "cpu",
            stopping: str | StoppingRule | None = "auto", sigma: float | None = None,
            reference: torch.Tensor | None = None, metrics_every: int = 10, snapshot_every: int = 0,
            checkpoint: str | None = None, progress: bool = True, compile: bool = False,
            callback: Callable[[int, torch.Tensor], None] | None = None, task: str = "restore",
            notes: dict | None = None) -> Run:
    """Solve min_θ ||A(f_θ(z)) − y||² for observation ``y`` (1, C, h, w) in [0, 1].

    ``out_size`` is the restored image's (H, W) (default: y's size); ``guide`` replaces z (flash/no-flash);
    ``sigma`` (on [0, 1]) feeds the discrepancy rule; ``reference`` adds PSNR/SSIM curves and final metrics.
    ``iters``, ``lr``, ``reg_noise_std`` override the preset; the preset's iteration count is the cap when a
    stopping rule is active.  ``compile`` runs the network through ``torch.compile`` (same parameters and
    checkpoints; measured on 2 CPU cores for the 5×128 skip net: 1.41× faster steps at 256², 1.55× at 512², none
    at 128², after 50–70 s of compilation that later runs of the same shapes reuse from the cache).
    ``callback(step, x_t)`` is the solver's per-step hook (live previews); an exception raised in it ends the run
    there, which is how the web app cancels a job.  ``task`` and ``notes`` go into the run's config."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    preset = preset.override(iters=iters, lr=lr, reg_noise_std=reg_noise_std)
    size = out_size or tuple(y.shape[-2:])
    dev = resolve_device(device)
    param = make_prior(preset, size, seed=seed, guide=guide, observation=y, out_channels=out_channels).to(dev)
    net = param.net
    produced = _output_size(net, param.z)
    if produced is None:
        raise InputError(f"preset {preset.name!r} ({preset.arch}) cannot run on a {size[1]}x{size[0]} image: its "
                         f"coarsest scale becomes too small; it needs at least {min_side(preset)} pixels on each "
                         "side (use a larger image or another --preset)")
    if produced != tuple(size):
        raise InputError(f"preset {preset.name!r} ({preset.arch}) turns a {size[1]}x{size[0]} input into "
                         f"{produced[1]}x{produced[0]}; crop the image to a multiple of 32 pixels")
    op = operator.to(dev)
    y = y.to(dev)
    if tuple(op(param.z.new_zeros(1, out_channels, *size)).shape[-2:]) != tuple(y.shape[-2:]):
        raise InputError(f"the observation is {y.shape[-1]}x{y.shape[-2]} but the operator maps the "
                         f"{size[1]}x{size[0]} output to another size")
    if compile:
        net.compile(dynamic=False)  # in place: parameter names and checkpoints stay those of the eager network;
        # static shapes: a second image size recompiles for that size instead of tracing a slower dynamic graph

    objective = _objective(preset, op, y, param, sigma)
    rule = (by_name(preset.stopping if stopping == "auto" else stopping, sigma) if isinstance(stopping, str)
            else stopping)
    if preset.loss == "sure" and isinstance(rule, Discrepancy):
        raise InputError("the discrepancy rule watches the data term, which the SURE loss does not drive to σ²; "
                         "use --stopping auto, risk, wmv or none")
    metrics = {}
    if reference is not None:
        ref = reference.to(dev)
        if tuple(ref.shape[-2:]) != tuple(size):
            raise InputError(f"reference is {ref.shape[-1]}x{ref.shape[-2]} but the output is {size[1]}x{size[0]}")
        metrics["psnr"] = lambda x: psnr(x, ref)
    result = solve(param, objective, iters=preset.iters, lr=preset.lr, ema=preset.ema, ema_warmup=preset.ema_warmup,
                   stopping=rule, metrics=metrics, metrics_every=metrics_every, snapshot_every=snapshot_every,
                   checkpoint=checkpoint, seed=seed, progress=progress, desc=f"dip/{preset.name}",
                   callback=callback)
    final = {}
    if reference is not None:
        final = {"psnr": psnr(result.image, reference), "ssim": ssim(result.image, reference),
                 "psnr_output": psnr(result.output, reference)}
        if "psnr_avg" in result.history:
            curve = result.history["psnr_avg"]
            best = int(np.argmax(curve))
            final["oracle_peak_psnr"] = curve[best]
            final["oracle_peak_step"] = result.history["psnr_step"][best]
    config = record.config("deep-image-prior", op, param, objective, task=task, preset=asdict(preset), seed=seed,
                           device=str(dev), compiled=compile, observation_shape=list(y.shape),
                           output_shape=[1, out_channels, *size],
                           noise_sigma255=None if sigma is None else round(sigma * 255, 3), **(notes or {}))
    return Run(image=result.image, config=config, metrics=final, results={"dip": result})


def estimated_sigma(y: torch.Tensor, preset: Preset | str) -> float:
    """The noise level (on [0, 1]) that ``denoise`` uses for ``preset`` when none is given: the σ of the Gaussian
    before clipping for the SURE presets, the spread of the noise as the image shows it for the others."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    return (estimate_noise_sigma_before_clipping if preset.loss == "sure" else estimate_noise_sigma)(y)


def denoise(y: torch.Tensor, *, sigma255: float | None = None, preset: Preset | str | None = None, **kw) -> Run:
    """Blind denoising.  The default preset ``denoise-sure`` minimises SURE at the noise level σ (given as
    ``sigma255``, else estimated from the image: the σ of the Gaussian before clipping,
    :func:`~netprior.metrics.estimate_noise_sigma_before_clipping`) and stops at the minimum of that risk
    estimate; the reference presets (``denoise``, ``denoise-sigma50``) fit ||x − y||² (eq. 7.4) and stop by the
    discrepancy rule when the fit reaches the spread of the noise as the image shows it (wavelet MAD,
    :func:`~netprior.metrics.estimate_noise_sigma`)."""
    preset = get_preset(preset or DEFAULT_DENOISE) if not isinstance(preset, Preset) else preset
    sigma = sigma255 / 255 if sigma255 is not None else estimated_sigma(y, preset)
    return restore(y, GaussianNoise(sigma * 255), preset, sigma=sigma, task="denoise",
                   notes={"sigma_source": "given" if sigma255 is not None else "estimated"}, **kw)


def deblock_jpeg(y: torch.Tensor, *, preset: str = "jpeg", **kw) -> Run:
    """Blind removal of JPEG artefacts (thesis Fig. 7.3): A = identity, stopped by ES-WMV."""
    kw.setdefault("stopping", "wmv")
    return restore(y, Identity(), preset, task="jpeg", **kw)


def super_resolve(y: torch.Tensor, factor: int, *, preset: str | None = None, kernel: str = "lanczos2",
                  **kw) -> Run:
    """×t super-resolution, E = ||d(x) − y||² with the Lanczos downsampler d (eq. 7.5); output is t× larger."""
    if factor not in (2, 3, 4, 8):
        raise InputError(f"super-resolution factor must be 2, 3, 4 or 8, got {factor}")
    kw.setdefault("stopping", "wmv")
    preset = preset or ("sr8" if factor == 8 else "sr4")
    size = (y.shape[-2] * factor, y.shape[-1] * factor)
    return restore(y, Downsample(factor, kernel), preset, out_size=size, task="super-resolve", **kw)


def inpaint(y: torch.Tensor, mask: torch.Tensor, *, preset: str = "inpaint", **kw) -> Run:
    """Inpainting, E = ||(x − y) ⊙ m||² (eq. 7.6); m = 1 on known pixels."""
    if tuple(mask.shape[-2:]) != tuple(y.shape[-2:]):
        raise InputError(f"mask is {mask.shape[-1]}x{mask.shape[-2]} but the image is {y.shape[-1]}x{y.shape[-2]}")
    kw.setdefault("stopping", "wmv")
    op = Mask(mask)
    return restore(y * op.mask, op, preset, task="inpaint", **kw)


def flash_no_flash(flash: torch.Tensor, noflash: torch.Tensor, *, preset: str = "flash", **kw) -> Run:
    """Flash/no-flash restoration (thesis §7.3.5): the flash image replaces z, the data term is the denoising
    term on the no-flash image."""
    if flash.shape != noflash.shape:
        raise InputError(f"flash image {tuple(flash.shape[-2:])} and no-flash image {tuple(noflash.shape[-2:])} "
                         "must have the same size")
    kw.setdefault("stopping", "wmv")
    return restore(noflash, Identity(), preset, guide=flash, task="flash-no-flash", **kw)


def fit(x: torch.Tensor, *, preset: str = "denoise", **kw) -> Run:
    """Plain reconstruction min_θ ||f_θ(z) − x||² (eq. 7.4) for the full budget (no stopping rule)."""
    kw.setdefault("stopping", "none")
    kw.setdefault("task", "fit")
    return restore(x, Identity(), preset, **kw)



