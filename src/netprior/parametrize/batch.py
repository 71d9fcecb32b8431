"""A feed-forward generator's batch as the optimised image: training a texture or stylisation network is solving
for its weights (thesis ch. 2–3), so the one loop :func:`netprior.solve.solve` trains it and its checkpoints resume
training exactly."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import InputError
from ..nets.texture import Generator
from .base import Parametrization


class GeneratorBatch(Parametrization):
    """x = g(z_1 … z_B) with fresh noise at every call (and, for a conditional generator, content images
    y_1 … y_B drawn uniformly from ``pool``; their indices are left in ``self.indices`` for the content loss).
    Everything is drawn from ``rng``, the run's generator (bound by :func:`netprior.solve.solve`)."""

    def __init__(self, net: Generator, batch: int, size: tuple[int, int], pool: Tensor | None = None) -> None:
        super().__init__()
        if batch < 1:
            raise InputError(f"batch size must be >= 1, got {batch}")
        self.net, self.batch, self.size = net, batch, net.check_size(size)
        if net.conditional != (pool is not None):
            raise InputError("a stylisation generator needs a content pool, a texture generator none")
        if pool is not None:
            self.register_buffer("pool", pool)
        self.indices: Tensor | None = None
        self.rng: torch.Generator | None = None

    def forward(self) -> Tensor:
        device = next(self.net.parameters()).device
        noise = self.net.make_noise(self.batch, self.size, device=device, generator=self.rng)
        if not self.net.conditional:
            return self.net(noise)
        self.indices = torch.randint(len(self.pool), (self.batch,), generator=self.rng,
                                     device=self.rng.device if self.rng is not None else "cpu").to(device)
        return self.net(noise, self.pool[self.indices])

    def describe(self) -> dict:
        return {"parametrization": "GeneratorBatch", "batch": self.batch, "size": list(self.size),
                "pool": None if not self.net.conditional else len(self.pool),
                "parameters": sum(p.numel() for p in self.net.parameters())}
