"""The one record every method returns: :class:`Run`.

    Run(image, config, metrics, results, outputs)

``image`` is the result (restored image, pre-image, texture, variation, reconstruction batch, or for a trained
network the last training batch or sample grid); ``results`` the record of every phase ({phase: SolveResult} of
:func:`netprior.solve.solve`, or the :class:`~netprior.train.TrainResult` of loop 2; ``result`` is the last);
``config`` what reproduces the run, assembled by :func:`config` from the method, task, preset/settings and every
part's ``describe()``; ``metrics`` the numbers measured on it; ``outputs`` what else the method produced (codes and
representations of a GAN inversion, the trained model, the warm-up image of IMAGINE…), also readable as attributes
(``run.z``, ``run.model``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import torch

from .solve import SolveResult
from .train import TrainResult


@dataclass
class Run:
    image: torch.Tensor | None
    config: dict
    metrics: dict = field(default_factory=dict)
    results: dict[str, SolveResult | TrainResult] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> SolveResult | TrainResult | None:
        """The last phase's solver record."""
        return list(self.results.values())[-1] if self.results else None

    def __getattr__(self, name: str) -> Any:
        outputs = self.__dict__.get("outputs") or {}
        if name in outputs:
            return outputs[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or output {name!r}")

    def summary(self) -> str:
        """One line: steps, seconds, the stopping rule's decision (whether it fired, which step was returned) and
        PSNR/SSIM when measured."""
        r = self.result
        stop = getattr(r, "stop", None) or {}
        rule, selected = stop.get("rule"), stop.get("selected_step")
        decision = ""
        if stop.get("stopped_at"):
            decision = f", stopped by {rule} at step {stop['stopped_at']}, returned step {selected}"
        elif selected:
            decision = f", {rule} did not fire; returned its best step {selected}"
        steps = sum(getattr(x, "steps", getattr(x, "iterations", 0)) for x in self.results.values())
        seconds = sum(x.seconds for x in self.results.values())
        return (f"{steps} steps, {seconds:.1f} s{decision}"
                + "".join(f", {k} {v:.2f}" for k, v in self.metrics.items() if k in ("psnr", "ssim")))


def config(method: str, *parts: object, task: str | None = None, settings: object = None, **extra) -> dict:
    """A run's configuration: ``method``, ``task``, the settings (a dataclass, recorded as a dict), each part's
    ``describe()`` (parametrization, objective, operator, generator, stopping rule…) and ``extra`` values."""
    out: dict = {"method": method}
    if task is not None:
        out["task"] = task
    if settings is not None:
        out["settings"] = asdict(settings) if is_dataclass(settings) else settings
    for part in parts:
        if part is not None:
            out.update(part.describe())
    out.update(extra)
    return out


@dataclass
class PreImageGrid:
    """Pre-images of several layers under several priors (the layout of thesis Fig. 7.9): ``runs[prior][layer]``."""

    original: torch.Tensor
    layers: list[str]
    priors: list[str]
    runs: dict[str, dict[str, Run]] = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per (prior, layer): relative feature error, PSNR, SSIM, TV, steps, seconds."""
        return [{"prior": p, "layer": l, **self.runs[p][l].metrics, "steps": self.runs[p][l].result.steps,
                 "seconds": round(self.runs[p][l].result.seconds, 2)}
                for p in self.priors for l in self.layers]
