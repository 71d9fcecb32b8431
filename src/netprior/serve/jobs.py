"""One optimisation run of the web app, in a worker thread that can be watched and cancelled.

The recipe runs in the thread with the solver callback of :meth:`Job.callback`: every step it checks the cancel
flag (raising :class:`Cancelled`, which unwinds the solver at once and frees the CPU) and every ``every`` steps
it posts the current estimate x_t.  :meth:`Job.events` is what a Gradio generator iterates to stream progress.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch


class Cancelled(Exception):
    """Raised inside the solver callback when the user cancelled the job."""


@dataclass
class Event:
    """``kind`` is ``progress`` (with ``step``, ``phase`` and ``image``), ``done`` (``value``: the work's
    return value), ``cancelled`` (``step``: the last step run) or ``error`` (``value``: the exception)."""

    kind: str
    step: int = 0
    phase: str = ""
    image: torch.Tensor | None = None
    value: Any = None


class Job:
    """Run ``work(job)`` in a daemon thread; ``work`` passes :meth:`callback` (or :meth:`phase_callback`) to the
    recipe as its solver callback."""

    THREAD_NAME = "netprior-job"

    def __init__(self, work: Callable[["Job"], Any], every: int = 25):
        self.every = max(1, int(every))
        self.step = 0
        self._work = work
        self._cancel = threading.Event()
        self._events: queue.Queue[Event] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def callback(self, step: int, x: torch.Tensor, phase: str = "") -> None:
        """The solver's per-step hook: stop when cancelled, post x_t every ``every`` steps."""
        if self._cancel.is_set():
            raise Cancelled
        self.step = step
        if step % self.every == 0:
            self._events.put(Event("progress", step=step, phase=phase, image=x[:1].detach().cpu().clone()))

    def phase_callback(self, phase: str, step: int, x: torch.Tensor) -> None:
        """The same hook for recipes that report their phase (GAN inversion: latent, offset, mgan)."""
        self.callback(step, x, phase)

    def _run(self) -> None:
        try:
            value = self._work(self)
        except Cancelled:
            self._events.put(Event("cancelled", step=self.step))
        except BaseException as exc:  # reported to the page, never raised in the server
            self._events.put(Event("error", value=exc))
        else:
            self._events.put(Event("done", value=value))

    def events(self, poll: float = 0.25) -> Iterator[Event]:
        """Yield the job's events until it ends (the last event is done, cancelled or error).  A reader slower
        than the solver gets the newest progress event only, never a backlog of stale ones (a page that streams
        previews would otherwise show 'Running' long after a cancel).  Closing the iterator early (the page went
        away) cancels the job and waits for the thread."""
        try:
            while True:
                try:
                    event = self._events.get(timeout=poll)
                except queue.Empty:
                    continue
                while event.kind == "progress" and not self._events.empty():
                    event = self._events.get_nowait()
                yield event
                if event.kind != "progress":
                    return
        finally:
            if self._thread.is_alive():
                self.cancel()
                self._thread.join()
