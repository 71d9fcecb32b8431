"""Two image collections drawn side by side without correspondence, for unpaired translation (CycleGAN-style).

Item (epoch, i) of ``Unpaired(a, b)`` is the (2, C, H, W) stack [a_j, b_k] with j = i mod |A| and k = π_epoch(i)
mod |B|, π_epoch a permutation of max(|A|, |B|) drawn from (seed, epoch): which B image meets which A image changes
every epoch and depends on nothing but the seed, so batches stay reproducible and resumable (see
:class:`~netprior.data.loader.BatchStream`).  Its length is max(|A|, |B|).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class Unpaired(Dataset):
    def __init__(self, a: Dataset, b: Dataset, *, seed: int = 0):
        self.a, self.b, self.seed = a, b, seed
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def describe(self) -> dict:
        return {k: (d.describe() if hasattr(d, "describe") else {"images": len(d)}) for k, d in (("a", self.a),
                                                                                                  ("b", self.b))}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch, 0xB]).permutation(len(self))}
        return self._perms[epoch]

    def __getitem__(self, key: int | tuple[int, int]) -> torch.Tensor:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        j, k = i % len(self.a), int(self._perm(epoch)[i]) % len(self.b)
        return torch.stack([self.a[(epoch, j)], self.b[(epoch, k)]])
