"""Perceptual discriminator (Sungatullina, Zakharov, Ulyanov & Lempitsky 2018; thesis ch. 5, Fig. 5.1).

The features f_i of K consecutive blocks b_i of a frozen classifier (eqs. 5.2–5.3; here the taps of a
:mod:`netprior.backbones` network, each half the side of the previous one) are combined by learnable blocks c_i:

    h_1 = f_1,    h_i = stack[c_{i−1}(h_{i−1}), f_i],  i = 2 … K                                   (eqs. 5.4–5.5)

c_j = 3×3 convolution, LeakyReLU(0.2), 2×2 average pooling (the halving of b_j).  The main output d_main is a 3×3
convolution + LeakyReLU + global average + linear layer on h_K (one logit per image); with ``multiscale`` every
h_j, j < K, also gets a patch output d_j = 3×3 convolution + LeakyReLU + 1×1 convolution (a logit per location),
the multi-scale discriminator of eq. 5.6.  The loss of eq. 5.6 sums the log-probabilities of every output; see
:func:`netprior.recipes.translate.adversarial_losses` (per output the locations are averaged).

Trunks (what produces the f_i):

* :class:`FrozenTaps` — a pretrained backbone, frozen: gradients flow through it to the generator, but its weights
  are neither trained nor part of the discriminator's parameters or state dict (it is kept outside the module
  tree).  Tap scale (not in the thesis; :meth:`FrozenTaps.calibrate`): each tap is divided by a fixed number,

      f_i ← f_i / σ_i,   σ_i = std of f_i over a batch of real images of the discriminator's domain,

  measured once before training and then fixed (a buffer: saved with the discriminator, never trained).  Without
  it the raw taps of Lite0 have std 8–11 on photos against 0.02–0.19 for the learned trunk at initialisation, and
  the discriminator's gradient to the generator's output is ~1200× the plain one's and ~370× that of the identity
  loss (eq. 5.7); scaled, 6× smaller at initialisation and 2× after 40 discriminator steps, and the translation
  benchmark improves on every measure (one seed; benchmarks/results/translate.md, docs/methods/translate.md).  The
  gradient stays far above the plain discriminator's: pretrained features are more sensitive to the input.
  σ_i = 1 (the raw features) until calibrated.  ``vgg_star`` makes the thesis' VGG* from VGG-16: max-pooling →
  average pooling, ReLU → LeakyReLU(0.2) (§5.3.3.1; the thesis also fine-tuned VGG* on ImageNet for two days,
  which is not done here).
* :class:`LearnedTaps` — the same channel counts and resolutions from learnable stride-2 convolutions + LeakyReLU:
  the "plain" multi-scale patch discriminator with a trunk shared across scales (the MS-CycleGAN baseline of
  Fig. 5.4d), trained from scratch.

Backbone choices (tap → side at a 64² input): ``lite0`` stage1–stage4 (16, 24, 40, 80 channels; 32, 16, 8, 4 px),
offline; ``vgg16-hed`` relu1_2, relu2_2, relu3_3, relu4_3 (64, 128, 256, 512; 64, 32, 16, 8 px).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

TAPS = {"lite0": ("stage1", "stage2", "stage3", "stage4"),
        "vgg16-hed": ("relu1_2", "relu2_2", "relu3_3", "relu4_3")}
CHANNELS = {"lite0": (16, 24, 40, 80), "vgg16-hed": (64, 128, 256, 512)}
TRUNKS = ("lite0", "vgg16-hed", "vgg*", "patch")


class FrozenTaps(nn.Module):
    """f_1 … f_K of a frozen pretrained backbone (held outside the module tree: no parameters, no state)."""

    def __init__(self, name: str = "lite0", *, vgg_star: bool = False):
        super().__init__()
        from ..backbones import get_backbone

        backbone = get_backbone(name, avg_pool=vgg_star)
        if vgg_star:
            for step, module in list(backbone.steps.items()):
                if isinstance(module, nn.ReLU):
                    backbone.steps[step] = nn.LeakyReLU(0.2)
        self._backbone = [backbone.requires_grad_(False)]
        self.taps, self.channels = TAPS[name], CHANNELS[name]
        self.register_buffer("scale", torch.ones(len(self.taps)))

    def _raw(self, x: Tensor) -> list[Tensor]:
        bb = self._backbone[0]
        if bb.mean.device != x.device:
            bb.to(x.device)
        feats = bb(x, self.taps)
        return [feats[t] for t in self.taps]

    @torch.no_grad()
    def calibrate(self, real: Tensor) -> None:
        """Fix σ_i = std of the raw tap f_i over the images ``real`` (N, 3, H, W in [0, 1]), so that the taps
        have unit std on them from now on."""
        self.scale.copy_(torch.stack([f.std() for f in self._raw(real)]).clamp_min(1e-6))

    def forward(self, x: Tensor) -> list[Tensor]:
        return [f / s for f, s in zip(self._raw(x), self.scale)]


class LearnedTaps(nn.Module):
    """K learnable stride-2 blocks (4×4 convolution, LeakyReLU(0.2)) giving f_i of the given channel counts at
    sides 1/2, 1/4 … of the input (the trunk of the plain patch discriminator)."""

    def __init__(self, channels: tuple[int, ...] = (16, 24, 40, 80), in_channels: int = 3):
        super().__init__()
        self.channels = channels
        blocks, c = [], in_channels
        for cout in channels:
            blocks.append(nn.Sequential(nn.Conv2d(c, cout, 4, 2, 1), nn.LeakyReLU(0.2, True)))
            c = cout
        self.blocks = nn.ModuleList(blocks)

    def calibrate(self, real: Tensor) -> None:
        """Nothing to fix: a learned trunk sets its own scale."""

    def forward(self, x: Tensor) -> list[Tensor]:
        out, h = [], 2 * x - 1
        for block in self.blocks:
            h = block(h)
            out.append(h)
        return out


def _lrelu_conv(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.LeakyReLU(0.2, True))


class PerceptualDiscriminator(nn.Module):
    """(B, 3, H, W) images in [0, 1] → [d_main (B,), d_1 (B, 1, h_1, w_1), …] logits (real > 0); see the module
    docstring.  ``trunk``: lite0, vgg16-hed, vgg* (VGG-16 made VGG*-like) or patch (learned trunk)."""

    def __init__(self, trunk: str = "lite0", *, width: int = 32, multiscale: bool = True):
        super().__init__()
        if trunk not in TRUNKS:
            raise ValueError(f"trunk must be one of {', '.join(TRUNKS)}, got {trunk!r}")
        self.config = {"trunk": trunk, "width": width, "multiscale": multiscale}
        if trunk == "patch":
            self.trunk: nn.Module = LearnedTaps()
        else:
            self.trunk = FrozenTaps("vgg16-hed" if trunk == "vgg*" else trunk, vgg_star=trunk == "vgg*")
        f = self.trunk.channels
        mixes, c = [], f[0]
        h_channels = [c]
        for i in range(1, len(f)):
            out = min(width * 2 ** (i - 1), 8 * width)
            mixes.append(nn.Sequential(_lrelu_conv(c, out), nn.AvgPool2d(2)))
            c = out + f[i]
            h_channels.append(c)
        self.mix = nn.ModuleList(mixes)
        self.main = nn.Sequential(_lrelu_conv(c, 8 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(8 * width, 1))
        self.patches = nn.ModuleList(nn.Sequential(_lrelu_conv(hc, width), nn.Conv2d(width, 1, 1))
                                     for hc in h_channels[:-1]) if multiscale else nn.ModuleList()

    def calibrate(self, real: Tensor) -> None:
        """Fix the trunk's tap scale on ``real`` images of this discriminator's domain (see
        :meth:`FrozenTaps.calibrate`; nothing for the learned trunk)."""
        self.trunk.calibrate(real)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = self.trunk(x)
        hs = [feats[0]]
        for mix, f in zip(self.mix, feats[1:]):
            hs.append(torch.cat([mix(hs[-1]), f], 1))
        return [self.main(hs[-1]).flatten()] + [d(h) for d, h in zip(self.patches, hs)]
