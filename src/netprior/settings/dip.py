"""Deep Image Prior settings: a :class:`Preset` per task — network, input code, loss, optimiser, stopping rule,
output averaging — after the authors' notebooks and thesis ch. 7, and ``denoise-sure`` (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import config
from ..config import Config, register
from ..errors import InputError
from ..parametrize.deep_prior import INPUT_KINDS


@dataclass(frozen=True)
class Preset(Config):
    """A DIP configuration: network architecture and its options, input code, optimiser settings, source."""

    name: str
    source: str
    arch: str = "skip"
    net: dict = field(default_factory=dict)
    input: str = "noise"  # noise | meshgrid | guide | observation (z = the noisy image y itself)
    input_depth: int = 32
    optimize_input: bool = False
    stopping: str = "auto"  # the rule ``stopping="auto"`` means for this preset (see stopping.by_name)
    loss: str = "mse"  # mse: ||A(x) − y||² | sure: Stein's unbiased risk estimate (Gaussian denoising only)
    lr: float = 0.01
    iters: int = 3000
    reg_noise_std: float = 1.0 / 30
    ema: float = 0.99
    ema_warmup: int = 0  # k > 0: the average's decay at step t is min(ema, (1 + t)/(k + t)) (solve.solve)

    def validate(self) -> None:
        if self.input not in (*INPUT_KINDS, "guide", "observation"):
            raise InputError(f"unknown DIP input {self.input!r}")
        if self.loss not in ("mse", "sure"):
            raise InputError(f"unknown loss {self.loss!r}; use mse or sure")
        if self.iters < 1 or self.lr <= 0 or self.reg_noise_std < 0:
            raise InputError("the iteration budget must be >= 1, lr > 0 and the input perturbation >= 0")


_SKIP128 = {"channels_down": (128,) * 5, "channels_skip": 4, "upsample": "bilinear", "pad": "reflection"}
_INPAINT = {"channels_down": (128,) * 5, "channels_skip": 128, "upsample": "nearest", "pad": "reflection"}

PRESETS: dict[str, Preset] = register("dip", {p.name: p for p in [
    Preset("denoise", "denoising.ipynb (F16, sigma=25); thesis 7.3.1", net=_SKIP128),
    Preset("denoise-sigma50", "denoising.ipynb (sigma=50)", net=_SKIP128, reg_noise_std=1.0 / 20),
    Preset("denoise-sure", "Jo, Chun, Choi, ICCV 2021 (SURE loss, the noisy image as input); EMA 0.97 and the "
           "300-step cap from benchmarks/results/sure_tuning.md; SURE over the unclipped values and the EMA "
           "warm-up from benchmarks/results/sure_clipping.md (issue 17)",
           input="observation", input_depth=3, loss="sure", stopping="risk", iters=300, reg_noise_std=0.0, ema=0.97,
           ema_warmup=10,
           net={**_SKIP128, "channels_down": (32,) * 5}),
    Preset("jpeg", "denoising.ipynb (snail.jpg); thesis Fig. 7.3", input_depth=3, iters=2400,
           net={"channels_down": (8, 16, 32, 64, 128), "channels_skip": (0, 0, 0, 4, 4), "upsample": "bilinear",
                "pad": "reflection"}),
    Preset("sr4", "super-resolution.ipynb (x4); thesis 7.3.2", net=_SKIP128, iters=2000, reg_noise_std=0.03),
    Preset("sr8", "super-resolution.ipynb (x8)", net=_SKIP128, iters=4000, reg_noise_std=0.05),
    Preset("inpaint", "inpainting.ipynb (kate.png, peppers.png); thesis 7.3.3", net=_INPAINT, iters=6000,
           reg_noise_std=0.03),
    Preset("inpaint-vase", "inpainting.ipynb (vase.png)", input="meshgrid", input_depth=2, iters=5000,
           reg_noise_std=0.03, net={**_INPAINT, "channels_skip": 0}),
    Preset("inpaint-large", "inpainting.ipynb (library.png, skip_depth6)", input_depth=1, iters=3000,
           reg_noise_std=0.0,
           net={"channels_down": (16, 32, 64, 128, 128, 128), "channels_skip": 0, "kernel_down": 5,
                "kernel_up": 3, "need_1x1_up": False, "upsample": "nearest", "pad": "reflection"}),
    Preset("flash", "flash-no-flash.ipynb; thesis 7.3.5", input="guide", input_depth=3, lr=0.1, iters=600,
           reg_noise_std=0.0,
           net={**_SKIP128, "upsample": ("nearest", "nearest", "bilinear", "bilinear", "bilinear")}),
    Preset("hourglass", "thesis Fig. 7.8 (hourglass, no skips)", arch="hourglass", iters=6000, reg_noise_std=0.03,
           net={"channels_down": (128,) * 5, "upsample": "nearest", "pad": "reflection"}),
    Preset("unet", "thesis Fig. 7.8 (U-Net); inpainting.ipynb UNET", arch="unet", iters=6000, reg_noise_std=0.03,
           net={"feature_scale": 8, "levels": 4, "upsample": "deconv", "pad": "zero"}),
    Preset("resnet", "thesis Fig. 7.8 (ResNet); inpainting.ipynb ResNet(8 blocks, 32 ch)", arch="resnet",
           iters=6000, reg_noise_std=0.03, net={"blocks": 8, "channels": 32}),
]})


def get_preset(name: str) -> Preset:
    return config.get_preset("dip", name)


#: What ``restore denoise`` runs when no preset is given.
DEFAULT_DENOISE = "denoise-sure"
