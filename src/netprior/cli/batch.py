"""``netprior batch …``: run a single-image command on every file of a folder (:mod:`netprior.batch`).

    netprior batch restore denoise IN_DIR -o OUT_DIR [--sigma 25 --iters 500 …] [--workers 2] [--ray auto]
    netprior batch gan invert IN_DIR -o OUT_DIR [--method latent …]
    netprior batch texture sample MODELS_DIR -o OUT_DIR [--size 512 -n 4 …]

Each batch command is generated from its single-image command: it takes the same flags (less the input, ``-o``,
``--reference``, ``--checkpoint`` and ``--quiet``), and each input is processed by calling that command's function,
so a batch output is exactly what the single-image command would write.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from ..errors import InputError
from . import gan, restore, texture

batch_app = typer.Typer(no_args_is_help=True, help="Process a folder: one output + sidecar per input, a manifest, "
                                                   "resumable; local worker processes or a Ray cluster.")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


@dataclass(frozen=True)
class BatchCommand:
    """A single-image command offered in batch: ``group name`` (``restore denoise``), its function, the name of its
    input-file parameter, the input types, flags that make no sense in a batch, and the recipe module it calls."""

    group: str
    name: str
    fn: Callable
    input_param: str = "image"
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES
    dropped: tuple[str, ...] = ("reference", "checkpoint")
    recipe: str = "netprior.recipes.dip"


COMMANDS = [BatchCommand("restore", "denoise", restore.denoise_cmd),
            BatchCommand("restore", "jpeg", restore.jpeg_cmd),
            BatchCommand("restore", "super-resolve", restore.sr_cmd),
            BatchCommand("restore", "inpaint", restore.inpaint_cmd),
            BatchCommand("restore", "fit", restore.fit_cmd),
            BatchCommand("gan", "invert", gan.invert_cmd, recipe="netprior.recipes.gan"),
            BatchCommand("texture", "sample", texture.texture_sample_cmd, input_param="model",
                         suffixes=(".safetensors",), recipe="netprior.recipes.texture")]


def _batch_options(
        in_dir: Annotated[Path, typer.Argument(help="Folder of inputs (walked recursively; hidden files skipped).")],
        output_dir: Annotated[Path, typer.Option("-o", "--output-dir", help="Folder for the outputs (mirrors "
                                                                             "IN_DIR's tree; holds manifest.jsonl, "
                                                                             "summary.md).")],
        workers: Annotated[Optional[int], typer.Option("--workers", "-j", help="Local worker processes (default: "
                                                                                "cores / threads).")] = None,
        threads: Annotated[Optional[int], typer.Option("--threads", help="Torch threads per worker or Ray task "
                                                                         "(default: cores / workers; Ray: 1).")] = None,
        ray: Annotated[Optional[str], typer.Option("--ray", help="Run on Ray: auto (running cluster), local (start "
                                                                 "one here), or an address.")] = None,
        gpus_per_task: Annotated[float, typer.Option("--gpus-per-task", help="GPUs per Ray task (with --device "
                                                                             "cuda).")] = 0.0,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output (only the summary "
                                                                   "table).")] = False):
    """The options every batch command has (its signature is spliced into each generated command)."""


BATCH_OPTIONS = list(inspect.signature(_batch_options, eval_str=True).parameters.values())


def _executor(workers, threads, ray, gpus_per_task):
    from ..batch import LocalExecutor, RayExecutor
    from ..batch.executors import available_cores

    if ray is not None:
        if workers is not None:
            raise InputError("--workers is for local processes; with --ray the cluster's CPUs decide")
        return RayExecutor(ray, threads=threads or 1, gpus_per_task=gpus_per_task)
    if gpus_per_task:
        raise InputError("--gpus-per-task needs --ray (local workers use --device cuda directly)")
    cores = available_cores()
    workers = workers or max(1, cores // (threads or 1))
    return LocalExecutor(workers, threads or max(1, cores // workers))


def _make(cmd: BatchCommand) -> Callable:
    own = inspect.signature(cmd.fn, eval_str=True).parameters
    skip = {cmd.input_param, "output", "quiet", *cmd.dropped}
    task_params = [p for n, p in own.items() if n not in skip]
    batch_names = {p.name for p in BATCH_OPTIONS}

    def command(**kw):
        from ..batch import Task, run_batch
        from ..batch.manifest import MANIFEST

        b = {k: kw.pop(k) for k in batch_names}
        if b["gpus_per_task"] and kw.get("device", "cuda") == "cpu":
            raise InputError("--gpus-per-task: also pass --device cuda")
        executor = _executor(b["workers"], b["threads"], b["ray"], b["gpus_per_task"])
        in_dir, out_dir = b["in_dir"], b["output_dir"]
        task = Task(name=f"{cmd.group} {cmd.name}", target=f"{cmd.fn.__module__}:{cmd.fn.__name__}",
                    input_param=cmd.input_param,
                    flags={k: v.resolve() if isinstance(v, Path) else v for k, v in kw.items()},
                    suffixes=cmd.suffixes, threads=executor.threads, argv=tuple(sys.argv),
                    quiet_param="quiet" if "quiet" in own else None, preload=(cmd.recipe,))
        run = run_batch(task, in_dir, out_dir, executor, echo=(lambda s: None) if b["quiet"] else typer.echo)
        typer.echo(run.table())
        typer.echo(f"wrote {out_dir / MANIFEST}\nwrote {out_dir / 'summary.md'}")
        if any(r["status"] == "failed" for r in run.state.values()):
            raise typer.Exit(1)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in BATCH_OPTIONS + task_params]
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    first = (inspect.getdoc(cmd.fn) or "").split("\n\n")[0]
    command.__doc__ = (f"`{cmd.group} {cmd.name}` on every input under IN_DIR: {first}\n\nExit status 1 when some "
                       "input failed (see the summary and manifest.jsonl); rerunning skips what is done.")
    return command


for _group in dict.fromkeys(c.group for c in COMMANDS):
    _sub = typer.Typer(no_args_is_help=True, help=f"Batch versions of `netprior {_group} …` commands.")
    for _cmd in (c for c in COMMANDS if c.group == _group):
        _sub.command(_cmd.name)(_make(_cmd))
    batch_app.add_typer(_sub, name=_group)
