"""Textured-neural-avatar settings (thesis ch. 6): mode (textured or the direct baseline), network widths, texture
size, both phases' steps and learning rates, loss weights, the perceptual loss's backbone and layers."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError

MODES = ("textured", "direct")
BACKBONE_LAYERS = {"lite0": ("stem", "stage2", "stage3"), "vgg19": ("conv1_2", "conv2_2", "conv3_4", "conv4_4")}


@dataclass(frozen=True)
class AvatarConfig(Config):
    mode: str = "textured"
    parts: int = 10
    texture_size: int = 32
    width: int = 32
    max_channels: int = 256
    res_blocks: int = 8
    batch: int = 8
    pretrain_iters: int = 200
    iters: int = 1200          # optimisation steps of both phases together
    lr: float = 5e-4
    texture_lr: float = 5e-3
    mask_weight: float = 1.0
    pixel_weight: float = 1.0
    uv_weight: float = 10.0
    backbone: str = "lite0"
    seed: int = 0
    source: str = ""

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if min(self.iters, self.batch, self.width, self.max_channels, self.texture_size, self.parts) < 1 or \
                self.pretrain_iters < 0 or self.res_blocks < 0 or min(self.lr, self.texture_lr) <= 0:
            raise InputError("iters, batch, width, max_channels, texture_size and parts must be >= 1, "
                             "pretrain_iters and res_blocks >= 0, learning rates > 0")


PRESETS: dict[str, AvatarConfig] = register("avatar", {
    "thesis": AvatarConfig(source="thesis §6.4.1: width 32, 256 channels in the residual blocks, 17 M parameters; "
                                  "batch, steps and learning rates are not given there (ours)"),
    "cpu": AvatarConfig(width=16, max_channels=128, res_blocks=4, batch=4, iters=600, pretrain_iters=200,
                        source="benchmarks/avatar.py on 2 CPU cores: 2.6 M parameters, 64² images"),
})
