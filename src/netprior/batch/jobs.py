"""What a batch runs: a :class:`Task` (the single-image command and its flags) applied to :class:`Job` s (one input
file each), and :func:`run_job`, the function a worker executes.

The per-image work *is* the single-image command: ``Task.target`` names its function (``"module:function"``, e.g.
``netprior.cli.restore:denoise_cmd``), called with the input path, an output path and the task flags — the same
loading, recipe, sidecar and report code as ``netprior restore denoise IMAGE -o OUT``.  A worker receives the
input's bytes, runs the command in a private temporary folder and returns the bytes of every file the command wrote;
the driver writes them.  So a worker needs no access to the input or output folder (a Ray cluster without shared
storage works), and a worker that dies loses nothing that was already reported.  Paths of the temporary folder in
sidecars and messages are rewritten to the real input/output folders.

Failures are results, not exceptions: any error becomes ``status="failed"`` with a one-line message, so a bad
image never stops the batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import NetpriorError


@dataclass(frozen=True)
class Task:
    """A single-image command to apply to every input.

    ``name`` is what the user typed (``"restore denoise"``); ``target`` the command function (``"module:function"``)
    and ``input_param`` the name of its input-file parameter; ``flags`` its other keyword arguments (paths made
    absolute by the caller); ``suffixes`` the input file types it takes; ``threads`` the torch threads per job;
    ``quiet_param`` names the flag that silences its progress bar; ``preload`` lists the modules (e.g. the recipe)
    that local workers import once in advance; ``argv`` the batch command line (recorded in each sidecar); ``in_root``/``out_root`` (set by the driver) are only
    used to show real paths in messages and sidecars."""

    name: str
    target: str
    input_param: str
    flags: dict
    suffixes: tuple[str, ...]
    threads: int = 1
    argv: tuple[str, ...] = ()
    in_root: str = ""
    out_root: str = ""
    quiet_param: str | None = "quiet"
    preload: tuple[str, ...] = ()  # modules a local worker pool imports once, before forking its workers

    def config_digest(self) -> str:
        """sha256 of what determines the outputs: command, flags (files by content) and netprior version.  A rerun
        skips an image only when its input digest and this digest match its ``done`` record."""
        def value(v):
            if isinstance(v, Path):
                from ..report import file_digest

                return {"path": str(v), "sha256": file_digest(v) if v.is_file() else None}
            return v

        text = json.dumps({"task": self.name, "target": self.target, "netprior": __version__,
                           "flags": {k: value(v) for k, v in sorted(self.flags.items())}}, sort_keys=True,
                          default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """One input: ``rel`` (POSIX path under the input folder), its bytes' ``sha256`` and the ``output`` PNG (relative
    to the output folder).  ``data`` is filled in just before the job is sent to a worker."""

    rel: str
    sha256: str
    output: str
    data: bytes = field(default=b"", repr=False)


def resolve_target(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def one_line(exc: BaseException) -> str:
    """The user-facing one-line form of an error: the message of a :class:`NetpriorError`, else its type too."""
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    return text if isinstance(exc, NetpriorError) else f"{type(exc).__name__}: {text}"


def _rewrite(text: str, tmp_in: str, tmp_out: str, task: Task) -> str:
    return text.replace(tmp_in, task.in_root or tmp_in).replace(tmp_out, task.out_root or tmp_out)


def run_job(task: Task, job: Job) -> dict:
    """Run ``task`` on ``job`` in a temporary folder; return the result record (without the driver's fields) and
    ``files``: {path relative to the output folder: bytes}, empty unless the command succeeded."""
    import torch

    torch.set_num_threads(task.threads)
    fn = resolve_target(task.target)
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="netprior-batch-") as tmp:
        tmp_in, tmp_out = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        src, out = Path(tmp_in, job.rel), Path(tmp_out, job.output)
        src.parent.mkdir(parents=True)
        out.parent.mkdir(parents=True)
        src.write_bytes(job.data)
        kwargs = {task.input_param: src, "output": out, **task.flags}
        if task.quiet_param:
            kwargs[task.quiet_param] = True
        said = io.StringIO()
        argv, sys.argv = sys.argv, list(task.argv) or sys.argv
        error = None
        try:
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                fn(**kwargs)
        except Exception as exc:  # every failure of one image is recorded, none stops the batch
            error = _rewrite(one_line(exc), tmp_in, tmp_out, task)
        finally:
            sys.argv = argv
        files: dict[str, bytes] = {}
        if error is None:
            for p in sorted(Path(tmp_out).rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    data = p.read_bytes()
                    if p.suffix == ".json":
                        data = _rewrite(data.decode(), tmp_in, tmp_out, task).encode()
                    files[p.relative_to(tmp_out).as_posix()] = data
        notes = [_rewrite(line, tmp_in, tmp_out, task) for line in said.getvalue().splitlines()
                 if line.startswith(("note:", "warning:"))]
    sidecar = files.get(Path(job.output).with_suffix(".json").as_posix())
    summary = json.loads(sidecar) if sidecar else {}
    metrics = dict(summary.get("metrics") or {})
    if "steps" in summary:
        metrics["steps"] = summary["steps"]
    return {"status": "done" if error is None else "failed", "error": error,
            "seconds": round(time.perf_counter() - started, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3), "metrics": metrics, "notes": notes,
            "worker": f"{socket.gethostname()}:{os.getpid()}", "files": files}
