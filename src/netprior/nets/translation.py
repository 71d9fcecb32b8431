"""Image-translation generator: the transformer network of Johnson et al. 2016 (thesis §5.3.3.2).

    x ∈ [0, 1] → 7×7 conv (w) → M × [3×3 conv stride 2, channels ×2] → N residual blocks → M × [nearest ×2
    up-sampling, 3×3 conv, channels ÷2] → h;   G(x) = (tanh(conv₇ₓ₇([h, 2x − 1])) + 1)/2

every convolution but the last followed by instance normalisation and ReLU (as CycleGAN's ResNet generator),
reflection padding.

Input skip (``input_skip``, default on; not in the thesis, which defers the architecture to its supplement): the last
convolution sees the input beside the features.  Without it the network is exactly invariant to a global change of
the input's brightness and contrast (the bias-free first convolution is followed by instance normalisation, which
removes both), so it cannot be the identity that the thesis' autoencoder pre-training (§5.3.3.3) and identity loss
(eq. 5.7) ask of it: measured on the translation benchmark's 64² photos after 150 pre-training steps, held-out
autoencoder L1 0.146 without, 0.060 with (batch norm in place of instance norm, Johnson et al.'s choice: 0.070).
``input_skip=False`` keeps the plain network (and loads files written before the option).

The thesis sets M and N so that the last residual block sees a large enough window and the generator has about as
many parameters as the discriminator; the defaults here (M = 2, N = 4, w = 16) are sized for 64² images on a CPU.
Sides must be multiples of 2^M.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import conv


def _block(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [conv(cin, cout, kernel, stride, pad="reflection", bias=False), nn.InstanceNorm2d(cout, affine=True),
            nn.ReLU(True)]


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(*_block(c, c, 3), conv(c, c, 3, pad="reflection", bias=False),
                                  nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class TranslationGenerator(nn.Module):
    """G: (B, C, H, W) in [0, 1] → (B, C, H, W) in [0, 1]; see the module docstring."""

    def __init__(self, width: int = 16, down: int = 2, blocks: int = 4, channels: int = 3, input_skip: bool = True):
        super().__init__()
        self.config = {"width": width, "down": down, "blocks": blocks, "channels": channels,
                       "input_skip": input_skip}
        self.multiple = 2 ** down
        layers: list[nn.Module] = _block(channels, width, 7)
        c = width
        for _ in range(down):
            layers += _block(c, 2 * c, 3, 2)
            c *= 2
        layers += [_Residual(c) for _ in range(blocks)]
        for _ in range(down):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_block(c, c // 2, 3)]
            c //= 2
        self.main = nn.Sequential(*layers)
        self.input_skip = input_skip
        self.out = conv(c + channels * input_skip, channels, 7, pad="reflection")

    def load_state_dict(self, state_dict, *args, **kwargs):
        """As nn.Module's, also for weights written before the input skip, which kept the last convolution as
        ``main.<len(main)>`` (it is ``out`` now)."""
        old = f"main.{len(self.main)}."
        return super().load_state_dict({("out." + k[len(old):] if k.startswith(old) else k): v
                                        for k, v in state_dict.items()}, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        t = 2 * x - 1
        h = self.main(t)
        return (torch.tanh(self.out(torch.cat([h, t], 1) if self.input_skip else h)) + 1) / 2
