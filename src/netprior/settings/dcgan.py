"""DCGAN settings (Radford et al. 2016, §4): image size, code size, widths, batch, Adam, update ratio, R1, EMA."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError


@dataclass(frozen=True)
class DCGANConfig(Config):
    size: int = 64
    nz: int = 100
    width: int = 64          # channels of G's last / D's first hidden layer (the paper's 128 at 64², tutorial 64)
    channels: int = 3
    batch: int = 64
    iters: int = 2000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1
    g_steps: int = 1
    r1: float = 0.0          # γ of the R1 penalty (0: off, as in DCGAN)
    r1_every: int = 16
    ema: float | None = 0.999
    accum: int = 1
    seed: int = 0
    norm: str = "batch"
    source: str = ""

    def validate(self):
        if self.iters < 1 or self.batch < 1 or self.accum < 1 or self.lr <= 0:
            raise InputError("iters, batch and accum must be >= 1 and lr > 0")


PRESETS: dict[str, DCGANConfig] = register("dcgan", {
    "dcgan": DCGANConfig(source="Radford et al. 2016, §4 (Adam 2e-4, β1 0.5, batch 64 at 64 px); width 64 as in "
                                "the PyTorch DCGAN tutorial"),
})
