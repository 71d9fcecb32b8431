"""``netprior restore …``: Deep Image Prior restoration commands (thesis ch. 7).

Every command takes the :class:`DipRunOptions` group (steps, learning rate, seed, device, input guard, report,
checkpoint, progress, compile); the preset and the stopping rule are the command's own, since their defaults
differ per task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Compile, Device, Iters, Lr, Mask, MaxSide, Output, PresetOpt, Quiet, Reference, RunOptions, Seed,
                     Stopping, check_device, output_path, write_result)
from .groups import options

restore_app = typer.Typer(no_args_is_help=True, help="Restore an image with a Deep Image Prior (untrained network).")


@dataclass(frozen=True)
class DipRunOptions(RunOptions):
    """How a restoration runs: everything but the task, the preset and the stopping rule."""

    iters: Iters = None
    lr: Lr = None
    compile_net: Compile = False

    def kwargs(self, stopping: str, iters: int | None = None) -> dict:
        """Keyword arguments of :func:`netprior.recipes.dip.restore` (``iters`` is the command's default cap)."""
        return {"iters": self.iters or iters, "lr": self.lr, "seed": self.seed, "device": check_device(self.device),
                "stopping": stopping, "checkpoint": self.checkpoint_path,
                "progress": not self.quiet, "snapshot_every": 50 if self.report else 0, "compile": self.compile_net}


def _load(path: Path, max_side: int, scale: int = 1):
    """:func:`netprior.recipes.dip.load_observation`, with its crop notice on stderr."""
    from ..recipes.dip import load_observation

    x, note = load_observation(path, max_side, scale)
    if note:
        typer.echo(f"note: {note}", err=True)
    return x


def _reference(reference: Optional[Path], shape):
    """The clean image for PSNR/SSIM, cropped like the observation; refused when its size does not match."""
    if reference is None:
        return None
    from ..io import load_image
    from ..recipes.dip import crop_to_multiple

    ref = load_image(reference)
    if tuple(ref.shape[-2:]) != tuple(shape[-2:]):
        ref = crop_to_multiple(ref, 32)
    if tuple(ref.shape[-2:]) != tuple(shape[-2:]):
        raise InputError(f"--reference {reference}: {ref.shape[-1]}x{ref.shape[-2]} does not match the output "
                         f"size {shape[-1]}x{shape[-2]}")
    return ref


def _finish(r, out: Path, *, inputs: dict, report: bool, observation=None) -> None:
    from ..report import write_report

    title = f"{r.config.get('task')} — preset {r.config['preset']['name']}"
    write_result(r, out, inputs=inputs, summary=r.summary(),
                 report=(lambda p: write_report(p, r.result, title=title, observation=observation)) if report else None)


@restore_app.command("denoise")
@options(run=DipRunOptions)
def denoise_cmd(image: Path, output: Output = None,
                sigma: Annotated[Optional[float], typer.Option(help="Noise std on 0-255, if known (else "
                                                                    "estimated).")] = None,
                preset: PresetOpt = None, reference: Reference = None, stopping: Stopping = "auto", *,
                run: DipRunOptions):
    """Blind denoising (thesis §7.3.1), stopped by the preset's rule at the given or estimated noise level."""
    from ..recipes.dip import denoise

    out = output_path(output, image, "denoise", [image, reference])
    y = _load(image, run.max_side)
    r = denoise(y, sigma255=sigma, preset=preset, reference=_reference(reference, y.shape), **run.kwargs(stopping))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=run.report, observation=y)


@restore_app.command("jpeg")
@options(run=DipRunOptions)
def jpeg_cmd(image: Path, output: Output = None, preset: PresetOpt = "jpeg", reference: Reference = None,
             stopping: Stopping = "wmv", *, run: DipRunOptions):
    """Remove JPEG blocking and ringing from a compressed photo (thesis Fig. 7.3)."""
    from ..recipes.dip import deblock_jpeg

    out = output_path(output, image, "jpeg", [image, reference])
    y = _load(image, run.max_side)
    r = deblock_jpeg(y, preset=preset or "jpeg", reference=_reference(reference, y.shape), **run.kwargs(stopping))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=run.report, observation=y)


@restore_app.command("super-resolve")
@options(run=DipRunOptions)
def sr_cmd(image: Path, output: Output = None,
           factor: Annotated[int, typer.Option("--factor", "-f", help="Upscaling factor: 2, 3, 4 or 8.")] = 4,
           preset: PresetOpt = None, reference: Reference = None, stopping: Stopping = "wmv", *,
           run: DipRunOptions):
    """×factor super-resolution with the data term ||d(x) − x0||² (thesis §7.3.2); the output is factor× larger."""
    from ..io import check_size, load_image
    from ..recipes.dip import BYTES_PER_PIXEL, super_resolve

    out = output_path(output, image, f"x{factor}", [image, reference])
    y = load_image(image)
    check_size(y.shape[-2] * factor, y.shape[-1] * factor, run.max_side, what=f"{image} ×{factor}",
               bytes_per_pixel=BYTES_PER_PIXEL)
    ref = None
    if reference is not None:
        ref = load_image(reference)
        if tuple(ref.shape[-2:]) != (y.shape[-2] * factor, y.shape[-1] * factor):
            raise InputError(f"--reference {reference}: {ref.shape[-1]}x{ref.shape[-2]} is not {factor}x the input "
                             f"{y.shape[-1]}x{y.shape[-2]}")
    r = super_resolve(y, factor, preset=preset, reference=ref, **run.kwargs(stopping))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=run.report)


