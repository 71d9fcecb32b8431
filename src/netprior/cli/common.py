"""Options and helpers shared by every command group (uniform flags across tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer


# The flag vocabulary.  Every flag name has one meaning across all commands: the first sentence of its help says
# it and is the same everywhere (tests/test_cli_flags.py checks this and which commands must have which flags).
Output = Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the result (default: "
                                                                       "./<input>-<task>.png).")]
OutputDir = Annotated[Path, typer.Option("-o", "--output-dir", help="Folder for the outputs.")]
Iters = Annotated[Optional[int], typer.Option("--iters", help="Optimisation steps (all stages together; a cap "
                                                              "where a stopping rule may end earlier; default: the "
                                                              "preset's).")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: the preset's).")]
PresetOpt = Annotated[Optional[str], typer.Option("--preset", help="Named settings (see `netprior presets`).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (network init, input codes, noise, perturbations).")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu, cuda or cuda:N.")]
MaxSide = Annotated[int, typer.Option("--max-side", help="Refuse images whose longer side exceeds this.")]
Reference = Annotated[Optional[Path], typer.Option("--reference", help="Clean image: adds PSNR/SSIM to the sidecar.")]
Report = Annotated[bool, typer.Option("--report", help="Also write a figure of the run (<output>.report.png).")]
Stopping = Annotated[str, typer.Option("--stopping", help="auto (the preset's rule), wmv, discrepancy, risk or none.")]
Checkpoint = Annotated[Optional[Path], typer.Option("--checkpoint", help="Checkpoint file: saved periodically, "
                                                                          "resumed from when it exists.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
Count = Annotated[int, typer.Option("-n", "--count", help="Number of images to make.")]
Mask = Annotated[Optional[Path], typer.Option("--mask", help="Mask PNG: white = known, black = missing.")]
Factor = Annotated[int, typer.Option("--factor", "-f", help="Upscaling factor.")]
ImageNetClass = Annotated[Optional[int], typer.Option("--class", help="ImageNet class index (default: the "
                                                                      "classifier's top-1 prediction).")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the network: 1.4x faster steps at 256², "
                                                         "1.55x at 512² on CPU after ~1 min of compilation (needs a "
                                                         "C++ compiler); no gain on small images.")]


@dataclass(frozen=True)
class RunOptions:
    """The flags of every command that optimises or trains, besides its method's settings (an option group,
    :mod:`.groups`): randomness, device, input guard, checkpoint, report, progress."""

    seed: Seed = 0
    device: Device = "auto"
    max_side: MaxSide = 1024
    checkpoint: Checkpoint = None
    report: Report = False
    quiet: Quiet = False

    @property
    def checkpoint_path(self) -> Optional[str]:
        return str(self.checkpoint) if self.checkpoint else None


def check_device(name: str) -> str:
    """The device a ``--device`` value names, as a string (:func:`netprior.distributed.resolve_device`: ``auto``
    is CUDA when available, else the CPU; a bad or unavailable name is refused with one line)."""
    from ..distributed import resolve_device

    return str(resolve_device(name))


def output_path(output: Optional[Path], image: Path, task: str, inputs: list) -> Path:
    from ..io import check_output_path

    out = output or Path.cwd() / f"{image.stem}-{task}.png"
    return check_output_path(out, inputs)


def write_result(r, out: Path, *, inputs: dict, summary: str,
                 report: Optional[Callable[[Path], object]] = None, extra: Optional[dict] = None) -> None:
    """The outputs every optimisation command writes: ``r.image`` as PNG, its JSON sidecar (config, result,
    metrics, input hashes; ``extra``: facts of the command, not of the method) and, when ``report`` is given, the
    figure it draws at ``<out>.report.png``; each path is echoed as it is written.  ``r`` is any recipe result with
    ``image``, ``config``, ``result`` and ``metrics``."""
    from ..io import save_image
    from ..report import write_sidecar

    save_image(r.image, out)
    write_sidecar(out, config=r.config, result=r.result, metrics=r.metrics, inputs=inputs, extra=extra)
    typer.echo(f"wrote {out}  ({summary})")
    typer.echo(f"wrote {out.with_suffix('.json')}")
    if report is not None:
        rp = out.with_suffix(".report.png")
        report(rp)
        typer.echo(f"wrote {rp}")
