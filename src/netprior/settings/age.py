"""AGE settings (thesis ch. 4): mode (unconditional or colourisation), image size, latent dimension M, widths,
batch, Adam, the 1:2 update schedule, the weights λ (L_Z) and μ (L_X), and the departures of a short budget: the
warm-up, μ_G and the weight w of the real codes' divergence in the encoder's loss (docs/methods/age.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..errors import InputError
from ..nets.dcgan import UPSAMPLERS

MODES = ("unconditional", "colorize")


@dataclass(frozen=True)
class AGEConfig(Config):
    """An AGE training run (thesis §4.4: Adam 2e-4, λ = 1000, μ = 10, two g steps per e step).  The defaults are
    the thesis' game; a few hundred CPU iterations need the warm-up, μ_G = 10, w = 4 and nearest up-sampling, and
    do best with λ = 250, below the thesis' three values 500–2000 (benchmarks/age.py): with the thesis' w = 1 the
    encoder collapses the codes of real images after the warm-up, with transposed convolutions the game writes a
    colour checkerboard into g's images, and a larger λ pays g for hiding its code in a fine grid
    (docs/methods/age.md)."""

    mode: str = "unconditional"
    size: int = 64
    nz: int = 64               # M (the thesis: 64 for CelebA/SVHN, 128 for CIFAR/Tiny ImageNet, 3 for colourisation)
    width: int = 32            # channels of g's last / e's first layer (colorize: the ResNet's base width)
    channels: int = 3
    upsample: str = "transposed"  # g's up-sampling (unconditional): DCGAN's transposed convolutions or "nearest"
    encoder_antialias: bool = False  # a [1, 2, 1]² low-pass before each of e's stride-2 convolutions (unconditional)
    blocks: int = 4            # residual blocks of the colourisation generator
    batch: int = 64
    iters: int = 2000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    e_steps: int = 1
    g_steps: int = 2
    latent_weight: float = 1000.0   # λ
    pixel_weight: float = 10.0      # μ
    warmup: int = 0                 # iterations of autoencoder warm-up before the game
    generator_pixel_weight: float = 0.0  # μ_G: L_X also in G's loss (the authors' code's option; thesis: 0)
    real_weight: float = 1.0        # w: weight of Δ(e(X)‖N) in e's loss (the authors' code's KL_real; thesis: 1)
    ema: float | None = None        # decay of an averaged copy of g used for sampling (as the DCGAN reference)
    seed: int = 0

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"AGE mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.nz < 2:
            raise InputError(f"the latent dimension must be >= 2 (a sphere), got {self.nz}")
        if self.warmup < 0 or self.generator_pixel_weight < 0:
            raise InputError("the warm-up and the generator's pixel weight must be >= 0")
        if self.real_weight <= 0:
            raise InputError(f"the weight of the real codes' divergence must be > 0, got {self.real_weight}")
        if self.upsample not in UPSAMPLERS:
            raise InputError(f"the generator's up-sampling must be one of {', '.join(UPSAMPLERS)}, "
                             f"got {self.upsample!r}")
        if self.mode == "colorize" and self.channels != 3:
            raise InputError("colourisation trains on colour images (three channels)")

