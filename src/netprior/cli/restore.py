"""``netprior restore …``: Deep Image Prior restoration commands (thesis ch. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import (Checkpoint, Compile, Device, Iters, Lr, Mask, MaxSide, Output, PresetOpt, Quiet,
                     Reference, Report, Seed, Stopping, check_device, common_kwargs, finish_restoration, load_for_dip,
                     output_path, reference_tensor)

restore_app = typer.Typer(no_args_is_help=True, help="Restore an image with a Deep Image Prior (untrained network).")


@restore_app.command("denoise")
def denoise_cmd(image: Path, output: Output = None,
                sigma: Annotated[Optional[float], typer.Option(help="Noise std on 0-255, if known (else estimated).")] = None,
                iters: Iters = None, lr: Lr = None, preset: PresetOpt = None, seed: Seed = 0, device: Device = "auto",
                max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
                stopping: Stopping = "auto", checkpoint: Checkpoint = None, quiet: Quiet = False,
                compile_net: Compile = False):
    """Blind denoising (thesis §7.3.1), stopped by the discrepancy rule at the given or estimated noise level."""
    from ..recipes.dip import denoise

    out = output_path(output, image, "denoise", [image, reference])
    y = load_for_dip(image, max_side)
    ref = reference_tensor(reference, y.shape)
    r = denoise(y, sigma255=sigma, preset=preset, reference=ref,
                **common_kwargs(iters, lr, seed, device, stopping, checkpoint, quiet, report, compile_net))
    finish_restoration(r, out, inputs={"image": image, "reference": reference}, report=report, observation=y)


@restore_app.command("jpeg")
def jpeg_cmd(image: Path, output: Output = None, iters: Iters = None, lr: Lr = None, preset: PresetOpt = "jpeg",
             seed: Seed = 0, device: Device = "auto", max_side: MaxSide = 1024, reference: Reference = None,
             report: Report = False, stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False,
             compile_net: Compile = False):
    """Remove JPEG blocking and ringing from a compressed photo (thesis Fig. 7.3)."""
    from ..recipes.dip import deblock_jpeg

    out = output_path(output, image, "jpeg", [image, reference])
    y = load_for_dip(image, max_side)
    ref = reference_tensor(reference, y.shape)
    r = deblock_jpeg(y, preset=preset or "jpeg", reference=ref,
                     **common_kwargs(iters, lr, seed, device, stopping, checkpoint, quiet, report, compile_net))
    finish_restoration(r, out, inputs={"image": image, "reference": reference}, report=report, observation=y)


@restore_app.command("super-resolve")
def sr_cmd(image: Path, output: Output = None,
           factor: Annotated[int, typer.Option("--factor", "-f", help="Upscaling factor: 2, 3, 4 or 8.")] = 4,
           iters: Iters = None, lr: Lr = None, preset: PresetOpt = None, seed: Seed = 0, device: Device = "auto",
           max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
           stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False,
           compile_net: Compile = False):
    """×factor super-resolution with the data term ||d(x) − x0||² (thesis §7.3.2); the output is factor× larger."""
    from ..io import check_size, load_image
    from ..recipes.dip import BYTES_PER_PIXEL, super_resolve

    out = output_path(output, image, f"x{factor}", [image, reference])
    y = load_image(image)
    check_size(y.shape[-2] * factor, y.shape[-1] * factor, max_side, what=f"{image} ×{factor}",
               bytes_per_pixel=BYTES_PER_PIXEL)
    ref = None
    if reference is not None:
        ref = load_image(reference)
        if tuple(ref.shape[-2:]) != (y.shape[-2] * factor, y.shape[-1] * factor):
            raise InputError(f"--reference {reference}: {ref.shape[-1]}x{ref.shape[-2]} is not {factor}x the input "
                             f"{y.shape[-1]}x{y.shape[-2]}")
    r = super_resolve(y, factor, preset=preset, reference=ref,
                      **common_kwargs(iters, lr, seed, device, stopping, checkpoint, quiet, report, compile_net))
    finish_restoration(r, out, inputs={"image": image, "reference": reference}, report=report)


@restore_app.command("inpaint")
def inpaint_cmd(image: Path, output: Output = None,
                mask: Mask = None,
                drop: Annotated[Optional[float], typer.Option(help="Drop this share of pixels at random "
                                                                   "(Bernoulli mask) instead of --mask.")] = None,
                text: Annotated[Optional[str], typer.Option(help="Overlay this text as the missing region.")] = None,
                mask_threshold: Annotated[Optional[float], typer.Option(help="Binarise a grey mask at this "
                                                                             "level in (0, 1).")] = None,
                iters: Iters = None, lr: Lr = None, preset: PresetOpt = "inpaint", seed: Seed = 0,
                device: Device = "auto", max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
                stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False,
                compile_net: Compile = False):
    """Fill missing pixels, E = ||(x − x0) ⊙ m||² (thesis §7.3.3).  Exactly one of --mask, --drop, --text."""
    import torch

    from ..io import load_mask, save_image
    from ..operators import Mask
    from ..recipes.dip import crop_to_multiple, inpaint

    if sum(v is not None for v in (mask, drop, text)) != 1:
        raise InputError("give exactly one of --mask FILE, --drop P or --text STRING")
    out = output_path(output, image, "inpaint", [image, mask, reference])
    x = load_for_dip(image, max_side)
    if mask is not None:
        from ..io import load_image

        raw = load_image(image)
        m = load_mask(mask, tuple(raw.shape[-2:]), threshold=mask_threshold)
        m = crop_to_multiple(m, 32)
    elif drop is not None:
        m = Mask.bernoulli(tuple(x.shape[-2:]), drop, torch.Generator().manual_seed(seed)).mask
    else:
        m = Mask.text(tuple(x.shape[-2:]), text).mask
    ref = reference_tensor(reference, x.shape)
    r = inpaint(x, m, preset=preset or "inpaint", reference=ref,
                **common_kwargs(iters, lr, seed, device, stopping, checkpoint, quiet, report, compile_net))
    if mask is None:
        mpath = out.with_suffix(".mask.png")
        save_image(m, mpath)
        typer.echo(f"wrote {mpath}")
    finish_restoration(r, out, inputs={"image": image, "mask": mask, "reference": reference}, report=report,
            observation=x * m)


@restore_app.command("flash-no-flash")
def flash_cmd(flash: Path, noflash: Path, output: Output = None, iters: Iters = None, lr: Lr = None,
              preset: PresetOpt = "flash", seed: Seed = 0, device: Device = "auto", max_side: MaxSide = 1024,
              report: Report = False, stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False,
              compile_net: Compile = False):
    """Flash/no-flash pair (thesis §7.3.5): the flash image is the network input, the no-flash image the target."""
    from ..recipes.dip import flash_no_flash

    out = output_path(output, noflash, "flash", [flash, noflash])
    f, nf = load_for_dip(flash, max_side), load_for_dip(noflash, max_side)
    r = flash_no_flash(f, nf, preset=preset or "flash",
                       **common_kwargs(iters, lr, seed, device, stopping, checkpoint, quiet, report, compile_net))
    finish_restoration(r, out, inputs={"flash": flash, "noflash": noflash}, report=report, observation=nf)


@restore_app.command("fit")
def fit_cmd(image: Path, output: Output = None, iters: Iters = 1000, lr: Lr = None, preset: PresetOpt = "denoise",
            seed: Seed = 0, device: Device = "auto", max_side: MaxSide = 1024, report: Report = False,
            checkpoint: Checkpoint = None, quiet: Quiet = False,
            compile_net: Compile = False):
    """Fit the network to an image, min ||f_θ(z) − x0||² (eq. 7.4), for the full budget."""
    from ..recipes.dip import fit

    out = output_path(output, image, "fit", [image])
    x = load_for_dip(image, max_side)
    r = fit(x, preset=preset or "denoise", reference=x,
            **common_kwargs(iters, lr, seed, device, "none", checkpoint, quiet, report, compile_net))
    finish_restoration(r, out, inputs={"image": image}, report=report)


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


