"""IMAGINE settings (Wang et al., CVPR 2021): image size, the two stages' steps, learning rate and schedule, the
weights of every term, and the distribution-matching and Grad-CAM layers per backbone."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, register
from ..errors import InputError

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
    jitter: int = 0
    layers: tuple[str, ...] | None = None
    cam_layer: str | None = None
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
        if self.jitter < 0:
            raise InputError(f"jitter must be >= 0 pixels, got {self.jitter}")
        if self.layers is not None and len(self.layers) < 2:
            raise InputError("give at least two distribution-matching layers (shallow ones, then the deep one)")

    @property
    def total_iters(self) -> int:
        return self.iters_warmup + (self.iters_adversarial if self.stages == 2 else 0)


PRESETS: dict[str, Settings] = register("imagine", {
    "paper": Settings(source="Wang et al., CVPR 2021, §4 (224 px, 2000 + 2000 Adam steps, lr 0.2, λ = 5, γ = 10); "
                             "weights α, β from DeepInversion's code"),
    "cpu": Settings(size=128, iters_warmup=200, iters_adversarial=200,
                    source="the paper's settings at a small CPU's budget: 128 px, 200 + 200 steps (the CLI default)"),
})
