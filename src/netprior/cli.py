"""Command-line interface: ``netprior restore …`` (Deep Image Prior tasks), ``netprior degrade`` (make test data),
``netprior presets``, ``netprior demo``.

The CLI only parses options, reads/writes files and prints; the work is done by :mod:`netprior.recipes`.
User errors (:class:`netprior.errors.NetpriorError`) print one line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import InputError, NetpriorError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Image restoration and synthesis by inverting deep networks.")
restore_app = typer.Typer(no_args_is_help=True, help="Restore an image with a Deep Image Prior (untrained network).")
app.add_typer(restore_app, name="restore")

# Options shared by every restore command (uniform flags).
Output = Annotated[Optional[Path], typer.Option("-o", "--output", help="Output PNG (default: ./<input>-<task>.png).")]
Iters = Annotated[Optional[int], typer.Option("--iters", help="Iteration cap (default: the preset's).")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: the preset's).")]
PresetOpt = Annotated[Optional[str], typer.Option("--preset", help="Network/optimiser preset (see `netprior presets`).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (network init, input code, perturbations).")]
Device = Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N.")]
MaxSide = Annotated[int, typer.Option("--max-side", help="Refuse images whose longer side exceeds this.")]
Reference = Annotated[Optional[Path], typer.Option("--reference", help="Clean image: adds PSNR/SSIM to the sidecar.")]
Report = Annotated[bool, typer.Option("--report", help="Also write <output>.report.png (snapshots, curves).")]
Stopping = Annotated[str, typer.Option("--stopping", help="auto, wmv, discrepancy or none.")]
Checkpoint = Annotated[Optional[Path], typer.Option("--checkpoint", help="Checkpoint file: saved periodically, "
                                                                          "resumed from when it exists.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]

# Peak memory per output pixel of the 5x128 skip network (forward + backward, float32), measured at 256x256.
BYTES_PER_PIXEL = 12_000


def _device(name: str) -> str:
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    if not (name == "cpu" or name.startswith("cuda")):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    return name


def _output_path(output: Optional[Path], image: Path, task: str, inputs: list) -> Path:
    from .io import check_output_path

    out = output or Path.cwd() / f"{image.stem}-{task}.png"
    return check_output_path(out, inputs)


def _load(path: Path, max_side: int, scale: int = 1):
    from .io import check_size, load_image
    from .recipes.dip import crop_to_multiple

    x = load_image(path)
    check_size(x.shape[-2] * scale, x.shape[-1] * scale, max_side, what=str(path), bytes_per_pixel=BYTES_PER_PIXEL)
    cropped = crop_to_multiple(x, 32 // scale if scale < 32 else 1)
    if cropped.shape != x.shape:
        typer.echo(f"note: {path.name} cropped from {x.shape[-1]}x{x.shape[-2]} to "
                   f"{cropped.shape[-1]}x{cropped.shape[-2]} (a multiple of {32 // scale} for the network)", err=True)
    return cropped


def _finish(r, out: Path, *, inputs: dict, report: bool, observation=None) -> None:
    from .io import save_image
    from .report import write_report, write_sidecar

    metrics = r.metrics
    save_image(r.image, out)
    write_sidecar(out, config=r.config, result=r.result, metrics=metrics, inputs=inputs)
    typer.echo(f"wrote {out}  ({r.result.steps} steps, {r.result.seconds:.1f} s"
               + (f", stopped by {r.result.stop['rule']} at step {r.result.stop['selected_step']}"
                  if r.result.stop and r.result.stop.get("selected_step") else "")
               + "".join(f", {k} {v:.2f}" for k, v in metrics.items() if k in ("psnr", "ssim")) + ")")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report:
        rp = out.with_suffix(".report.png")
        write_report(rp, r.result, title=f"{r.config.get('task')} — preset {r.config['preset']['name']}",
                     observation=observation)
        typer.echo(f"wrote {rp}")


def _reference_tensor(reference: Optional[Path], shape):
    if reference is None:
        return None
    from .io import load_image
    from .recipes.dip import crop_to_multiple

    ref = load_image(reference)
    if tuple(ref.shape[-2:]) != tuple(shape[-2:]):
        ref = crop_to_multiple(ref, 32)
    if tuple(ref.shape[-2:]) != tuple(shape[-2:]):
        raise InputError(f"--reference {reference}: {ref.shape[-1]}x{ref.shape[-2]} does not match the output "
                         f"size {shape[-1]}x{shape[-2]}")
    return ref


def _common(iters, lr, seed, device, stopping, checkpoint, quiet, report) -> dict:
    return {"iters": iters, "lr": lr, "seed": seed, "device": _device(device), "stopping": stopping,
            "checkpoint": str(checkpoint) if checkpoint else None, "progress": not quiet,
            "snapshot_every": 50 if report else 0}


@restore_app.command("denoise")
def denoise_cmd(image: Path, output: Output = None,
                sigma: Annotated[Optional[float], typer.Option(help="Noise std on 0-255, if known (else estimated).")] = None,
                iters: Iters = None, lr: Lr = None, preset: PresetOpt = None, seed: Seed = 0, device: Device = "cpu",
                max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
                stopping: Stopping = "auto", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Blind denoising (thesis §7.3.1), stopped by the discrepancy rule at the given or estimated noise level."""
    from .recipes.dip import denoise

    out = _output_path(output, image, "denoise", [image, reference])
    y = _load(image, max_side)
    ref = _reference_tensor(reference, y.shape)
    r = denoise(y, sigma255=sigma, preset=preset, reference=ref,
                **_common(iters, lr, seed, device, stopping, checkpoint, quiet, report))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=report, observation=y)


