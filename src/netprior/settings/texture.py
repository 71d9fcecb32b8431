"""Texture-synthesis settings: the pixel optimiser (:class:`PixelOptimisation`, shared with style transfer) and
the feed-forward texture networks' training presets."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError
from ..feedforward import ARCH_LR, TrainConfig

INITS = ("spectral", "shuffle", "noise")  # recipes.texture.initial_image


@dataclass(frozen=True)
class PixelOptimisation(Config):
    """The optimiser of texture synthesis and style transfer by optimisation, its steps and learning rate."""

    optimizer: str = "lbfgs"
    iters: int = 300
    lr: float = 1.0
    source: str = ""

    def validate(self):
        if self.optimizer not in ("lbfgs", "adam"):
            raise InputError(f"optimizer must be one of lbfgs, adam, got {self.optimizer!r}")
        if self.iters < 1 or self.lr <= 0:
            raise InputError("iters must be >= 1 and lr > 0")


OPTIMISERS: dict[str, PixelOptimisation] = register("texture", {
    "lbfgs": PixelOptimisation("lbfgs", 300, 1.0, "Gatys et al. 2015 (L-BFGS); 300 steps measured enough on Lite0 "
                                                  "at 128 px (benchmarks/texture.py)"),
    "adam": PixelOptimisation("adam", 1000, 0.05, "our choice; the alternative to L-BFGS with a cheaper step"),
})


def optimisation(optimizer: str, iters: int | None, lr: float | None) -> PixelOptimisation:
    """The ``optimizer`` preset with ``iters``/``lr`` overriding it."""
    if optimizer not in OPTIMISERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMISERS)}, got {optimizer!r}")
    return OPTIMISERS[optimizer].override(iters=iters or None, lr=lr or None)


TRAIN_PRESETS: dict[str, TrainConfig] = register("texture-train", {
    "texture_net": TrainConfig("texture_net", source="thesis §2.4.1 (Adam lr 0.1, ×0.7 from step 1000, batch 16)"),
    "texture_net_v2": TrainConfig("texture_net_v2", lr=ARCH_LR["texture_net_v2"],
                                  source="thesis §3.5.1.1; lr 0.01 measured (benchmarks/texture.py)"),
})
