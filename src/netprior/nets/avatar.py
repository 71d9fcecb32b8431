"""The pose-to-image translation network of textured neural avatars (thesis §6.4.1): a Johnson et al. (2016)
image-translation network split into a shared encoder and one decoder per output ("head").

    encoder:  c7s1-w → 4 × [conv3 stride 2, channels ×2 up to ``max_channels``] → R/2 residual blocks
    decoder (per head):  R − R/2 residual blocks → 4 × [×2 nearest upsampling, conv3, channels ÷2] → c7s1-out

Every conv is followed by normalisation (instance norm by default) and ReLU, except the last one of each head,
which outputs raw logits.  With ``width`` = 32, ``max_channels`` = 256 and 8 residual blocks (4 in the encoder,
4 in each decoder) the two-head network has about 16 M parameters (the thesis: 17 M).  Input sides must be
multiples of 16.
"""

from __future__ import annotations

from itertools import pairwise

from torch import Tensor, nn

from .layers import conv, norm


def _cnr(cin: int, cout: int, k: int, stride: int, normalization: str) -> list[nn.Module]:
    return [conv(cin, cout, k, stride, pad="reflection"), norm(cout, normalization), nn.ReLU(inplace=True)]


class _Residual(nn.Module):
    def __init__(self, c: int, normalization: str) -> None:
        super().__init__()
        self.body = nn.Sequential(*_cnr(c, c, 3, 1, normalization), conv(c, c, 3, pad="reflection"),
                                  norm(c, normalization))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class AvatarTranslator(nn.Module):
    """Bone stack (B, in_channels, H, W) → {head: (B, channels, H, W) logits} for ``heads`` = {name: channels}."""

    def __init__(self, in_channels: int, heads: dict[str, int], *, width: int = 32, max_channels: int = 256,
                 res_blocks: int = 8, downsamplings: int = 4, normalization: str = "instance") -> None:
        super().__init__()
        self.config = {"in_channels": in_channels, "heads": dict(heads), "width": width, "max_channels": max_channels,
                       "res_blocks": res_blocks, "downsamplings": downsamplings, "normalization": normalization}
        chans = [min(width * 2 ** i, max_channels) for i in range(downsamplings + 1)]
        enc = _cnr(in_channels, chans[0], 7, 1, normalization)
        for a, b in pairwise(chans):
            enc += _cnr(a, b, 3, 2, normalization)
        enc += [_Residual(chans[-1], normalization) for _ in range(res_blocks // 2)]
        self.encoder = nn.Sequential(*enc)
        self.decoders = nn.ModuleDict()
        for name, out in heads.items():
            dec: list[nn.Module] = [_Residual(chans[-1], normalization) for _ in range(res_blocks - res_blocks // 2)]
            for a, b in pairwise(chans[::-1]):
                dec += [nn.Upsample(scale_factor=2, mode="nearest"), *_cnr(a, b, 3, 1, normalization)]
            dec.append(conv(chans[0], out, 7, pad="reflection"))
            self.decoders[name] = nn.Sequential(*dec)
        self.multiple = 2 ** downsamplings

    def forward(self, bones: Tensor) -> dict[str, Tensor]:
        h = self.encoder(bones)
        return {name: dec(h) for name, dec in self.decoders.items()}
