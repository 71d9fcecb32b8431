"""Pixels as the optimised variable.

* :class:`Pixels` – x = P (Mahendran & Vedaldi pre-images, Gatys textures and style transfer); with ``box=True``
  P is projected onto [0, 1] after every step.
* :class:`NormalizedPixels` – x = mean + std·P with P in a classifier's normalised input space (DeepInversion,
  IMAGINE); P is projected so that x ∈ [0, 1] after every step (DeepInversion's ``clip``).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Parametrization, clamp_


class Pixels(Parametrization):
    """x = P, initialised from ``x0``; ``box`` projects P onto [0, 1] after each step."""

    def __init__(self, x0: torch.Tensor, *, box: bool = False):
        super().__init__()
        self.x = nn.Parameter(x0.detach().clone())
        self.box = box

    def forward(self) -> torch.Tensor:
        return self.x

    def project_(self) -> None:
        if self.box:
            clamp_(self.x)

    def describe(self) -> dict:
        return {"parametrization": "Pixels", "shape": list(self.x.shape), "box": self.box}


class NormalizedPixels(Parametrization):
    """x = mean + std·P, P (the optimised parameter) in the normalised input space; :meth:`project_` keeps x in
    [0, 1], i.e. P ∈ [−mean/std, (1 − mean)/std]."""

    def __init__(self, p0: torch.Tensor, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.p = nn.Parameter(p0.detach().clone())
        self.register_buffer("mean", mean.detach().view(1, -1, 1, 1).clone())
        self.register_buffer("std", std.detach().view(1, -1, 1, 1).clone())

    def forward(self) -> torch.Tensor:
        return self.mean + self.std * self.p

    def project_(self) -> None:
        clamp_(self.p, -self.mean / self.std, (1 - self.mean) / self.std)

    def describe(self) -> dict:
        return {"parametrization": "NormalizedPixels", "shape": list(self.p.shape)}
