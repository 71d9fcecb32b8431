"""Fully convolutional patch critic d(p) for IMAGINE's patch-consistency regulariser (Wang et al. 2021, eqs. 6–8).

Applied to a whole image, the critic returns one score per receptive-field window, so the image-level critic of
eq. 7 is the mean of that map: D(x) = E_{p∼x}[d(p)].

Architecture (IMAGINE leaves it to its supplementary material, which is not available; decisions):

* PatchGAN-style stack (Isola et al. 2017, "[19]" of the paper): 4×4 convolutions, the first ``downsample`` of them
  with stride 2, LeakyReLU(0.2), and a final 4×4 convolution to one channel.  Defaults: channels 16, 32, 64 (two
  stride-2 layers), which gives a 34×34-pixel receptive field — about a quarter of the side of a 128 px image (the
  proportion of pix2pix's 70 px patches on 256 px images) and a sixth of a 224 px one: mid-sized patches that carry
  texture and local structure but not the layout, which is left to the classifier's feature statistics.  The
  channels are an eighth of pix2pix's so that the critic, evaluated four times per step (real, fake, the
  interpolates of the penalty, x̂), costs about as much as the classifier's forward pass (≈ 48 M multiply-adds at
  128 px against ≈ 130 M for Lite0).
* No normalisation layer: the WGAN-GP penalty is defined per sample, which batch normalisation breaks
  (Gulrajani et al. 2017, §4 recommend a critic without it).
* Zero padding of 1 on every layer, so that border patches are scored too.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class PatchDiscriminator(nn.Module):
    """Patch critic: (B, C, H, W) image in [0, 1] → (B, 1, h, w) map of patch scores (unbounded, Wasserstein)."""

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (16, 32, 64), downsample: int = 2,
                 kernel: int = 4) -> None:
        super().__init__()
        channels = list(channels)
        if not channels:
            raise ValueError("the patch discriminator needs at least one hidden layer")
        if not 0 <= downsample <= len(channels):
            raise ValueError(f"downsample must be in [0, {len(channels)}], got {downsample}")
        layers: list[nn.Module] = []
        strides = [2 if i < downsample else 1 for i in range(len(channels))] + [1]
        cin = in_channels
        for cout, stride in zip(channels, strides):
            layers += [nn.Conv2d(cin, cout, kernel, stride, padding=1), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, kernel, 1, padding=1))
        self.net = nn.Sequential(*layers)
        self.strides = strides
        self.kernel = kernel

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the input window seen by one output score: r ← (r − 1)·s + k, from the last layer."""
        r = 1
        for s in reversed(self.strides):
            r = (r - 1) * s + self.kernel
        return r

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def score(self, x: Tensor) -> Tensor:
        """D(x) = E_p d(p): the mean patch score of each image, shape (B,)."""
        return self.net(x).flatten(1).mean(dim=1)
