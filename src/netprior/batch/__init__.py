"""Batch processing of a folder of inputs with a single-image command, resumable, on local processes or Ray.

* :mod:`.jobs` — the task (which command, which flags) and the per-input job a worker runs;
* :mod:`.executors` — local process pool and Ray cluster;
* :mod:`.manifest` — the append-only ``manifest.jsonl`` run log;
* :mod:`.driver` — planning, skipping finished inputs, recording results, the summary table.

The command line is ``netprior batch restore|gan|texture …`` (:mod:`netprior.cli.batch`).
"""

from .driver import BatchRun, run_batch
from .executors import LocalExecutor, RayExecutor
from .jobs import Job, Task

__all__ = ["BatchRun", "Job", "LocalExecutor", "RayExecutor", "Task", "run_batch"]
