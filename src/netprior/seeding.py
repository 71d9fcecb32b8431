"""Randomness of a run, from one seed.

A run draws random numbers in two places: while its parts are built (network weights, input codes, initial images,
restarts) and while it is optimised (DIP's input perturbation, fresh noise batches, Monte-Carlo probes, jitter,
gradient-penalty mixing).  Both come from the run's seed, never from whatever state the global RNG is in:

* :func:`generator` — a ``torch.Generator`` seeded with the seed, passed to whatever draws tensors; the solver
  (:func:`netprior.solve.solve`) makes its own from the same seed and hands it to the parts that draw noise while
  optimising (:func:`bind`), and its checkpoints store that generator's state.
* :func:`initialising` — for code that can only draw from the global RNG (``nn.Module`` constructors initialise
  their weights that way): the global CPU RNG is seeded for the block and restored afterwards, so building a part
  has no side effect on the caller.

A ``torch.Generator`` seeded with s produces the same stream as the global RNG after ``torch.manual_seed(s)`` (on the
CPU; on CUDA, as the device's default generator), so runs give the same numbers as when the recipes seeded globally.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))


@contextmanager
def initialising(seed: int) -> Iterator[None]:
    """Seed the global CPU RNG with ``seed`` inside the block (module initialisers draw from it) and restore its
    previous state on exit."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        yield


def bind(rng: torch.Generator, *parts: object) -> None:
    """Give every module of ``parts`` that draws noise while optimising (those with an ``rng`` attribute) the
    generator ``rng``."""
    for part in parts:
        modules = part.modules() if isinstance(part, nn.Module) else [part]
        for m in modules:
            if hasattr(m, "rng"):
                m.rng = rng
