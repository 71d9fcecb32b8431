"""Batches for training: an endless, resumable stream of mini-batches, shared out between DDP processes.

Epoch e visits the data set in the order of a permutation seeded by (seed + e) — PyTorch's ``DistributedSampler``
with ``drop_last``: the first ⌊N / world⌋·world indices of the permutation, process r taking every world-th one
from r.  Each process cuts its share into batches of ``batch`` images (an incomplete last batch is dropped), so
batch k of all processes together holds the images of batch k of a single process whose batch is world × as large:
the global batches of a two-process run and of a one-process run with the same global batch are the same images.
The stream counts the batches it has handed out (``position``) and can be restarted at any position, which is all
a checkpoint needs to resume the data order exactly.
"""

from __future__ import annotations

import itertools

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..errors import InputError


class EpochSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled, drop_last) that yields ``(epoch, index)`` pairs — the dataset seeds its
    augmentations with them — and can start ``start`` samples into the epoch."""

    def __init__(self, dataset: Dataset, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.start = 0

    def __iter__(self):
        return ((self.epoch, i) for i in itertools.islice(super().__iter__(), self.start, None))

    def __len__(self) -> int:
        return self.num_samples - self.start


class BatchStream:
    """Endless iterator of (batch, C, H, W) tensors for one process; see the module docstring."""

    def __init__(self, dataset: Dataset, batch: int, *, rank: int = 0, world: int = 1, seed: int = 0,
                 workers: int = 0, pin_memory: bool = False):
        if batch < 1:
            raise InputError(f"the batch size must be >= 1, got {batch}")
        if batch * world > len(dataset):
            raise InputError(f"--batch {batch * world} is larger than the training set ({len(dataset)} images); "
                             "lower --batch or add images")
        self.dataset, self.batch, self.workers, self.pin_memory = dataset, batch, workers, pin_memory
        self.sampler = EpochSampler(dataset, num_replicas=world, rank=rank, seed=seed)
        self.seed = seed
        self.per_epoch = self.sampler.num_samples // batch
        self.position = 0
        self._iter = None

    @property
    def epoch(self) -> int:
        return self.position // self.per_epoch

    def seek(self, position: int) -> None:
        """Continue from the ``position``-th batch (0 = the first batch of epoch 0)."""
        self.position, self._iter = position, None

    def _start_epoch(self) -> None:
        self.sampler.set_epoch(self.epoch)
        self.sampler.start = (self.position % self.per_epoch) * self.batch
        # the loader's own generator (its workers' base seed), so that starting an epoch — at a different iteration
        # in a resumed run — draws nothing from the global RNG that the training losses draw from
        loader = DataLoader(self.dataset, batch_size=self.batch, sampler=self.sampler, num_workers=self.workers,
                            drop_last=True, pin_memory=self.pin_memory,
                            generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        self._iter = iter(loader)

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        if self._iter is None or self.position % self.per_epoch == 0:
            self._start_epoch()
        batch = next(self._iter)
        self.position += 1
        return batch