@restore_app.command("inpaint")
@options(run=DipRunOptions)
def inpaint_cmd(image: Path, output: Output = None, mask: Mask = None,
                drop: Annotated[Optional[float], typer.Option(help="Drop this share of pixels at random "
                                                                   "(Bernoulli mask) instead of --mask.")] = None,
                text: Annotated[Optional[str], typer.Option(help="Overlay this text as the missing region.")] = None,
                mask_threshold: Annotated[Optional[float], typer.Option(help="Binarise a grey mask at this "
                                                                             "level in (0, 1).")] = None,
                preset: PresetOpt = "inpaint", reference: Reference = None, stopping: Stopping = "wmv", *,
                run: DipRunOptions):
    """Fill missing pixels, E = ||(x − x0) ⊙ m||² (thesis §7.3.3).  Exactly one of --mask, --drop, --text."""
    import torch

    from ..io import load_image, load_mask, save_image
    from ..operators import Mask as MaskOp
    from ..recipes.dip import crop_to_multiple, inpaint

    if sum(v is not None for v in (mask, drop, text)) != 1:
        raise InputError("give exactly one of --mask FILE, --drop P or --text STRING")
    out = output_path(output, image, "inpaint", [image, mask, reference])
    x = _load(image, run.max_side)
    if mask is not None:
        raw = load_image(image)
        m = crop_to_multiple(load_mask(mask, tuple(raw.shape[-2:]), threshold=mask_threshold), 32)
    elif drop is not None:
        m = MaskOp.bernoulli(tuple(x.shape[-2:]), drop, torch.Generator().manual_seed(run.seed)).mask
    else:
        m = MaskOp.text(tuple(x.shape[-2:]), text).mask
    r = inpaint(x, m, preset=preset or "inpaint", reference=_reference(reference, x.shape), **run.kwargs(stopping))
    if mask is None:
        mpath = out.with_suffix(".mask.png")
        save_image(m, mpath)
        typer.echo(f"wrote {mpath}")
    _finish(r, out, inputs={"image": image, "mask": mask, "reference": reference}, report=run.report,
            observation=x * m)


@restore_app.command("flash-no-flash")
@options(run=DipRunOptions)
def flash_cmd(flash: Path, noflash: Path, output: Output = None, preset: PresetOpt = "flash",
              stopping: Stopping = "wmv", *, run: DipRunOptions):
    """Flash/no-flash pair (thesis §7.3.5): the flash image is the network input, the no-flash image the target."""
    from ..recipes.dip import flash_no_flash

    out = output_path(output, noflash, "flash", [flash, noflash])
    f, nf = _load(flash, run.max_side), _load(noflash, run.max_side)
    r = flash_no_flash(f, nf, preset=preset or "flash", **run.kwargs(stopping))
    _finish(r, out, inputs={"flash": flash, "noflash": noflash}, report=run.report, observation=nf)


@restore_app.command("fit")
@options(run=DipRunOptions)
def fit_cmd(image: Path, output: Output = None, preset: PresetOpt = "denoise", *, run: DipRunOptions):
    """Fit the network to an image, min ||f_θ(z) − x0||² (eq. 7.4), for the full budget (default 1000 steps)."""
    from ..recipes.dip import fit

    out = output_path(output, image, "fit", [image])
    x = _load(image, run.max_side)
    r = fit(x, preset=preset or "denoise", reference=x, **run.kwargs("none", iters=1000))
    _finish(r, out, inputs={"image": image}, report=run.report)


@restore_app.command("impedance")
def impedance_cmd(image: Path, output: Output = None, iters: Iters = 1000,
                  size: Annotated[int, typer.Option("--size", help="Side in pixels of the images made (fitted: a "
                                                                   "centre crop of IMAGE).")] = 128,
                  seed: Seed = 0, preset: PresetOpt = "denoise", device: Device = "auto", max_side: MaxSide = 4096,
                  quiet: Quiet = False):
    """Noise-impedance experiment (thesis Fig. 7.2): learning curves for the image, image + noise, shuffled
    pixels and white noise, in one plot (centre crop of ``size``)."""
    from ..io import load_image
    from ..recipes.dip import noise_impedance
    from ..report import write_curves, write_sidecar

    out = output_path(output, image, "impedance", [image])
    x = load_image(image, max_side=max_side)
    if min(x.shape[-2:]) < size:
        raise InputError(f"{image}: smaller than the --size {size} crop")
    t, l = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    x = x[..., t:t + size, l:l + size]
    curves = noise_impedance(x, iters=iters, preset=preset or "denoise", seed=seed, device=check_device(device),
                             progress=not quiet)
    write_curves(out, curves, xlabel="iteration", ylabel="MSE", title="Noise impedance of the DIP parametrization")
    write_sidecar(out, config={"experiment": "noise-impedance", "iters": iters, "size": size, "seed": seed,
                               "preset": preset}, inputs={"image": image},
                  metrics={f"final_mse[{k}]": v[-1] for k, v in curves.items()},
                  extra={"curves": curves})
    typer.echo(f"wrote {out}\nwrote {out.with_suffix('.json')}")
