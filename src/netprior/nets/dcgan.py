"""DCGAN generator and discriminator (Radford et al. 2016, §3 and Fig. 1), for any power-of-two size ≥ 16.

Generator: z (nz×1×1) → ConvT(nz → w·2^(n−1), 4, 1, 0) [4×4] → n − 1 times [BN, ReLU, ConvT(c → c/2, 4, 2, 1)]
→ BN, ReLU, ConvT(w → C, 4, 2, 1) → tanh, with n = log2(size) − 2 up-sampling stages; at 64² and w = 64 this is
the PyTorch DCGAN tutorial's network, layer for layer (the ``main`` of :mod:`netprior.generators.dcgan_faces`).
Discriminator: the mirror image — Conv(C → w, 4, 2, 1), LeakyReLU(0.2), then n − 1 times [Conv(c → 2c, 4, 2, 1),
BN, LeakyReLU(0.2)] down to 4×4, and Conv(→ 1, 4, 1, 0): one logit per image.  No bias before a BN, weights
initialised from N(0, 0.02) and BN scales from N(1, 0.02) (§4).  Both networks talk in netprior's image range
[0, 1]: the generator maps its tanh output t to (t + 1)/2, the discriminator maps its input x to 2x − 1.

:class:`~netprior.nets.discriminator.PatchDiscriminator` is a different critic (a map of Wasserstein patch scores,
no normalisation, for WGAN-GP); DCGAN needs one logit per image and batch norm, hence this module.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .layers import BinomialBlur


def _stages(size: int) -> int:
    n = int(math.log2(size)) - 2 if size > 0 else 0
    if size < 16 or 2 ** (n + 2) != size:
        raise ValueError(f"DCGAN sizes are powers of two >= 16, got {size}")
    return n


def _norm(channels: int, norm: str) -> nn.Module:
    if norm not in ("batch", "none"):
        raise ValueError(f"norm must be batch or none, got {norm!r}")
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


UPSAMPLERS = ("transposed", "nearest")


def _up(cin: int, cout: int, upsample: str, bias: bool) -> nn.Module:
    """One ×2 up-sampling stage: ConvT(4, 2, 1) (DCGAN's) or nearest ×2 followed by a 3×3 convolution."""
    if upsample == "transposed":
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)
    if upsample == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias))
    raise ValueError(f"upsample must be one of {', '.join(UPSAMPLERS)}, got {upsample!r}")


def dcgan_generator_layers(size: int = 64, nz: int = 100, width: int = 64, channels: int = 3,
                           norm: str = "batch", upsample: str = "transposed") -> nn.Sequential:
    """The generator's layers as one ``nn.Sequential`` (tanh output in [−1, 1]); see the module docstring."""
    n = _stages(size)
    c = width * 2 ** (n - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(nz, c, 4, 1, 0, bias=norm == "none")]
    for _ in range(n - 1):
        layers += [_norm(c, norm), nn.ReLU(True), _up(c, c // 2, upsample, norm == "none")]
        c //= 2
    layers += [_norm(c, norm), nn.ReLU(True), _up(c, channels, upsample, False), nn.Tanh()]
    return nn.Sequential(*layers)


def init_dcgan_weights(net: nn.Module) -> nn.Module:
    """DCGAN initialisation (§4): convolutions N(0, 0.02), BN scale N(1, 0.02) and shift 0 (global torch RNG)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


class DCGANGenerator(nn.Module):
    """G: (B, nz) or (B, nz, 1, 1) codes → (B, C, size, size) images in [0, 1]."""

    def __init__(self, size: int = 64, nz: int = 100, width: int = 64, channels: int = 3, norm: str = "batch",
                 upsample: str = "transposed"):
        super().__init__()
        self.config = {"size": size, "nz": nz, "width": width, "channels": channels, "norm": norm,
                       "upsample": upsample}
        self.nz = nz
        self.main = init_dcgan_weights(dcgan_generator_layers(size, nz, width, channels, norm, upsample))

    def forward(self, z: Tensor) -> Tensor:
        return (self.main(z.reshape(z.shape[0], self.nz, 1, 1)) + 1) / 2


def dcgan_discriminator_layers(size: int = 64, width: int = 64, channels: int = 3, norm: str = "batch",
                               outputs: int = 1, antialias: bool = False) -> nn.Sequential:
    """The discriminator's layers (input in [−1, 1]) ending in a 4×4 convolution to ``outputs`` channels at 1×1
    (one logit for D; the code of an AGE encoder, :mod:`netprior.nets.age`).  ``antialias``: a
    :class:`~netprior.nets.layers.BinomialBlur` before every stride-2 convolution (an option of the AGE encoder)."""
    n = _stages(size)

    def down(cin: int, cout: int, bias: bool) -> list[nn.Module]:
        return [*([BinomialBlur()] if antialias else []), nn.Conv2d(cin, cout, 4, 2, 1, bias=bias)]

    layers: list[nn.Module] = [*down(channels, width, False), nn.LeakyReLU(0.2, True)]
    c = width
    for _ in range(n - 1):
        layers += [*down(c, 2 * c, norm == "none"), _norm(2 * c, norm), nn.LeakyReLU(0.2, True)]
        c *= 2
    layers.append(nn.Conv2d(c, outputs, 4, 1, 0, bias=False))
    return nn.Sequential(*layers)


class DCGANDiscriminator(nn.Module):
    """D: (B, C, size, size) images in [0, 1] → (B,) logits (real > 0)."""

    def __init__(self, size: int = 64, width: int = 64, channels: int = 3, norm: str = "batch"):
        super().__init__()
        self.config = {"size": size, "width": width, "channels": channels, "norm": norm}
        self.main = init_dcgan_weights(dcgan_discriminator_layers(size, width, channels, norm))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(2 * x - 1).flatten()


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
