"""Where the jobs run.  An executor takes a :class:`~netprior.batch.jobs.Task` and an iterator of jobs and yields
``(job, result)`` as results arrive (in completion order); the driver records them.  Both executors keep only a
few jobs in flight (their input bytes are read just before sending), retry a job whose worker died, and give up on
it after ``attempts`` deaths with a ``failed`` result — so a lost worker loses no finished result and never
hangs the batch.

* :class:`LocalExecutor` — ``workers`` local processes (``forkserver``), each with ``threads`` torch threads
  (``workers × threads ≤ cores``).  A dead worker breaks a ``ProcessPoolExecutor`` as a whole; the jobs that were in
  flight are resubmitted to a fresh pool (each counts an attempt: the pool cannot tell which one killed it).
* :class:`RayExecutor` — the same :func:`~netprior.batch.jobs.run_job` as a Ray task (``num_cpus=threads``,
  ``num_gpus=gpus_per_task``); Ray itself reruns a task whose worker process or node died (``max_retries``).
  ``address``: ``"auto"`` (a running cluster), ``"local"`` (start one here), ``ray://…`` or ``host:port``; an
  already initialised Ray (e.g. by a test) is used as it is.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from ..errors import InputError
from .jobs import Job, Task, one_line, run_job

Loader = Callable[[Job], Job]  # fills in a job's bytes just before it is sent


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def failure(error: str) -> dict:
    """The result of a job that could not run to the end of :func:`run_job` (unreadable input, lost worker)."""
    return {"status": "failed", "error": error, "seconds": 0.0, "metrics": {}, "notes": [], "worker": None,
            "files": {}}


def died(attempts: int, why: str) -> dict:
    return failure(f"{why} {attempts} times while running this input; giving up")


def _init_worker(threads: int) -> None:
    """Pool worker set-up: the driver handles Ctrl-C (workers ignore SIGINT and are terminated by it), and torch
    uses ``threads`` threads (also for OpenMP regions started before ``set_num_threads``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


class LocalExecutor:
    def __init__(self, workers: int, threads: int, attempts: int = 3):
        cores = available_cores()
        if workers < 1 or threads < 1:
            raise InputError("--workers and --threads must be at least 1")
        if workers * threads > cores:
            raise InputError(f"--workers {workers} × --threads {threads} exceeds the {cores} cores of this machine")
        self.workers, self.threads, self.attempts = workers, threads, attempts

    def describe(self) -> str:
        return f"{self.workers} local worker process(es) × {self.threads} torch thread(s)"

    def _pool(self, task: Task) -> ProcessPoolExecutor:
        """Workers forked from a ``forkserver`` that has imported torch, the task's modules and those of every sidecar once (so a worker,
        and a replacement for a dead one, starts in milliseconds) and never ran an OpenMP region (forking a
        process that has is unsafe)."""
        import multiprocessing

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torchvision", "netprior.report", "netprior.batch.jobs",
                                    task.target.partition(":")[0], *task.preload])
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker, initargs=(self.threads,))

    def run(self, task: Task, jobs: Iterable[Job], load: Loader) -> Iterator[tuple[Job, dict]]:
        todo, tries = deque(jobs), {}
        pool, running = self._pool(task), {}
        try:
            while todo or running:
                while todo and len(running) < 2 * self.workers:
                    job = todo.popleft()
                    try:
                        running[pool.submit(run_job, task, load(job))] = job
                    except OSError as exc:
                        yield job, failure(one_line(exc))
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    job = running.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        tries[job.rel] = tries.get(job.rel, 0) + 1
                        if tries[job.rel] < self.attempts:
                            todo.appendleft(job)
                            continue
                        result = died(tries[job.rel], "a worker process died")
                    except Exception as exc:  # e.g. a result that could not be sent back
                        result = failure(f"worker error: {one_line(exc)}")
                    yield job, result
                if broken:  # every job still in flight was lost with the pool: run them again on a new one
                    for job in running.values():
                        tries[job.rel] = tries.get(job.rel, 0) + 1
                        todo.appendleft(job)
                    running.clear()
                    pool.shutdown(wait=True)
                    pool = self._pool(task)
        except BaseException:
            self._stop(pool)
            raise
        pool.shutdown(wait=True)

    @staticmethod
    def _stop(pool: ProcessPoolExecutor) -> None:
        """Cancel queued jobs and end the workers now (Ctrl-C, or the consumer stopped early): the jobs in flight
        are abandoned, unrecorded."""
        procs = list((pool._processes or {}).values())  # no public handle on the workers; needed to stop them now
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)


class RayExecutor:
    def __init__(self, address: str, threads: int = 1, gpus_per_task: float = 0.0, attempts: int = 3):
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray: pip install 'netprior[cluster]'") from None
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self.started = False
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=available_cores(), include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"--ray {address}: cannot connect to a Ray cluster ({str(exc).splitlines()[0]})") \
                    from None
            self.started = True
        total = ray.cluster_resources()
        if gpus_per_task > total.get("GPU", 0):
            raise InputError(f"--gpus-per-task {gpus_per_task}: the Ray cluster has {total.get('GPU', 0):g} GPUs")
        if threads > total.get("CPU", 0):
            raise InputError(f"--threads {threads}: the Ray cluster has {total.get('CPU', 0):g} CPUs")
        self.ray, self.threads, self.gpus, self.attempts = ray, threads, gpus_per_task, attempts
        self.slots = max(1, int(total.get("CPU", 1) // threads))
        if gpus_per_task:
            self.slots = min(self.slots, max(1, int(total["GPU"] // gpus_per_task)))
        self.remote = ray.remote(run_job).options(num_cpus=threads, num_gpus=gpus_per_task,
                                                  max_retries=attempts - 1, retry_exceptions=False)

    def describe(self) -> str:
        return (f"Ray cluster ({self.slots} concurrent task(s), {self.threads} CPU(s)"
                + (f", {self.gpus:g} GPU(s)" if self.gpus else "") + " per task)")

    def run(self, task: Task, jobs: Iterable[Job], load: Loader) -> Iterator[tuple[Job, dict]]:
        ray = self.ray
        todo, running = deque(jobs), {}
        task_ref = ray.put(task)
        try:
            while todo or running:
                while todo and len(running) < 2 * self.slots:
                    job = todo.popleft()
                    try:
                        running[self.remote.remote(task_ref, load(job))] = job
                    except OSError as exc:
                        yield job, failure(one_line(exc))
                if not running:
                    continue
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                            ray.exceptions.TaskUnschedulableError, ray.exceptions.ObjectLostError) as exc:
                        result = died(self.attempts, f"the Ray worker was lost ({type(exc).__name__})")
                    except ray.exceptions.RayError as exc:
                        result = failure(f"worker error: {one_line(exc)}")
                    yield job, result
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            if self.started:
                ray.shutdown()
