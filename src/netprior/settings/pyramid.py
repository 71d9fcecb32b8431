"""Semantic Pyramid settings (Shocher et al.): resolution, classifier, generator width, batch, Adam, the loss
weights α (masked feature reconstruction) and β (diversity), the spatial-mask probability, the levels trained."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..errors import InputError
from ..nets.pyramid import LEVELS
from ..semantic_pyramid import check_level

RESOLUTIONS = (32, 64, 128, 256)  # 32: quick checks; 64, 128 on the CPU; 256 with a GPU


@dataclass(frozen=True)
class PyramidConfig(Config):
    """A semantic-pyramid training run (paper §3–4: Adam 1e-4, α = β = 0.1, spatial masks with p = 0.3)."""

    resolution: int = 64
    classifier: str = "lite0"
    width: int = 32
    batch: int = 16
    iters: int = 1000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    rec_weight: float = 0.1       # α
    div_weight: float = 0.1       # β
    div_distance: str = "sum"     # L1 norms of eq. 4 ("sum") or means as in the mode-seeking code ("mean")
    p_spatial: float = 0.3
    levels: tuple[str, ...] = LEVELS  # the levels the training step draws from (all, in the paper)
    attention: bool = True
    skip_z: bool = True           # z also conditions every block's batch norm (BigGAN's hierarchical latent)
    ema: float | None = 0.999
    seed: int = 0

    def validate(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise InputError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {self.resolution}")
        if self.batch < 2 or self.batch % 2:
            raise InputError(f"--batch must be even (the generator's batch is pairs), got {self.batch}")
        if self.div_distance not in ("sum", "mean"):
            raise InputError(f"div_distance is 'sum' or 'mean', got {self.div_distance!r}")
        if not self.levels:
            raise InputError("train at least one pyramid level")
        for level in self.levels:
            check_level(level)

