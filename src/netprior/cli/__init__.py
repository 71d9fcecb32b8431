"""Command-line interface.  One sub-command group per recipe family, with uniform flags (``cli/common.py``):

* ``netprior restore …`` – Deep Image Prior restoration (``cli/restore.py``);
* ``netprior batch …`` – any of them over a folder, resumable, local processes or Ray (``cli/batch.py``);
* ``netprior train …``, ``netprior data make-default``, ``netprior fid`` – loop 2: training on collections
  (``cli/train.py``);
* ``netprior degrade`` – make test data; ``netprior presets``; ``netprior demo``;
* ``netprior serve`` – the local web app (:mod:`netprior.serve`, extra ``[ui]``).

The CLI only parses options, reads/writes files and prints; the work is done by :mod:`netprior.recipes`.
User errors (:class:`netprior.errors.NetpriorError`) print one line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError, NetpriorError
from .age import age_app
from .avatar import avatar_app
from .batch import batch_app
from .common import Device, Iters, MaxSide, OutputDir, Quiet, Seed, check_device, output_path
from .features import features_app
from .gan import gan_app
from .imagine import deepinversion_cmd, imagine_app
from .pyramid import pyramid_app
from .restore import restore_app
from .texture import style_app, texture_app
from .translate import translate_app
from .train import data_app, fid_cmd, train_app

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Image restoration and synthesis by inverting deep networks.")
app.add_typer(restore_app, name="restore")
app.add_typer(avatar_app, name="avatar")
app.add_typer(gan_app, name="gan")
app.add_typer(features_app)  # gradcam, invert-features
app.add_typer(texture_app, name="texture")
app.add_typer(style_app, name="style")
app.add_typer(imagine_app, name="imagine")
app.command("deepinversion")(deepinversion_cmd)
app.add_typer(batch_app, name="batch")
app.add_typer(train_app, name="train")
app.add_typer(pyramid_app, name="pyramid")
app.add_typer(data_app, name="data")
app.command("fid")(fid_cmd)
app.add_typer(age_app, name="age")
app.add_typer(translate_app, name="translate")


@app.command("degrade")
def degrade_cmd(image: Path, output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result "
                                                                                     "(the degraded image).")],
                noise: Annotated[Optional[float], typer.Option(help="Gaussian noise std on 0-255.")] = None,
                jpeg: Annotated[Optional[int], typer.Option(help="JPEG quality 1-95.")] = None,
                downsample: Annotated[Optional[int], typer.Option(help="Lanczos-2 downsampling factor.")] = None,
                seed: Seed = 0, max_side: MaxSide = 4096):
    """Make test data: apply a simulated degradation to a clean image."""
    import torch

    from ..io import load_image, save_image
    from ..operators import JPEG, Compose, Downsample, GaussianNoise

    ops = ([Downsample(downsample)] if downsample else []) + ([GaussianNoise(noise)] if noise else []) + \
        ([JPEG(jpeg)] if jpeg else [])
    if not ops:
        raise InputError("choose at least one of --noise, --jpeg, --downsample")
    out = output_path(output, image, "degraded", [image])
    y = Compose(*ops).simulate(load_image(image, max_side=max_side), torch.Generator().manual_seed(seed))
    save_image(y, out)
    typer.echo(f"wrote {out}")


@app.command("presets")
def presets_cmd(method: Annotated[Optional[str], typer.Argument(help="A method (dip, gan, imagine, …); default: "
                                                                     "all.")] = None):
    """List the named settings (--preset) of every method, or of METHOD, each with where its numbers come from."""
    from dataclasses import fields

    from ..config import methods, presets_for

    for m, presets in [(m, presets_for(m)) for m in ([method] if method else methods())]:
        typer.echo(f"{m}:")
        for name, p in presets.items():
            values = ", ".join(f"{f.name}={getattr(p, f.name)}" for f in fields(p)
                               if f.name not in ("name", "source") and getattr(p, f.name) not in (None, {}, ()))
            typer.echo(f"  {name:16s} [{p.source}]\n  {'':16s} {values}")


@app.command("demo")
def demo_cmd(output_dir: OutputDir = Path("demo-out"), iters: Iters = None, seed: Seed = 0, device: Device = "auto",
             quiet: Quiet = False):
    """Denoise the bundled demo photo (σ = 25 noise added with a fixed seed) and write the result, a sidecar,
    a report figure and a side-by-side comparison."""
    from ..demo import run_demo

    for line in run_demo(output_dir, iters=iters, progress=not quiet, seed=seed, device=check_device(device)):
        typer.echo(line)


@app.command("serve")
def serve_cmd(host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback is "
                                                                "reachable from the network.")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", help="Port.")] = 7860,
              max_side: MaxSide = 1024,
              max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", help="Largest upload, in MB.")] = 50,
              preview_every: Annotated[int, typer.Option("--preview-every", help="Steps between live "
                                                                                 "previews.")] = 25,
              device: Device = "auto"):
    """Local web app (needs the "ui" extra): restore with a painted mask, sample textures, invert faces.
    Offline; binds 127.0.0.1; one job at a time."""
    from ..serve import Settings, check_host, start

    if (warning := check_host(host)) is not None:
        typer.echo(warning, err=True)
    settings = Settings(max_side=max_side, max_upload_mb=max_upload_mb, device=check_device(device),
                        preview_every=preview_every)
    typer.echo(f"netprior serve: http://{host}:{port}/  (Ctrl+C to stop)")
    start(settings, host, port, block=True)


def one_line(text: str) -> str:
    """A message as one printable line: newlines folded, undecodable bytes of file names (kept by Python as
    surrogates) shown as \\xNN escapes instead of crashing the terminal write."""
    text = " ".join(text.split("\n"))
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def main() -> None:
    try:
        app()
    except NetpriorError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


