"""GAN-inversion settings: the reconstruction loss's feature term (:class:`FeatureLoss`) and everything that defines
an inversion run (:class:`InversionConfig`), with one preset per method — latent search, two-step, mGANprior."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..attention import ATTENTIONS
from ..config import Config, register
from ..errors import InputError

METHODS = ("latent", "two-step", "mgan")
MGAN_INITS = ("latent", "random")
DISTANCES = {"l2": "mse", "l1": "l1"}  # this method's names → :data:`netprior.objective.DISTANCES`


@dataclass(frozen=True)
class FeatureLoss(Config):
    """φ and d of the reconstruction loss: backbone name, its taps, weight λ_feat (0 = pixels only), distance."""

    backbone: str = "lite0"
    layers: tuple[str, ...] = ("stage3",)
    weight: float = 1e-3
    distance: str = "l2"

    def validate(self):
        if self.distance not in DISTANCES:
            raise InputError(f"feature distance must be one of {', '.join(DISTANCES)}")


@dataclass(frozen=True)
class InversionConfig(Config):
    """Everything that defines an inversion run (recorded in sidecars)."""

    method: str = "latent"
    layer: str | None = None  # two-step: the offset layer (None = dense); mgan: composition (None = G's default)
    iters: int = 500  # latent / mgan steps
    lr: float = 0.1
    restarts: int = 4
    lambda_prior: float = 1e-4
    offset_iters: int = 500  # two-step, second step
    offset_lr: float = 0.05
    lambda_offset: float = 1e-5
    codes: int = 20
    attention: str = "none"
    init: str = "latent"  # mgan: "latent" (codes around the latent solution z*) or "random" (Gaussian, the thesis')
    init_iters: int = 500  # mgan, init "latent": steps (per restart) and lr of the latent phase
    init_lr: float = 0.1
    init_spread: float = 0.1  # mgan, init "latent": z_n = z* + init_spread·ε_n
    feature: FeatureLoss = field(default_factory=FeatureLoss)
    source: str = ""

    def validate(self):
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.attention not in ATTENTIONS:
            raise InputError(f"unknown attention {self.attention!r}; use one of {', '.join(ATTENTIONS)}")
        if self.attention != "none" and self.method != "mgan":
            raise InputError("attention modules apply to the mgan method (at its composition layer)")
        if self.init not in MGAN_INITS:
            raise InputError(f"unknown mgan initialisation {self.init!r}; use one of {', '.join(MGAN_INITS)}")
        if self.codes < 1 or self.restarts < 1 or self.iters < 1 or self.init_iters < 1:
            raise InputError("codes, restarts and iterations must be >= 1")


_TUNED = "tuned on the 64x64 DCGAN face generator (module docstring; benchmarks/gan_inversion.py)"
DEFAULTS: dict[str, InversionConfig] = register("gan", {
    "latent": InversionConfig("latent", source=f"Pividori §3.3, Creswell & Bharath; lr, steps, λ's {_TUNED}"),
    "two-step": InversionConfig("two-step", source=f"Pividori §3.3 (latent, then dense offset); {_TUNED}"),
    "mgan": InversionConfig("mgan", iters=3000, lr=0.01, source="Gu et al. 2020, Kostakis thesis §4.3 (N = 20, "
                            "3000 steps); lr 0.01 and the latent start measured (issue 20)"),
})


def make_config(method: str, **overrides) -> InversionConfig:
    """The method's defaults with ``overrides`` (None values ignored; ``feature_*`` keys go into FeatureLoss)."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    cfg = DEFAULTS[method]
    feat = {k.removeprefix("feature_"): v for k, v in overrides.items() if k.startswith("feature_") and v is not None}
    if feat:
        if "layers" in feat:
            feat["layers"] = tuple(feat["layers"])
        cfg = replace(cfg, feature=replace(cfg.feature, **feat))
    return cfg.override(**{k: v for k, v in overrides.items() if not k.startswith("feature_")})
