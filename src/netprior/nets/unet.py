"""U-Net (Ronneberger et al.) as used in the DIP architecture comparison (thesis Fig. 7.8): max-pool
downsampling, two 3×3 conv–norm–act per level, upsampling by transposed convolution (or nearest/bilinear + conv),
concatenation with the encoder feature of the same scale.  Widths are (64, 128, 256, 512, 1024)/feature_scale."""

from __future__ import annotations

import torch
from torch import nn

from .layers import act, conv, norm


def _double_conv(cin: int, cout: int, pad: str, normalization: str, activation: str) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, 3, pad=pad), norm(cout, normalization), act(activation),
                         conv(cout, cout, 3, pad=pad), norm(cout, normalization), act(activation))


def _crop_cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    h, w = min(a.shape[2], b.shape[2]), min(a.shape[3], b.shape[3])
    return torch.cat([a[:, :, :h, :w], b[:, :, :h, :w]], dim=1)


class _Level(nn.Module):
    """e = convs(pool(x)); output = convs(concat(e, up(inner(e)))) — or e itself at the coarsest level."""

    def __init__(self, cin: int, widths: list[int], pool: bool, upsample: str, pad: str, normalization: str,
                 activation: str):
        super().__init__()
        c = widths[0]
        self.enc = nn.Sequential(nn.MaxPool2d(2) if pool else nn.Identity(),
                                 _double_conv(cin, c, pad, normalization, activation))
        self.inner = None
        if len(widths) > 1:
            self.inner = _Level(c, widths[1:], True, upsample, pad, normalization, activation)
            cu = widths[1]
            self.up = (nn.ConvTranspose2d(cu, c, 4, stride=2, padding=1) if upsample == "deconv" else
                       nn.Sequential(nn.Upsample(scale_factor=2, mode=upsample), conv(cu, c, 3, pad=pad)))
            self.fuse = _double_conv(2 * c, c, pad, normalization, activation)

    def forward(self, x):
        e = self.enc(x)
        if self.inner is None:
            return e
        return self.fuse(_crop_cat(e, self.up(self.inner(e))))


class UNet(nn.Module):
    """x → ``levels``+1 encoder/decoder levels (the first at full resolution) → 1×1 conv → sigmoid."""

    def __init__(self, in_channels: int = 32, out_channels: int = 3, *, feature_scale: int = 4, levels: int = 4,
                 upsample: str = "deconv", pad: str = "zero", normalization: str = "batch",
                 activation: str = "ReLU", sigmoid: bool = True):
        super().__init__()
        widths = [max(1, w // feature_scale) for w in (64, 128, 256, 512, 1024, 1024, 1024)][: levels + 1]
        self.body = _Level(in_channels, widths, False, upsample, pad, normalization, activation)
        self.head = nn.Sequential(nn.Conv2d(widths[0], out_channels, 1), nn.Sigmoid() if sigmoid else nn.Identity())

    def forward(self, x):
        return self.head(self.body(x))
