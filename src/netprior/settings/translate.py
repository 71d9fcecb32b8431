"""Unpaired-translation settings (thesis ch. 5): the discriminator trunk (perceptual or plain patch), its outputs
and loss, generator and discriminator widths, cycle and identity weights, pre-training, batch, Adam."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..errors import InputError
from ..nets.perceptual import TRUNKS

GAN_LOSSES = ("lsgan", "nonsaturating")


@dataclass(frozen=True)
class TranslateConfig(Config):
    """A translation training run (CycleGAN's weights λ_cyc = 10, λ_id = 5; Adam 2e-4, β = (0.5, 0.999))."""

    size: int = 64
    disc: str = "lite0"            # discriminator trunk: lite0, vgg16-hed, vgg* or patch (plain, learned)
    tap_scale: bool = True         # frozen taps divided by their std on real images of the domain (not the thesis)
    multiscale: bool = True
    gan_loss: str = "lsgan"
    d_width: int = 32
    g_width: int = 16
    g_blocks: int = 4
    g_input_skip: bool = True      # the generator's last conv also sees its input (not the thesis; nets/translation)
    cycle: bool = True
    cycle_weight: float = 10.0     # λ_cyc (CycleGAN)
    identity_weight: float = 5.0   # λ_id (eq. 5.7; CycleGAN's 0.5 λ_cyc)
    pretrain_iters: int = 100
    batch: int = 8
    iters: int = 1000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0

    def validate(self) -> None:
        if self.disc not in TRUNKS:
            raise InputError(f"--disc must be one of {', '.join(TRUNKS)}, got {self.disc!r}")
        if self.gan_loss not in GAN_LOSSES:
            raise InputError(f"--gan-loss must be one of {', '.join(GAN_LOSSES)}, got {self.gan_loss!r}")
        if self.size % 16:
            raise InputError(f"the image side must be a multiple of 16, got {self.size}")

