"""Networks of Adversarial Generator-Encoder (AGE) networks (Ulyanov et al. 2018; thesis ch. 4).

Unconditional (§4.3.1): the generator is the DCGAN generator (:class:`~netprior.nets.dcgan.DCGANGenerator`) fed
with codes on the unit sphere S^(M−1) ⊂ R^M; the encoder :class:`AGEEncoder` is the DCGAN discriminator with an
M-channel last convolution followed by the projection z ↦ z / ||z|| onto the sphere (the thesis replaces D's
sigmoid by "the normalization layer that projects the points onto the sphere").  ``antialias`` (our option, off in
the thesis' configuration) low-passes the input of each of e's stride-2 convolutions with a fixed [1, 2, 1]²
filter, so that e cannot read patterns near the Nyquist frequency and g cannot hide z in them (the stripe grid
of a CPU-budget game, docs/methods/age.md).

Conditional, for colourisation in Lab space (§4.3.2): the data sample is the ab chrominance, the condition the
lightness L.  :class:`ColorizationGenerator` g(z | L) stacks L with the code z expanded to M constant maps and
applies a small ResNet (one stride-2 convolution, residual blocks, nearest up-sampling; fully convolutional, so it
colours images of any size); :class:`ColorizationEncoder` e(ab | L) is a convolutional net on the Lab image with a
global average pooling, a linear layer to M and the sphere projection.  Both talk in normalised units:
L/50 − 1 ∈ [−1, 1] and ab/110 ∈ [−1, 1] (the generator's tanh output).  Sizes are decisions (the thesis defers
them to its supplementary material): 32–64 channels, 4 residual blocks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .dcgan import dcgan_discriminator_layers, init_dcgan_weights
from .layers import conv

AB_SCALE, L_SCALE = 110.0, 50.0


def to_sphere(z: Tensor, eps: float = 1e-8) -> Tensor:
    """Project rows of ``z`` (B, M) onto the unit sphere: z / ||z||."""
    return z / z.norm(dim=1, keepdim=True).clamp_min(eps)


class AGEEncoder(nn.Module):
    """e: (B, C, size, size) images in [0, 1] → (B, nz) codes on the unit sphere."""

    def __init__(self, size: int = 64, nz: int = 64, width: int = 64, channels: int = 3, norm: str = "batch",
                 antialias: bool = False):
        super().__init__()
        self.config = {"size": size, "nz": nz, "width": width, "channels": channels, "norm": norm,
                       "antialias": antialias}
        self.nz = nz
        self.main = init_dcgan_weights(dcgan_discriminator_layers(size, width, channels, norm, outputs=nz,
                                                                  antialias=antialias))

    def forward(self, x: Tensor) -> Tensor:
        return to_sphere(self.main(2 * x - 1).flatten(1))


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3, pad="reflection", bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU(True), conv(c, c, 3, pad="reflection", bias=False), nn.BatchNorm2d(c))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ColorizationGenerator(nn.Module):
    """g: (codes (B, nz), L (B, 1, H, W) in [0, 100]) → ab (B, 2, H, W) in about [−110, 110]; H, W even."""

    def __init__(self, nz: int = 3, width: int = 32, blocks: int = 4):
        super().__init__()
        self.config = {"nz": nz, "width": width, "blocks": blocks}
        self.nz = nz
        w2 = 2 * width
        self.main = nn.Sequential(
            conv(1 + nz, width, 3, pad="reflection", bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            conv(width, w2, 3, 2, pad="reflection", bias=False), nn.BatchNorm2d(w2), nn.ReLU(True),
            *[_Residual(w2) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv(w2, width, 3, pad="reflection", bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            conv(width, 2, 3, pad="reflection"), nn.Tanh())

    def forward(self, z: Tensor, lightness: Tensor) -> Tensor:
        b, _, h, w = lightness.shape
        maps = z.reshape(b, self.nz, 1, 1).expand(b, self.nz, h, w)
        return AB_SCALE * self.main(torch.cat([lightness / L_SCALE - 1, maps], 1))


class ColorizationEncoder(nn.Module):
    """e: (ab (B, 2, H, W), L (B, 1, H, W)) → (B, nz) codes on the unit sphere."""

    def __init__(self, nz: int = 3, width: int = 32):
        super().__init__()
        self.config = {"nz": nz, "width": width}
        self.nz = nz
        c = width
        self.main = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * c), nn.LeakyReLU(0.2, True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * c, nz))

    def forward(self, ab: Tensor, lightness: Tensor) -> Tensor:
        return to_sphere(self.main(torch.cat([lightness / L_SCALE - 1, ab / AB_SCALE], 1)))
