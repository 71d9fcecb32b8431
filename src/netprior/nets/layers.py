"""Building blocks shared by the generator networks: padded convolutions with a choice of downsampling,
activations, normalisation and a channel concatenation that tolerates off-by-one spatial sizes."""

from __future__ import annotations

import torch
from torch import nn

from ..operators import downsampling_taps

PADDINGS = ("zero", "reflection", "circular")
DOWNSAMPLERS = ("stride", "avg", "max", "lanczos2")


class LanczosDownsample(nn.Module):
    """Fixed (non-learned) antialiased ×2 downsampling with the Lanczos-2 kernel of :class:`operators.Downsample`."""

    def __init__(self, channels: int, factor: int = 2):
        super().__init__()
        taps, self.pad_l, self.pad_r = downsampling_taps(factor, "lanczos2")
        k = torch.tensor(taps, dtype=torch.float32)
        self.register_buffer("kernel", torch.outer(k, k).expand(channels, 1, len(k), len(k)).contiguous())
        self.factor = factor

    def forward(self, x):
        x = nn.functional.pad(x, (self.pad_l, self.pad_r, self.pad_l, self.pad_r), mode="replicate")
        return nn.functional.conv2d(x, self.kernel.to(x.dtype), stride=self.factor, groups=x.shape[1])


class BinomialBlur(nn.Module):
    """Fixed per-channel low-pass b ⊗ b with b = [1, 2, 1]/4, reflection padding, stride 1.  Its frequency response
    is cos²(πf) per axis: 1 at f = 0, 1/2 at a period of 4 px, 0 at the Nyquist frequency (a period-2 pattern is
    removed exactly).  Put before a stride-2 convolution it anti-aliases the subsampling (Zhang 2019, "Making
    convolutional networks shift-invariant again"; StyleGAN's discriminator low-passes its downsampling the same
    way): blur and convolution commute, so the strided convolution samples a low-passed signal."""

    def __init__(self):
        super().__init__()
        b = torch.tensor([1.0, 2.0, 1.0]) / 4
        self.register_buffer("kernel", torch.outer(b, b)[None, None], persistent=False)

    def forward(self, x):
        x = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        c = x.shape[1]
        return nn.functional.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 3, 3), groups=c)


def conv(cin: int, cout: int, kernel: int, stride: int = 1, *, bias: bool = True, pad: str = "zero",
         downsample: str = "stride") -> nn.Sequential:
    """k×k convolution with 'same' padding (zero, reflection or circular); with stride 2 the downsampling is done
    by the strided convolution itself (``stride``) or by a conv followed by avg/max pooling or a Lanczos filter."""
    if pad not in PADDINGS:
        raise ValueError(f"pad must be one of {PADDINGS}, got {pad!r}")
    if downsample not in DOWNSAMPLERS:
        raise ValueError(f"downsample must be one of {DOWNSAMPLERS}, got {downsample!r}")
    post = None
    if stride != 1 and downsample != "stride":
        post = {"avg": lambda: nn.AvgPool2d(stride, stride), "max": lambda: nn.MaxPool2d(stride, stride),
                "lanczos2": lambda: LanczosDownsample(cout, stride)}[downsample]()
        stride = 1
    p = (kernel - 1) // 2
    layers: list[nn.Module] = []
    if pad == "reflection" and p > 0:
        layers.append(nn.ReflectionPad2d(p))
        p = 0
    layers.append(nn.Conv2d(cin, cout, kernel, stride, padding=p, bias=bias,
                            padding_mode="circular" if pad == "circular" else "zeros"))
    if post is not None:
        layers.append(post)
    return nn.Sequential(*layers)


def act(name: str = "LeakyReLU") -> nn.Module:
    """LeakyReLU(0.2) (the DIP default), ReLU, ELU or Swish."""
    table = {"LeakyReLU": lambda: nn.LeakyReLU(0.2, inplace=True), "ReLU": lambda: nn.ReLU(inplace=True),
             "ELU": lambda: nn.ELU(), "Swish": lambda: nn.SiLU(), "none": nn.Identity}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; use one of {sorted(table)}")
    return table[name]()


def norm(channels: int, kind: str = "batch") -> nn.Module:
    """BatchNorm (DIP default), instance normalisation (affine) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}; use batch, instance or none")


class Concat(nn.Module):
    """Run branches on the same input and concatenate along channels, centre-cropping to the smallest H, W
    (needed when an odd size was halved and doubled again)."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        outs = [b(x) for b in self.branches]
        h = min(o.shape[2] for o in outs)
        w = min(o.shape[3] for o in outs)
        outs = [o[:, :, (o.shape[2] - h) // 2:(o.shape[2] - h) // 2 + h, (o.shape[3] - w) // 2:(o.shape[3] - w) // 2 + w]
                for o in outs]
        return torch.cat(outs, dim=1)
