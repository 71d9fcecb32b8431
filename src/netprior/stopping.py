"""Stopping rules that need no clean reference image.

A rule sees every step's raw output x_t, the exponential average x̄_t, the data-term value and the values the
objective's terms logged, says when to stop, and selects the image to return.  DIP fits the noise if run too long (thesis §7.2.1), so restoration commands stop
by one of these rules, with the iteration budget as a cap.

* :class:`WindowedVariance` – ES-WMV of Wang, Li, Zhuang, Chen, Liang, Sun, "Early Stopping for Deep Image Prior"
  (TMLR 2023): VAR_t = 1/W Σ_{w=0}^{W−1} ||x_{t−w} − x̃_t||² / n with x̃_t the mean of the window; stop once VAR
  has not reached a new minimum for ``patience`` steps and return the image at the minimising step t*.
* :class:`Discrepancy` – Morozov's discrepancy principle: stop at the first step where the (smoothed) data-term
  MSE ||A(x_t) − y||²/n falls to τ·σ² (σ on the [0, 1] scale, given or estimated from the image).
* :class:`RiskMinimum` – for a loss that is itself an estimate of the error to the clean image (SURE, see
  :mod:`netprior.sure`): stop once its moving average has not reached a new minimum for ``patience`` steps, or
  once the estimated divergence turns negative, and return the averaged image at the minimising step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

import torch

from .errors import InputError


class StoppingRule(ABC):
    """Base class.  ``update`` returns True to stop; ``selected`` is the (step, image) to return, or None."""

    name = "none"

    def __init__(self) -> None:
        self.best_step: int | None = None
        self.best_image: torch.Tensor | None = None
        self.stopped_at: int | None = None

    @abstractmethod
    def update(self, step: int, x: torch.Tensor, x_avg: torch.Tensor | None, data_loss: float,
               terms: dict[str, float] | None = None) -> bool:
        """Record step ``step`` (``terms``: what the objective's terms logged); return True when the run should
        stop."""

    def selected(self) -> tuple[int, torch.Tensor] | None:
        return None if self.best_image is None else (self.best_step, self.best_image)

    def describe(self) -> dict:
        return {"rule": self.name, "selected_step": self.best_step, "stopped_at": self.stopped_at}

    def state_dict(self) -> dict:
        """Everything the rule has seen, for a checkpoint: its attributes (numbers, tensors, lists, deques)."""
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


class _PatientMinimum(StoppingRule):
    """A rule that watches a value for its minimum: a new minimum (from ``min_steps`` on) records its step and image;
    the run stops once ``patience`` steps have passed without one."""

    def __init__(self, patience: int, min_steps: int):
        super().__init__()
        self.patience, self.min_steps = int(patience), int(min_steps)
        self.best_value = float("inf")

    def _observe(self, step: int, value: float, image) -> bool:
        """Record ``value`` at ``step`` (``image()`` gives the image to keep for a new minimum); True to stop."""
        if value < self.best_value and step >= self.min_steps:
            self.best_value, self.best_step = value, step
            self.best_image = image().detach().clone()
        if self.best_step is not None and step - self.best_step >= self.patience:
            self.stopped_at = step
            return True
        return False


class WindowedVariance(_PatientMinimum):
    """ES-WMV.  The running sums S1 = Σ x, S2 = Σ ||x||² over the window give VAR = S2/W − ||S1/W||² in O(n) per
    step.  The returned image is the averaged output x̄ at t* (or the window mean when no average is kept)."""

    name = "windowed-variance"

    def __init__(self, window: int = 100, patience: int = 300, min_steps: int = 0):
        super().__init__(patience, min_steps)
        self.window = int(window)
        self._buf: deque[torch.Tensor] = deque()
        self._s1: torch.Tensor | None = None
        self._s2 = 0.0
        self.variance: list[tuple[int, float]] = []

    def update(self, step, x, x_avg, data_loss, terms=None):
        v = x.detach().reshape(-1).to(torch.float64)
        if self._s1 is None:
            self._s1 = torch.zeros_like(v)
        self._buf.append(v)
        self._s1 += v
        self._s2 += float(v @ v)
        if len(self._buf) > self.window:
            old = self._buf.popleft()
            self._s1 -= old
            self._s2 -= float(old @ old)
        if len(self._buf) < self.window:
            return False
        mean = self._s1 / self.window
        var = max(self._s2 / self.window - float(mean @ mean), 0.0) / v.numel()
        self.variance.append((step, var))
        return self._observe(step, var, lambda: x_avg if x_avg is not None else mean.to(x.dtype).view_as(x))

    def describe(self):
        return {**super().describe(), "window": self.window, "patience": self.patience,
                "min_variance": None if self.best_step is None else self.best_value}


class Discrepancy(StoppingRule):
    """Stop when the data-term MSE, smoothed by an EMA with factor ``smoothing``, reaches τ·σ²."""

    name = "discrepancy"

    def __init__(self, sigma: float, tau: float = 1.0, smoothing: float = 0.9, min_steps: int = 50):
        super().__init__()
        if sigma <= 0:
            raise ValueError("the discrepancy rule needs a noise level sigma > 0")
        self.sigma, self.tau, self.smoothing, self.min_steps = float(sigma), float(tau), float(smoothing), min_steps
        self._smooth: float | None = None

    def update(self, step, x, x_avg, data_loss, terms=None):
        if self.stopped_at is not None:
            return True
        s = self.smoothing
        self._smooth = data_loss if self._smooth is None else s * self._smooth + (1 - s) * data_loss
        if step >= self.min_steps and self._smooth <= self.tau * self.sigma ** 2:
            self.best_step = self.stopped_at = step
            self.best_image = (x_avg if x_avg is not None else x).detach().clone()
            return True
        return False

    def describe(self):
        return {**super().describe(), "sigma255": self.sigma * 255, "tau": self.tau}


class RiskMinimum(_PatientMinimum):
    """Watch R_t = the loss when it estimates the error to the clean image (SURE): R̄_t = mean of R over the last
    ``window`` steps (one Monte-Carlo probe per step makes single values noisy); stop when R̄ has not reached a new
    minimum for ``patience`` steps and return the averaged output x̄ at the minimising step t*.

    Also stop when the mean over the window of the estimated divergence (the term's logged ``divergence``) falls
    below zero.  A denoiser's divergence, its degrees of freedom, is positive: it follows its input; a negative
    estimate means the network has started to game the divergence term, and the image degrades from there (CSet5
    baby at the true σ = 25: from step ~230 on; docs/methods/dip.md).  R̄ itself may dip slightly below zero
    without harm: near the bounds of [0, 1] the noise that survives clipping is smaller than σ."""

    name = "risk-minimum"

    def __init__(self, window: int = 20, patience: int = 100, min_steps: int = 0):
        super().__init__(patience, min_steps)
        self.window = int(window)
        self._values: deque[tuple[float, float]] = deque()  # no maxlen: a checkpoint restores a plain deque

    def update(self, step, x, x_avg, data_loss, terms=None):
        self._values.append((float(data_loss), float((terms or {}).get("divergence", 0.0))))
        if len(self._values) > self.window:
            self._values.popleft()
        if len(self._values) < self.window:
            return False
        risk = sum(v[0] for v in self._values) / self.window
        if sum(v[1] for v in self._values) < 0 and self.best_step is not None:
            self.stopped_at = step
            return True
        return self._observe(step, risk, lambda: x_avg if x_avg is not None else x)

    def describe(self):
        return {**super().describe(), "window": self.window, "patience": self.patience,
                "min_risk": None if self.best_step is None else self.best_value}


def by_name(rule: str, sigma: float | None, *, window: int = 100,
            patience: int = 300) -> StoppingRule | None:
    """The rule named ``rule``: ``auto`` is the discrepancy rule when the noise level σ (on [0, 1]) is known or
    estimated, else ES-WMV; ``wmv``, ``discrepancy``, ``risk`` (minimum of the SURE loss, for the SURE presets) or
    ``none`` explicitly."""
    if rule == "none":
        return None
    if rule == "risk":
        return RiskMinimum()
    if rule == "discrepancy" or (rule == "auto" and sigma):
        if not sigma:
            raise InputError("the discrepancy rule needs a noise level: pass --sigma")
        return Discrepancy(sigma)
    if rule in ("auto", "wmv"):
        return WindowedVariance(window=window, patience=patience)
    raise InputError(f"unknown stopping rule {rule!r}; use auto, wmv, discrepancy, risk or none")
