"""Processes of a multi-GPU / multi-node run started by ``torchrun`` (PyTorch's launcher; netprior has none).

``torchrun --nproc_per_node 4 -m netprior.cli train dcgan …`` (or ``--nnodes N --rdzv-endpoint HOST:PORT`` on
each node) starts one process per GPU with RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address in the
environment.  :func:`setup` joins the process group (NCCL on CUDA, gloo on the CPU) and picks this process' device
(``cuda:LOCAL_RANK``); without those variables it is a one-process run and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import InputError


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device
    owns_group: bool  # setup() initialised the group, so teardown() destroys it

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, samples, evaluates and writes checkpoints."""
        return self.rank == 0


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda when available else cpu; ``cpu``; ``cuda``/``cuda:N`` (refused when CUDA is absent); a
    ``torch.device`` is returned as it is.  The one place where every recipe turns its ``device`` into a device."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    if not (name == "cpu" or name.startswith("cuda")):
        raise InputError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return torch.device(name)


def setup(device: str = "auto") -> Processes:
    """Join the torchrun process group when there is one; return this process' rank, world size and device."""
    dev = resolve_device(device)
    if dist.is_available() and dist.is_initialized():
        rank, world, owns = dist.get_rank(), dist.get_world_size(), False
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        rank, world, owns = dist.get_rank(), dist.get_world_size(), True
    else:
        return Processes(0, 1, dev, False)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(dev)
    return Processes(rank, world, dev, owns)


def teardown(procs: Processes) -> None:
    if procs.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(procs: Processes) -> None:
    if procs.world > 1:
        dist.barrier()


def mean_over_processes(values: dict[str, float], procs: Processes) -> dict[str, float]:
    """Average a dict of numbers (the same keys in every process) over the processes."""
    if procs.world == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64,
                     device=procs.device if procs.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return {k: float(v) / procs.world for k, v in zip(keys, t.tolist())}
