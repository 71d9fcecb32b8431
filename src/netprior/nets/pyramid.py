"""Semantic Pyramid networks (Shocher et al. 2020, §3.1, Fig. 3): a generator G(z, F, M, y) that mirrors a
classifier's stages, and a class-conditional projection discriminator D(x, y).

Generator (SA-GAN/BigGAN style residual blocks, read from coarse to fine; R is the output side, w the width):

    v  = W_z z                                              z ∈ R^128, the coarsest level (noise)
    v ← ReLU(W_8 [v + P_8 (m_8 · f̂_8) ; m_8])                fc8 (class scores)     — vector levels
    v ← W_7 [v + P_7 (m_7 · f̂_7) ; m_7]  → reshape (8w, R/32, R/32)                  fc7 (penultimate vector)
    for level l = conv5 … conv1 (sides R/32 … R/2):
        h ← [h + K_l (m_l · f̂_l) ; m_l]                     K_l a 3×3 conv, m_l concatenated as one channel
        h ← ResUp_l(h, c)                                    ×2 nearest upsampling, two 3×3 convs, class-BN
        (self-attention after the block that reaches R/4)
    x = (tanh(conv3×3(ReLU(BN(h)))) + 1) / 2                 an image in [0, 1], netprior's range

m_l · f̂_l is the classifier's masked feature map of level l divided by its root mean square per sample over the
positions that pass (a fixed normalisation, so that levels with very different ranges — logits, ReLU6 maps,
signed projections — enter at the same scale, and features under a closed mask do not change that scale).  Where a mask is all zero nothing reaches the path: P_l(0) and K_l(0) are bias-free, so a
masked-out level adds exactly nothing (the paper: "nothing is added to the result of the previous generator
block").  Class-conditional batch norm: BN without affine parameters, then γ(c)·x̂ + β(c) with γ = 1 + W_γ c,
β = W_β c, where c = [E[y]; z] — a shared 128-d class embedding (BigGAN's class embeddings) and, with ``skip_z``
(the default), the noise itself, so that z reaches every block as in BigGAN's hierarchical latent ("skip-z"; the
paper takes "class-embeddings and truncation trick" from BigGAN and feeds z "at the coarsest level").  Without it
the noise passes only through the two vector levels, and the feature maps injected at the finer levels drown it:
trained 400 steps at 64², samples of one reference differed by a pairwise L1 of 0.006–0.019 at every level; with
it by 0.06 (conv1) rising to 0.13 (conv5) — ``benchmarks/results/pyramid_noise.md``.  Re-labelling changes y only.

Discriminator (SA-GAN's, with spectral norm): ResDown blocks w, 2w (self-attention at R/4), 4w, 8w, 8w down to
R/32, ReLU, sum over positions → φ(x); D(x, y) = ψ(φ) + ⟨E_D[y], φ⟩ (Miyato & Koyama 2018's projection), one
unbounded score per image (the LSGAN loss is applied outside).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..attention import SelfAttention

SPATIAL_LEVELS = ("conv1", "conv2", "conv3", "conv4", "conv5")
VECTOR_LEVELS = ("fc7", "fc8")
LEVELS = SPATIAL_LEVELS + VECTOR_LEVELS  # fine → coarse (the classifier's order)
NZ, EMBED = 128, 128
# width multiplier of the generator path entering each spatial level (conv5 at R/32 … conv1 at R/2) and of the
# block that leaves it
_G_IN = {"conv5": 8, "conv4": 8, "conv3": 4, "conv2": 2, "conv1": 1}
_G_OUT = {"conv5": 8, "conv4": 4, "conv3": 2, "conv2": 1, "conv1": 1}
_D_WIDTHS = (1, 2, 4, 8, 8)


def masked_rms_normalise(f: Tensor, m: Tensor, eps: float = 1e-6) -> Tensor:
    """m·f / RMS, the root mean square taken per sample over the channels and the positions that pass (m = 1),
    so that features under a closed mask influence nothing, not even the scale."""
    dims = tuple(range(1, f.dim()))
    mf = f * m
    count = (m.expand_as(f) > 0).sum(dim=dims, keepdim=True).clamp(min=1)
    return mf / ((mf.pow(2).sum(dim=dims, keepdim=True) / count).sqrt() + eps)


class ClassBatchNorm(nn.Module):
    """Class-conditional batch norm: γ(e)·BN(x) + β(e), γ = 1 + W_γ e, β = W_β e (affine-free BN)."""

    def __init__(self, channels: int, embed: int = EMBED):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(embed, channels, bias=False)
        self.bias = nn.Linear(embed, channels, bias=False)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        return self.bn(x) * (1 + self.gain(e))[..., None, None] + self.bias(e)[..., None, None]


class ResBlockUp(nn.Module):
    """BigGAN up block: x → CBN, ReLU, ×2, conv3×3, CBN, ReLU, conv3×3, plus the ×2-upsampled 1×1-conv shortcut."""

    def __init__(self, cin: int, cout: int, cond: int = EMBED):
        super().__init__()
        self.bn1, self.bn2 = ClassBatchNorm(cin, cond), ClassBatchNorm(cout, cond)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, e)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), e)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class PyramidGenerator(nn.Module):
    """G(z, feats, masks, y) → (B, 3, R, R) in [0, 1]; see the module docstring.

    ``channels`` maps each level to the classifier's channels there; ``feats[l]`` is (B, C_l, h_l, w_l) for
    conv levels and (B, C_l) for fc levels, ``masks[l]`` (B, 1, h_l, w_l) resp. (B, 1); a level missing from
    ``feats`` counts as masked out."""

    def __init__(self, resolution: int, channels: dict[str, int], width: int = 32, num_classes: int = 1000,
                 attention: bool = True, skip_z: bool = False):
        super().__init__()
        if resolution < 32 or resolution % 32:
            raise ValueError(f"the pyramid generator needs a resolution that is a multiple of 32, got {resolution}")
        self.config = {"resolution": resolution, "channels": dict(channels), "width": width,
                       "num_classes": num_classes, "attention": attention, "skip_z": skip_z}
        self.resolution, self.nz, self.num_classes = resolution, NZ, num_classes
        self.base = resolution // 32
        hidden = 8 * width
        self.embed = nn.Embedding(num_classes, EMBED)
        self.from_z = nn.Linear(NZ, hidden)
        self.project = nn.ModuleDict({l: nn.Linear(channels[l], hidden, bias=False) for l in VECTOR_LEVELS})
        self.fc8 = nn.Linear(hidden + 1, hidden)
        self.fc7 = nn.Linear(hidden + 1, _G_IN["conv5"] * width * self.base ** 2)
        self.inject = nn.ModuleDict({l: nn.Conv2d(channels[l], _G_IN[l] * width, 3, padding=1, bias=False)
                                     for l in SPATIAL_LEVELS})
        self.skip_z = skip_z
        self.blocks = nn.ModuleDict({l: ResBlockUp(_G_IN[l] * width + 1, _G_OUT[l] * width,
                                                   EMBED + NZ if skip_z else EMBED) for l in SPATIAL_LEVELS})
        self.attention = SelfAttention(_G_OUT["conv3"] * width) if attention else None
        self.out_bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, 3, 3, padding=1)

    def _vector(self, v: Tensor, level: str, feats: dict, masks: dict) -> Tensor:
        m = masks.get(level)
        if level in feats and m is not None:
            v = v + self.project[level](masked_rms_normalise(feats[level], m))
        else:
            m = v.new_zeros(v.shape[0], 1)
        return torch.cat([v, m], 1)

    def forward(self, z: Tensor, feats: dict[str, Tensor], masks: dict[str, Tensor], y: Tensor) -> Tensor:
        e = torch.cat([self.embed(y), z], 1) if self.skip_z else self.embed(y)
        v = F.relu(self.fc8(self._vector(self.from_z(z), "fc8", feats, masks)))
        h = self.fc7(self._vector(v, "fc7", feats, masks)).view(z.shape[0], -1, self.base, self.base)
        for level in reversed(SPATIAL_LEVELS):  # conv5 … conv1
            m = masks.get(level)
            if level in feats and m is not None:
                h = h + self.inject[level](masked_rms_normalise(feats[level], m))
            else:
                m = h.new_zeros(h.shape[0], 1, *h.shape[-2:])
            h = self.blocks[level](torch.cat([h, m.expand(h.shape[0], 1, *h.shape[-2:])], 1), e)
            if level == "conv3" and self.attention is not None:
                h = self.attention(h)
        return (torch.tanh(self.out(F.relu(self.out_bn(h)))) + 1) / 2


class ResBlockDown(nn.Module):
    """SN-GAN discriminator block: [ReLU], conv3×3, ReLU, conv3×3, 2×2 average pool, plus a 1×1-conv shortcut."""

    def __init__(self, cin: int, cout: int, first: bool = False):
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(nn.Conv2d(cin, cout, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(cin, cout, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        s = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + s


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨E_D[y], φ(x)⟩ on (B, 3, R, R) images in [0, 1] (mapped to [−1, 1] inside)."""

    def __init__(self, resolution: int, width: int = 32, num_classes: int = 1000, attention: bool = True):
        super().__init__()
        chans = [3] + [m * width for m in _D_WIDTHS]
        self.blocks = nn.ModuleList(ResBlockDown(a, b, first=i == 0) for i, (a, b) in
                                    enumerate(itertools.pairwise(chans)))
        self.attention = SelfAttention(chans[2]) if attention else None
        self.linear = spectral_norm(nn.Linear(chans[-1], 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, chans[-1]))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = 2 * x - 1
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == 1 and self.attention is not None:  # at R/4
                h = self.attention(h)
        phi = F.relu(h).sum(dim=(2, 3))
        return self.linear(phi).squeeze(1) + (self.embed(y) * phi).sum(1)
