"""Attention modules for a generator's feature maps (Kostakis thesis ch. 5; used at mGANprior's composition layer).

* :class:`SelfAttention` – SAGAN self-attention (Zhang et al. 2019; thesis §5.1, Fig. 5.1).  For a feature map
  x ∈ R^{C×N} (N = H·W positions) with keys f(x) = W_f x, queries g(x) = W_g x (both C/8 channels) and values
  h(x) = W_h x (C channels):

      s_ij = g(x_i)ᵀ f(x_j)                      ("dot" scoring, SAGAN)
      s_ij = g(x_i)ᵀ f(x_j) / √d_k,  d_k = C/8    ("scaled-dot" scoring, Vaswani et al., thesis eq. 5.1)
      β_ij = softmax_j(s_ij),   o_i = Σ_j β_ij h(x_j),   y = γ·o + x,  γ initialised to 0

  so an added block starts as the identity.  ``last_attention`` keeps β (B, N, N) of the latest call.
* :class:`CBAM` – convolutional block attention module (Woo et al. 2018; thesis §5.2, eqs. 5.2–5.4): channel
  attention M_c(F) = σ(MLP(AvgPool(F)) + MLP(MaxPool(F))) with a shared one-hidden-layer ReLU MLP of C/r units
  (r = 16), then spatial attention M_s(F') = σ(BN(f^{7×7}([AvgPool_c(F'); MaxPool_c(F')]))):

      F' = M_c(F) ⊗ F,   F'' = M_s(F') ⊗ F'

  The batch normalisation after the 7×7 convolution is the official implementation's default (thesis §5.2.1).
  CBAM is applied as published, without a residual path, so at initialisation it scales the features by about
  σ(·) ≈ ½ per gate; when it sits at mGANprior's composition layer the channel-importance vectors α_n, optimised
  jointly, can compensate.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .errors import InputError

SCORINGS = ("dot", "scaled-dot")
ATTENTIONS = ("none", "self", "self-scaled", "cbam")


class SelfAttention(nn.Module):
    """SAGAN self-attention block y = γ·o + x over all spatial positions (see module docstring)."""

    def __init__(self, channels: int, scoring: str = "dot", reduction: int = 8):
        super().__init__()
        if scoring not in SCORINGS:
            raise InputError(f"unknown attention scoring {scoring!r}; use one of {', '.join(SCORINGS)}")
        inner = max(1, channels // reduction)
        self.scoring = scoring
        self.key = nn.Conv2d(channels, inner, 1)
        self.query = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.last_attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
        k = self.key(x).flatten(2)  # (B, C/8, N)
        scores = q @ k
        if self.scoring == "scaled-dot":
            scores = scores / math.sqrt(k.shape[1])
        attn = scores.softmax(dim=-1)  # β_ij: row i attends over positions j
        self.last_attention = attn.detach()
        v = self.value(x).flatten(2)  # (B, C, N)
        out = (v @ attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


class ChannelAttention(nn.Module):
    """M_c(F) = σ(W_1 ReLU(W_0 AvgPool(F)) + W_1 ReLU(W_0 MaxPool(F))), shape (B, C, 1, 1) (eq. 5.4)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        avg = self.mlp(x.mean(dim=(2, 3)))
        mx = self.mlp(x.amax(dim=(2, 3)))
        return torch.sigmoid(avg + mx)[..., None, None]


class SpatialAttention(nn.Module):
    """M_s(F) = σ(BN(f^{k×k}([mean_c F; max_c F]))), shape (B, 1, H, W) (eq. 5.3, k = 7)."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    """Channel then spatial attention: F' = M_c(F) ⊗ F, F'' = M_s(F') ⊗ F' (eq. 5.2)."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.channel(x) * x
        return self.spatial(x) * x


def make_attention(kind: str, channels: int) -> nn.Module | None:
    """``none`` → None, ``self`` → SAGAN dot-product, ``self-scaled`` → scaled dot-product, ``cbam`` → CBAM."""
    if kind == "none":
        return None
    if kind == "self":
        return SelfAttention(channels, "dot")
    if kind == "self-scaled":
        return SelfAttention(channels, "scaled-dot")
    if kind == "cbam":
        return CBAM(channels)
    raise InputError(f"unknown attention {kind!r}; use one of {', '.join(ATTENTIONS)}")


def check_spatial(x: Tensor, kind: str) -> None:
    """Attention needs a spatial map (B, C, H, W); a flat dense-layer vector has no positions to attend over."""
    if x.dim() != 4:
        raise InputError(f"{kind} attention needs a spatial feature map (B, C, H, W) at the composition layer, "
                         f"got shape {tuple(x.shape)}; choose a convolutional layer")
