"""The base class of everything that is optimised.

A parametrization is an ``nn.Module`` whose ``forward()`` (no argument) returns the current image (B, C, H, W) and
whose trainable parameters are what the optimiser updates.  :func:`netprior.solve.solve` calls :meth:`project_`
after every optimiser step (a projection onto the feasible set; none by default) and gives the modules that draw
noise (an ``rng`` attribute) the run's generator (:func:`netprior.seeding.bind`).
"""

from __future__ import annotations

import torch
from torch import nn


def clamp_(t: torch.Tensor, lo: torch.Tensor | float = 0.0, hi: torch.Tensor | float = 1.0) -> torch.Tensor:
    """The one box projection: t ← min(max(t, lo), hi) in place (bounds scalars or broadcastable tensors)."""
    with torch.no_grad():
        return t.copy_(torch.clamp(t, lo, hi))


class Parametrization(nn.Module):
    """Base class: ``forward()`` returns the image; ``project_()`` projects the parameters after a step;
    ``describe()`` returns what the sidecar records."""

    def project_(self) -> None:
        """Project the parameters onto the feasible set after an optimiser step (no-op unless overridden)."""

    def describe(self) -> dict:
        return {"parametrization": type(self).__name__}

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
