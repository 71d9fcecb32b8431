"""What GAN inversion optimises: parametrizations x = G(·) of a frozen :class:`SplitGenerator`.

Every one handles a batch of B independent targets: all parameters carry a leading batch axis and no
computation mixes samples (the generator runs in eval mode), so one batched run equals B separate runs.

* :class:`LatentCode` – x = G(z), z optimised (latent inversion; Creswell & Bharath, Pividori eq. for z*).
* :class:`LayerOffset` – x = G2(G1(z*) + δ), δ optimised from 0 with z* fixed (Pividori's second step; h* =
  G1(z*) + δ*).
* :class:`MultiCode` – x = G2(A(Σ_n G1(z_n) ⊙ α_n)) with N codes z_n and channel-importance vectors α_n ∈ R^C
  (init 1/N or given per code), optionally an attention module A optimised jointly (mGANprior, Gu et al. 2020,
  thesis eq. 4.3; the thesis' attention variant, §5.3).  For conditional generators G2's context is built from the mean code.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..attention import check_spatial, make_attention
from ..generators.base import SplitGenerator
from .base import Parametrization


class LatentCode(Parametrization):
    """x = G(z) for codes z (B, dim) initialised at ``z0``."""

    def __init__(self, generator: SplitGenerator, z0: Tensor):
        super().__init__()
        self.generator = generator
        self.z = nn.Parameter(z0.detach().clone())

    def forward(self) -> Tensor:
        return self.generator(self.z)

    def penalty(self) -> Tensor:
        """−log P_z(z) per sample (B,)."""
        return self.generator.prior.penalty(self.z)

    def describe(self) -> dict:
        return {"parametrization": "LatentCode", "codes": list(self.z.shape)}


class LayerOffset(Parametrization):
    """x = G2(h0 + δ) with h0 = G1(z*) at ``layer`` fixed and δ (init 0) optimised."""

    def __init__(self, generator: SplitGenerator, layer: str, z: Tensor):
        super().__init__()
        self.generator = generator
        self.layer = generator.check_layer(layer)
        with torch.no_grad():
            self.register_buffer("h0", generator.g1(z, self.layer).detach().clone())
            ctx = generator.condition(z)
        self.register_buffer("ctx", None if ctx is None else ctx.detach().clone())
        self.delta = nn.Parameter(torch.zeros_like(self.h0))

    @property
    def h(self) -> Tensor:
        """h* = G1(z*) + δ."""
        return (self.h0 + self.delta).detach()

    def forward(self) -> Tensor:
        return self.generator.g2(self.h0 + self.delta, self.layer, self.ctx)

    def sparsity(self) -> Tensor:
        """||δ||₁ per sample (B,)."""
        return self.delta.abs().flatten(1).sum(1)

    def describe(self) -> dict:
        return {"parametrization": "LayerOffset", "layer": self.layer, "representation_shape": list(self.h0.shape)}


class MultiCode(Parametrization):
    """mGANprior: codes z (B, N, dim), importances α (B, N, C) = 1/N — or ``weights`` (B, N), one starting value per
    code for all its channels —, composition at ``layer``; ``attention`` in none | self | self-scaled | cbam adds
    one attention module per target, applied to the composed map."""

    def __init__(self, generator: SplitGenerator, layer: str, z0: Tensor, attention: str = "none",
                 weights: Tensor | None = None):
        super().__init__()
        if z0.dim() != 3:
            raise ValueError("multi-code initial codes must have shape (B, N, dim)")
        self.generator = generator
        self.layer = generator.check_layer(layer)
        b, n, _ = z0.shape
        with torch.no_grad():
            feat = generator.g1(z0[0, :1].to(generator.device), self.layer)
        self.feature_shape = tuple(feat.shape[1:])
        self.z = nn.Parameter(z0.detach().clone())
        if weights is None:
            weights = torch.full((b, n), 1.0 / n)
        if tuple(weights.shape) != (b, n):
            raise ValueError(f"weights must have shape {(b, n)}, got {tuple(weights.shape)}")
        self.alpha = nn.Parameter(weights.detach().to(z0)[:, :, None].repeat(1, 1, self.feature_shape[0]))
        self.attention_kind = attention
        if attention != "none":
            check_spatial(feat, attention)
        modules = [make_attention(attention, self.feature_shape[0]) for _ in range(b)]
        self.attention = nn.ModuleList(modules) if attention != "none" else None

    def compose(self) -> Tensor:
        """Σ_n G1(z_n) ⊙ α_n (channel-wise), then the attention module: the representation fed to G2."""
        b, n, d = self.z.shape
        feats = self.generator.g1(self.z.reshape(b * n, d), self.layer).view(b, n, *self.feature_shape)
        alpha = self.alpha.view(b, n, self.feature_shape[0], *([1] * (len(self.feature_shape) - 1)))
        h = (feats * alpha).sum(dim=1)
        if self.attention is not None:
            h = torch.cat([att(h[i:i + 1]) for i, att in enumerate(self.attention)])
        return h

    def forward(self) -> Tensor:
        return self.generator.g2(self.compose(), self.layer, self.generator.condition(self.z.mean(dim=1)))

    def describe(self) -> dict:
        return {"parametrization": "MultiCode", "layer": self.layer, "codes": self.z.shape[1],
                "feature_shape": list(self.feature_shape), "attention": self.attention_kind}
