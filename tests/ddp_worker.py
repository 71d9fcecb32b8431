"""Run by tests/test_train.py under ``torchrun`` (and in-process for the one-process reference): train a tiny
DCGAN without batch norm for a few iterations on a folder and write its final weights (G and D) as a state file
from rank 0.  Command line: DATA OUT ITERS BATCH ACCUM."""

import os
import sys

import torch

from netprior.data import ImageFolder
from netprior.recipes.dcgan import DCGANConfig, train_dcgan
from netprior.statefile import save_state


def run(data: str, out: str, iters: int, batch: int, accum: int) -> None:
    cfg = DCGANConfig(size=16, nz=8, width=8, batch=batch, accum=accum, iters=iters, seed=3, ema=0.9, norm="none")
    result = train_dcgan(ImageFolder(data, 16, seed=3), cfg, device="cpu", progress=False).result
    if int(os.environ.get("RANK", "0")) == 0:
        save_state(out, {"world": result.world, **{n: m.state_dict() for n, m in result.nets.items()}},
                   kind="test-weights")


if __name__ == "__main__":
    torch.set_num_threads(1)
    run(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]))
