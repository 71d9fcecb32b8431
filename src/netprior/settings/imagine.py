"""IMAGINE settings (Wang et al., CVPR 2021): image size, the two stages' steps, learning rate and schedule, the
weights of every term, and the distribution-matching and Grad-CAM layers per backbone."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError
from ..parametrize import check_image_parametrization

#: Distribution-matching layers Φ per backbone (shallow → deep); IMAGINE's ResNet-50 choice and its Lite0 equivalent.
LAYERS = {"lite0": ("stem", "stage2", "stage3", "stage5"), "resnet50": ("conv1_1", "conv2_3", "conv3_4", "conv4_6")}
#: Grad-CAM layer per backbone (the last convolutional layer).
CAM_LAYERS = {"lite0": "head", "resnet50": "conv5_3"}
MIN_SIZE = 32


@dataclass(frozen=True)
class Settings(Config):
    """Hyper-parameters; the defaults are the paper's (224 px, 2000 + 2000 steps)."""

    size: int = 224
    stages: int = 2
    iters_warmup: int = 2000
    iters_adversarial: int = 2000
    lr: float = 0.2
    schedule: str = "cosine"
    alpha_tv: float = 1e-4
    beta_l2: float = 1e-5
    lam_dm: float = 5.0
    gamma_pc: float = 10.0
    critic_lr: float = 5e-4
    gp_weight: float = 10.0
    critic_steps: int = 1
    nu_position: float = 10.0
    blob_sigma: float = 0.125
    bn_weight: float = 0.01
    anchor_weight: float = 1.0
    first_bn_weight: float = 1.0
    init_std: float = 1.0
    jitter: int = 0
    lr_warmup: int = 0
    lowres_factor: int = 1
    iters_lowres: int = 0
    layers: tuple[str, ...] | None = None
    cam_layer: str | None = None
    parametrization: str = "spectral"
    source: str = ""

    def validate(self) -> None:
        if self.size < MIN_SIZE:
            raise InputError(f"the output size must be at least {MIN_SIZE} px, got {self.size}")
        if self.stages not in (1, 2):
            raise InputError(f"stages must be 1 (warm-up only) or 2 (warm-up + adversarial), got {self.stages}")
        if self.iters_warmup < 1 or (self.stages == 2 and self.iters_adversarial < 1):
            raise InputError("every stage needs at least one step")
        if self.schedule not in ("cosine", "constant"):
            raise InputError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.jitter < 0 or self.lr_warmup < 0 or self.init_std < 0:
            raise InputError(f"jitter, lr_warmup and init_std must be >= 0, got {self.jitter}, {self.lr_warmup} and "
                             f"{self.init_std}")
        if self.lowres_factor < 1 or (self.lowres_factor > 1 and (self.size // self.lowres_factor < MIN_SIZE
                                                                   or self.iters_lowres < 1)):
            raise InputError(f"the multi-resolution start needs lowres_factor >= 1, size / lowres_factor >= "
                             f"{MIN_SIZE} px and iters_lowres >= 1; got factor {self.lowres_factor} at {self.size} "
                             f"px, iters_lowres {self.iters_lowres}")
        check_image_parametrization(self.parametrization)
        if self.layers is not None and len(self.layers) < 2:
            raise InputError("give at least two distribution-matching layers (shallow ones, then the deep one)")

    @property
    def start_size(self) -> int | None:
        """Side of the multi-resolution start (None without one)."""
        return self.size // self.lowres_factor if self.lowres_factor > 1 else None

    @property
    def total_iters(self) -> int:
        return self.iters_warmup + (self.iters_adversarial if self.stages == 2 else 0)


PRESETS: dict[str, Settings] = register("imagine", {
    "paper": Settings(jitter=30, lr_warmup=100,
                      source="Wang et al., CVPR 2021, §4 (224 px, 2000 + 2000 Adam steps, lr 0.2, λ = 5, γ = 10); "
                             "weights α, β, jitter 30 px + flips and the 100-step lr warm-up from DeepInversion's "
                             "code, on which the paper builds; the image in the target's colour axes and a 1/f basis (Olah et al. "
                             "2017; docs/methods/imagine.md; 'pixels' is the paper's)"),
    "cpu": Settings(size=128, lowres_factor=2, iters_lowres=300, iters_warmup=60, iters_adversarial=60, jitter=17,
                    lr=0.1, lr_warmup=20, alpha_tv=1.0,
                    source="a small CPU's budget (the CLI default): 300 steps at 64 px, then 60 + 60 at 128 px; "
                           "jitter 30 px scaled to 128; α = 1 and lr 0.1 measured with Lite0 (α = 1e-4 … 0.05 "
                           "left a pixel-grid pattern; docs/methods/imagine.md); spectral parametrization: less grain than "
                           "pixels (benchmarks/imagine_spectral.py)"),
})
