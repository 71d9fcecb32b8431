"""The batch driver: plan, skip what is done, run the rest on an executor, record every result.

    inputs   = files under IN_DIR with the task's suffixes (hidden files and OUT_DIR skipped), sorted
    output   = OUT_DIR / <input's relative path with .png>  (+ sidecar and whatever else the command writes)
    skip     ⇔ latest manifest record is "done" ∧ same input sha256 ∧ same config digest ∧ its files exist
    for each result (completion order): write its files atomically, then append its manifest record (fsync'd)

Failed inputs are retried by the next run; Ctrl-C stops the workers and leaves the manifest consistent (the jobs
in flight are simply not recorded).  The run ends with a summary table (printed and written to
``OUT_DIR/summary.md``).
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from ..errors import InputError
from ..io import _atomic_write
from ..report import file_digest
from .executors import failure
from .jobs import Job, Task
from .manifest import MANIFEST, ManifestWriter, latest, read_records


@dataclass
class BatchRun:
    """What one run did: ``ran`` records (this run, in completion order), ``skipped`` inputs, wall ``seconds``, and
    ``state`` (latest record of every input found) from which :meth:`table` is made."""

    ran: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    state: dict[str, dict] = field(default_factory=dict)
    executor: str = ""

    def table(self) -> str:
        """Markdown: images, mean seconds and mean of each numeric metric per status; then this run; then every
        failed input with its error."""
        rows = list(self.state.values())
        keys = sorted({k for r in rows for k, v in r.get("metrics", {}).items() if isinstance(v, (int, float))})
        lines = ["| status | images | mean seconds |" + "".join(f" mean {k} |" for k in keys),
                 "|---|---:|---:|" + "---:|" * len(keys)]
        for status in ("done", "failed"):
            group = [r for r in rows if r["status"] == status]
            if not group:
                continue
            cells = [f"{sum(r['seconds'] for r in group) / len(group):.2f}"]
            for k in keys:
                vals = [r["metrics"][k] for r in group if isinstance(r.get("metrics", {}).get(k), (int, float))]
                cells.append(f"{sum(vals) / len(vals):.4g}" if vals else "")
            lines.append(f"| {status} | {len(group)} |" + "".join(f" {c} |" for c in cells))
        n_done = sum(r["status"] == "done" for r in self.ran)
        rate = 60.0 * n_done / self.seconds if self.seconds > 0 else 0.0
        lines += ["", f"This run: {len(self.ran)} processed ({n_done} done, {len(self.ran) - n_done} failed), "
                      f"{len(self.skipped)} skipped as already done, {self.seconds:.1f} s wall, "
                      f"{rate:.2f} images/min on {self.executor}."]
        failed = [r for r in rows if r["status"] == "failed"]
        if failed:
            lines += ["", "Failed:", ""] + [f"- `{r['input']}`: {r['error']}" for r in failed]
        return "\n".join(lines)


def find_inputs(in_dir: Path, suffixes: tuple[str, ...], exclude: Path | None = None) -> list[str]:
    """POSIX paths (relative to ``in_dir``) of the files with one of ``suffixes``, hidden ones and ``exclude``'s
    subtree left out, sorted."""
    found = []
    for p in sorted(in_dir.rglob("*")):
        rel = p.relative_to(in_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if exclude is not None and p.resolve().is_relative_to(exclude):
            continue
        if p.suffix.lower() in suffixes:
            found.append(rel.as_posix())
    return found


def plan(task: Task, in_dir: Path, out_dir: Path, config: str | None = None) -> tuple[list[Job], list[Job],
                                                                                      dict[str, str]]:
    """Split the inputs into (to run, already done) and find output-name clashes ({input: error}); ``config`` is
    ``task.config_digest()`` when the caller has it already."""
    state = latest(read_records(out_dir / MANIFEST))
    config = config or task.config_digest()
    todo, done, clashes, owner = [], [], {}, {}
    for rel in find_inputs(in_dir, task.suffixes, exclude=out_dir.resolve()):
        output = Path(rel).with_suffix(".png").as_posix()
        if output in owner:
            clashes[rel] = f"its output {output} is also that of {owner[output]}; rename one of them"
            continue
        owner[output] = rel
        job = Job(rel, file_digest(in_dir / rel), output)
        prev = state.get(rel)
        if (prev and prev["status"] == "done" and prev["sha256"] == job.sha256 and prev["config"] == config
                and all((out_dir / f).is_file() for f in prev["files"])):
            done.append(job)
        else:
            todo.append(job)
    return todo, done, clashes


def run_batch(task: Task, in_dir: str | Path, out_dir: str | Path, executor, *,
              echo: Callable[[str], None] = print) -> BatchRun:
    """Apply ``task`` to every input under ``in_dir`` not yet done, on ``executor``; see the module docstring."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise InputError(f"{in_dir}: not a folder")
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise InputError(f"{out_dir}: the output folder is the input folder; choose another -o/--output-dir")
    task = replace(task, in_root=str(in_dir.resolve()), out_root=str(out_dir.resolve()))
    config = task.config_digest()
    todo, done, clashes = plan(task, in_dir, out_dir, config)
    if not (todo or done or clashes):
        raise InputError(f"{in_dir}: no input files ({', '.join(task.suffixes)}) found")
    run = BatchRun(skipped=[j.rel for j in done], executor=executor.describe())
    echo(f"{len(todo) + len(clashes)} to process, {len(done)} already done, on {run.executor}")
    start = time.perf_counter()
    with ManifestWriter(out_dir / MANIFEST) as manifest:
        for rel, error in clashes.items():
            record = _record(Job(rel, file_digest(in_dir / rel), ""), config, failure(error))
            manifest.append(record)
            run.ran.append(record)
        try:
            # closing(): on Ctrl-C the executor's generator is closed at once, which stops its workers
            with closing(_run(executor, task, todo, in_dir)) as results:
                for job, result in results:
                    for name, data in result["files"].items():
                        _atomic_write(out_dir / name, lambda tmp, data=data: Path(tmp).write_bytes(data))
                    record = _record(job, config, result)
                    manifest.append(record)
                    run.ran.append(record)
                    echo(_progress_line(record, len(run.ran), len(todo) + len(clashes)))
        finally:
            run.seconds = time.perf_counter() - start
            run.state = {rel: r for rel, r in latest(read_records(out_dir / MANIFEST)).items()
                         if rel in {j.rel for j in todo + done} | set(clashes)}
            text = run.table()
            _atomic_write(out_dir / "summary.md", lambda tmp: Path(tmp).write_text(
                f"# netprior batch {task.name}\n\n{text}\n"))
    return run


def _run(executor, task: Task, jobs: list[Job], in_dir: Path) -> Iterator[tuple[Job, dict]]:
    def load(job: Job) -> Job:
        return Job(job.rel, job.sha256, job.output, (in_dir / job.rel).read_bytes())

    return executor.run(task, jobs, load)


def _record(job: Job, config: str, result: dict) -> dict:
    return {"input": job.rel, "sha256": job.sha256, "config": config, "output": job.output,
            "files": sorted(result["files"]), "status": result["status"], "seconds": result["seconds"],
            "cpu_seconds": result.get("cpu_seconds"),
            "metrics": result["metrics"], "error": result["error"], "notes": result.get("notes", []),
            "worker": result.get("worker"), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _progress_line(record: dict, i: int, n: int) -> str:
    if record["status"] == "failed":
        return f"[{i}/{n}] failed {record['input']}: {record['error']}"
    metrics = "".join(f", {k} {v:.4g}" for k, v in record["metrics"].items() if isinstance(v, (int, float)))
    return f"[{i}/{n}] done   {record['input']} -> {record['output']} ({record['seconds']:.1f} s{metrics})"
