"""What every command that trains on a collection shares (``train dcgan``, ``age train``, ``pyramid train``,
``translate train``, ``avatar train``): option groups (:mod:`.groups`) for the collection and for the run, the
checks on where the model goes, and the files written at the end — the model's JSON sidecar, a sample grid
(``<stem>.samples.png``), the JSONL log (``<stem>.log.jsonl``) and, with ``--report``, ``<stem>.report.png``.
Under ``torchrun`` only rank 0 prints.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from .common import Checkpoint, Device, Quiet, Seed

Data = Annotated[Optional[Path], typer.Option("--data", help="Folder of images (recursive; default: the default "
                                                             "collection).")]
Heldout = Annotated[float, typer.Option("--heldout", help="Fraction held out (split by file hash).")]
Resize = Annotated[Optional[int], typer.Option("--resize", help="Resize the shorter side first.")]
LoaderWorkers = Annotated[int, typer.Option("--loader-workers", help="DataLoader worker processes.")]
SampleEvery = Annotated[int, typer.Option("--sample-every", help="Sample grid every N iterations.")]
FidImages = Annotated[int, typer.Option("--fid-images", help="Samples for FID/KID against the held-out split at "
                                                             "the end (0 = skip).")]


def echo(text: str, err: bool = False) -> None:
    """Print on rank 0 only (every process of a ``torchrun`` job runs the command)."""
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(text, err=err)


@contextmanager
def notes():
    """Library warnings (skipped files) as ``note:`` lines on stderr — dropped when the block fails, so that bad
    input still gives exactly one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        echo(f"note: {w.message}", err=True)


def data_root(data: Optional[Path]) -> Path:
    """``--data``, or the default collection when it exists."""
    from ..data import default_root

    if data is not None:
        return data
    root = default_root()
    if not root.exists():
        raise InputError(f"no --data given and the default collection {root} does not exist; build it with "
                         "`netprior data make-default` or pass --data DIR")
    return root


@dataclass(frozen=True)
class CollectionOptions:
    """Which images a command trains on: the folder, the held-out fraction, an optional resize."""

    data: Data = None
    heldout: Heldout = 0.1
    resize: Resize = None

    @property
    def root(self) -> Path:
        return data_root(self.data)


@dataclass(frozen=True)
class TrainingOptions:
    """The flags of every training command besides its method's settings: data loading, sample grids,
    randomness, device, checkpoint, progress."""

    loader_workers: LoaderWorkers = 0
    sample_every: SampleEvery = 0
    seed: Seed = 0
    device: Device = "auto"
    checkpoint: Checkpoint = None
    quiet: Quiet = False

    def check_outputs(self, output: Path, *data: Path, what: str = "model") -> Path:
        """Refuse a model file that is not ``.safetensors`` and outputs inside a training folder (they would be
        read as training images next time); returns the stem the run's other files are named after."""
        if output.suffix != ".safetensors":
            raise InputError(f"{output}: the {what} is written as a .safetensors file; use that suffix")
        for root in data:
            for p in (output, self.checkpoint):
                if p is not None and (root.resolve() == p.resolve() or root.resolve() in p.resolve().parents):
                    raise InputError(f"{p}: outputs may not go inside the data folder {root}; choose another path")
        return output.with_suffix("")


def write_trained(output: Path, result, config: dict, *, samples, nrow: int | None = None, report: bool = False,
                  title: str = "", metrics: dict | None = None, extra: dict | None = None, summary: str = "") -> None:
    """After the model file itself: its sidecar, the sample grid of ``samples`` (images in [0, 1]), the report
    when asked for, and one ``wrote`` line per file (``summary`` follows the model's)."""
    from ..io import save_image
    from ..report import image_grid, write_sidecar, write_training_report

    stem = output.with_suffix("")
    sheet = stem.with_suffix(".samples.png")
    save_image(image_grid(samples, nrow=nrow), sheet)
    write_sidecar(output, config=config, result=result, metrics=metrics or {}, extra=extra)
    written = [output.with_suffix(".json"), sheet, stem.with_suffix(".log.jsonl")]
    if report:
        written.append(write_training_report(stem.with_suffix(".report.png"), result.history, result.snapshots,
                                             title=title))
    echo(f"wrote {output}  ({summary})" if summary else f"wrote {output}")
    for p in written:
        echo(f"wrote {p}")