@restore_app.command("jpeg")
def jpeg_cmd(image: Path, output: Output = None, iters: Iters = None, lr: Lr = None, preset: PresetOpt = "jpeg",
             seed: Seed = 0, device: Device = "cpu", max_side: MaxSide = 1024, reference: Reference = None,
             report: Report = False, stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Remove JPEG blocking and ringing from a compressed photo (thesis Fig. 7.3)."""
    from .recipes.dip import deblock_jpeg

    out = _output_path(output, image, "jpeg", [image, reference])
    y = _load(image, max_side)
    ref = _reference_tensor(reference, y.shape)
    r = deblock_jpeg(y, preset=preset or "jpeg", reference=ref,
                     **_common(iters, lr, seed, device, stopping, checkpoint, quiet, report))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=report, observation=y)


@restore_app.command("super-resolve")
def sr_cmd(image: Path, output: Output = None,
           factor: Annotated[int, typer.Option("--factor", "-f", help="Upscaling factor: 2, 3, 4 or 8.")] = 4,
           iters: Iters = None, lr: Lr = None, preset: PresetOpt = None, seed: Seed = 0, device: Device = "cpu",
           max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
           stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """×factor super-resolution with the data term ||d(x) − x0||² (thesis §7.3.2); the output is factor× larger."""
    from .io import check_size, load_image
    from .recipes.dip import super_resolve

    out = _output_path(output, image, f"x{factor}", [image, reference])
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
                      **_common(iters, lr, seed, device, stopping, checkpoint, quiet, report))
    _finish(r, out, inputs={"image": image, "reference": reference}, report=report)


@restore_app.command("inpaint")
def inpaint_cmd(image: Path, output: Output = None,
                mask: Annotated[Optional[Path], typer.Option(help="Mask PNG: white = known, black = missing.")] = None,
                drop: Annotated[Optional[float], typer.Option(help="Drop this share of pixels at random "
                                                                   "(Bernoulli mask) instead of --mask.")] = None,
                text: Annotated[Optional[str], typer.Option(help="Overlay this text as the missing region.")] = None,
                mask_threshold: Annotated[Optional[float], typer.Option(help="Binarise a grey mask at this "
                                                                             "level in (0, 1).")] = None,
                iters: Iters = None, lr: Lr = None, preset: PresetOpt = "inpaint", seed: Seed = 0,
                device: Device = "cpu", max_side: MaxSide = 1024, reference: Reference = None, report: Report = False,
                stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Fill missing pixels, E = ||(x − x0) ⊙ m||² (thesis §7.3.3).  Exactly one of --mask, --drop, --text."""
    import torch

    from .io import load_mask, save_image
    from .operators import Mask
    from .recipes.dip import crop_to_multiple, inpaint

    if sum(v is not None for v in (mask, drop, text)) != 1:
        raise InputError("give exactly one of --mask FILE, --drop P or --text STRING")
    out = _output_path(output, image, "inpaint", [image, mask, reference])
    x = _load(image, max_side)
    if mask is not None:
        from .io import load_image

        raw = load_image(image)
        m = load_mask(mask, tuple(raw.shape[-2:]), threshold=mask_threshold)
        m = crop_to_multiple(m, 32)
    elif drop is not None:
        m = Mask.bernoulli(tuple(x.shape[-2:]), drop, torch.Generator().manual_seed(seed)).mask
    else:
        m = Mask.text(tuple(x.shape[-2:]), text).mask
    ref = _reference_tensor(reference, x.shape)
    r = inpaint(x, m, preset=preset or "inpaint", reference=ref,
                **_common(iters, lr, seed, device, stopping, checkpoint, quiet, report))
    if mask is None:
        mpath = out.with_suffix(".mask.png")
        save_image(m, mpath)
        typer.echo(f"wrote {mpath}")
    _finish(r, out, inputs={"image": image, "mask": mask, "reference": reference}, report=report,
            observation=x * m)


@restore_app.command("flash-no-flash")
def flash_cmd(flash: Path, noflash: Path, output: Output = None, iters: Iters = None, lr: Lr = None,
              preset: PresetOpt = "flash", seed: Seed = 0, device: Device = "cpu", max_side: MaxSide = 1024,
              report: Report = False, stopping: Stopping = "wmv", checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Flash/no-flash pair (thesis §7.3.5): the flash image is the network input, the no-flash image the target."""
    from .recipes.dip import flash_no_flash

    out = _output_path(output, noflash, "flash", [flash, noflash])
    f, nf = _load(flash, max_side), _load(noflash, max_side)
    r = flash_no_flash(f, nf, preset=preset or "flash",
                       **_common(iters, lr, seed, device, stopping, checkpoint, quiet, report))
    _finish(r, out, inputs={"flash": flash, "noflash": noflash}, report=report, observation=nf)


@restore_app.command("fit")
def fit_cmd(image: Path, output: Output = None, iters: Iters = 1000, lr: Lr = None, preset: PresetOpt = "denoise",
            seed: Seed = 0, device: Device = "cpu", max_side: MaxSide = 1024, report: Report = False,
            checkpoint: Checkpoint = None, quiet: Quiet = False):
    """Fit the network to an image, min ||f_θ(z) − x0||² (eq. 7.4), for the full budget."""
    from .recipes.dip import fit

    out = _output_path(output, image, "fit", [image])
    x = _load(image, max_side)
    r = fit(x, preset=preset or "denoise", reference=x,
            **_common(iters, lr, seed, device, "none", checkpoint, quiet, report))
    _finish(r, out, inputs={"image": image}, report=report)


@restore_app.command("impedance")
def impedance_cmd(image: Path, output: Output = None, iters: Iters = 1000, size: int = 128, seed: Seed = 0,
                  preset: PresetOpt = "denoise", device: Device = "cpu", quiet: Quiet = False):
    """Noise-impedance experiment (thesis Fig. 7.2): learning curves for the image, image + noise, shuffled
    pixels and white noise, in one plot (centre crop of ``size``)."""
    from .io import _atomic_write, load_image
    from .recipes.dip import noise_impedance
    from .report import write_sidecar

    out = _output_path(output, image, "impedance", [image])
    x = load_image(image)
    if min(x.shape[-2:]) < size:
        raise InputError(f"{image}: smaller than the --size {size} crop")
    t, l = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    x = x[..., t:t + size, l:l + size]
    curves = noise_impedance(x, iters=iters, preset=preset or "denoise", seed=seed, device=_device(device),
                             progress=not quiet)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    for name, c in curves.items():
        ax.semilogy(range(1, len(c) + 1), c, label=name, lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE")
    ax.legend()
    ax.set_title("Noise impedance of the DIP parametrization")
    _atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    write_sidecar(out, config={"experiment": "noise-impedance", "iters": iters, "size": size, "seed": seed,
                               "preset": preset}, inputs={"image": image},
                  metrics={f"final_mse[{k}]": v[-1] for k, v in curves.items()},
                  extra={"curves": curves})
    typer.echo(f"wrote {out}\nwrote {out.with_suffix('.json')}")


@app.command("degrade")
def degrade_cmd(image: Path, output: Annotated[Path, typer.Option("-o", "--output")],
                noise: Annotated[Optional[float], typer.Option(help="Gaussian noise std on 0-255.")] = None,
                jpeg: Annotated[Optional[int], typer.Option(help="JPEG quality 1-95.")] = None,
                downsample: Annotated[Optional[int], typer.Option(help="Lanczos-2 downsampling factor.")] = None,
                seed: Seed = 0):
    """Make test data: apply a simulated degradation to a clean image."""
    import torch

    from .io import load_image, save_image
    from .operators import JPEG, Compose, Downsample, GaussianNoise

    ops = ([Downsample(downsample)] if downsample else []) + ([GaussianNoise(noise)] if noise else []) + \
        ([JPEG(jpeg)] if jpeg else [])
    if not ops:
        raise InputError("choose at least one of --noise, --jpeg, --downsample")
    out = _output_path(output, image, "degraded", [image])
    y = Compose(*ops).simulate(load_image(image), torch.Generator().manual_seed(seed))
    save_image(y, out)
    typer.echo(f"wrote {out}")


@app.command("presets")
def presets_cmd():
    """List the Deep Image Prior presets with their source."""
    from .recipes.dip import PRESETS

    for p in PRESETS.values():
        typer.echo(f"{p.name:16s} {p.arch:9s} iters={p.iters:<5d} lr={p.lr:<5g} reg_noise={p.reg_noise_std:.4g}  "
                   f"[{p.source}]")


@app.command("demo")
def demo_cmd(output_dir: Annotated[Path, typer.Option("-o", "--output-dir")] = Path("demo-out"),
             quiet: Quiet = False):
    """Denoise the bundled demo photo (σ = 25 noise added with a fixed seed) and write the result, a sidecar,
    a report figure and a side-by-side comparison."""
    from .demo import run_demo

    for line in run_demo(output_dir, progress=not quiet):
        typer.echo(line)


def main() -> None:
    try:
        app()
    except NetpriorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
