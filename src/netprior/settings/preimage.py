"""Pre-image settings (Mahendran & Vedaldi): the prior, M&V's regulariser weights and scales, the skip networks
of the DIP prior, Adam's steps and learning rate."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError

PRIORS = ("tv", "dip")
PIXEL_NORM_B = 80.0 / 255.0          # M&V's typical RGB pixel norm B = 80 on [0, 255]
PIXEL_NORM_BOUND = 2 * PIXEL_NORM_B  # M&V's bound B₊ = 2B, the α-norm's scale
NEIGHBOUR_DIFF_V = PIXEL_NORM_B / 6.5  # M&V's typical neighbour difference V = B / 6.5
INIT_NOISE_STD = 0.03

DIP_NETS: dict[str, dict] = {
    "light": {"channels_down": (16, 32, 64, 128, 128), "channels_skip": 4, "kernel_down": 3, "kernel_up": 3,
              "upsample": "nearest", "downsample": "avg", "pad": "zero"},
    "notebook": {"channels_down": (16, 32, 64, 128, 128, 128), "channels_skip": 4, "kernel_down": 5,
                 "kernel_up": 5, "upsample": "nearest", "downsample": "avg", "pad": "zero"},
    "skip5x128": {"channels_down": (128,) * 5, "channels_skip": 4, "upsample": "bilinear", "pad": "reflection"},
}
DIP_INPUT_DEPTH = 32


@dataclass(frozen=True)
class Regularisers(Config):
    """Weights and exponents of the M&V regularisers (pixels prior only): λ_TV, β, λ_α, α."""

    tv_weight: float = 0.01
    tv_beta: float = 2.0
    alpha_weight: float = 5e-3
    alpha: float = 6.0

    def validate(self):
        if self.tv_weight < 0 or self.alpha_weight < 0:
            raise InputError("regulariser weights must be >= 0")
        if self.tv_beta <= 0 or self.alpha <= 0:
            raise InputError(f"TV exponent β and α must be > 0, got β={self.tv_beta}, α={self.alpha}")


@dataclass(frozen=True)
class PreImageSettings(Config):
    """A pre-image run: the prior (``tv``: pixels + :class:`Regularisers`; ``dip``: the ``dip_net`` skip network),
    Adam's step count and learning rate, and where these numbers come from."""

    prior: str = "tv"
    iters: int = 300
    lr: float = 0.05
    dip_net: str = "light"
    source: str = ""

    def validate(self):
        if self.prior not in PRIORS:
            raise InputError(f"unknown prior {self.prior!r}; use one of {', '.join(PRIORS)}")
        if self.dip_net not in DIP_NETS:
            raise InputError(f"unknown DIP net {self.dip_net!r}; valid: {', '.join(DIP_NETS)}")
        if self.iters < 1 or self.lr <= 0:
            raise InputError("iters must be >= 1 and lr > 0")


PRESETS: dict[str, PreImageSettings] = register("preimage", {
    "tv": PreImageSettings("tv", 300, 0.05, source="our choice, measured on Lite0 taps at 64-128 px "
                                                    "(benchmarks/preimage.py)"),
    "dip": PreImageSettings("dip", 400, 0.01, source="feature_inversion.ipynb's recipe on the light net; lr 0.01 "
                                                     "and 400 steps for the 2-core CPU (module docstring)"),
})
