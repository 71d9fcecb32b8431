"""torchvision classifiers (VGG-16/19, ResNet-50, AlexNet, Inception-v3) split into named taps.

Pretrained weights are the torchvision ImageNet checkpoints, read only from the torch hub cache
(``torch.hub.get_dir()/checkpoints/<file>``): nothing is downloaded, and a missing file raises
:class:`~netprior.errors.WeightsNotFoundError` naming the file, its URL and the folder.

Taps (all post-ReLU unless named ``fc*``/``logits``; ``logits`` exists in every backbone):

- ``vgg16``/``vgg19``: ``conv1_1``, ``relu1_1``, ``conv1_2``, ``relu1_2``, ``pool1``, ... ``conv5_3``
  (vgg19: ``conv5_4``), ``relu5_3``/``relu5_4``, ``pool5``, ``fc6``, ``relu6``, ``fc7``, ``relu7``,
  ``fc8`` (alias ``logits``). ``conv*`` taps are pre-ReLU.
- ``resnet50``: ``conv1`` (stem conv+BN+ReLU, alias ``conv1_1``), ``conv2_1`` ... ``conv2_3``,
  ``conv3_1`` ... ``conv3_4``, ``conv4_1`` ... ``conv4_6``, ``conv5_1`` ... ``conv5_3`` (output of
  each bottleneck, IMAGINE naming; ``conv2_1`` includes the stem max-pool), ``pool``, ``fc``
  (alias ``logits``).
- ``alexnet``: ``conv1``, ``pool1``, ``conv2``, ``pool2``, ``conv3``, ``conv4``, ``conv5``, ``pool5``,
  ``fc6``, ``relu6``, ``fc7``, ``relu7``, ``fc8`` (alias ``logits``).
- ``inception_v3``: ``Conv2d_1a_3x3``, ``Conv2d_2a_3x3``, ``Conv2d_2b_3x3``, ``maxpool1``,
  ``Conv2d_3b_1x1``, ``Conv2d_4a_3x3``, ``maxpool2``, ``Mixed_5b`` ... ``Mixed_5d``, ``Mixed_6a`` ...
  ``Mixed_6e``, ``Mixed_7a`` ... ``Mixed_7c``, ``pool``, ``logits`` (alias ``fc``). Needs >= 75 px.

``avg_pool=True`` (VGG, AlexNet, ResNet-50) replaces every max-pooling by average pooling of the
same window, as Gatys et al. (2015) do for texture synthesis.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import urlparse

import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models import WeightsEnum

from netprior.backbones.base import Backbone, BackboneInputError
from netprior.errors import WeightsNotFoundError
from netprior.weightfile import load_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Google's Inception-v3 weights expect inputs in [-1, 1] (torchvision's ``transform_input``).
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


def cached_weights_path(name: str, enum: WeightsEnum) -> str:
    """Path of ``enum``'s checkpoint in the torch hub cache; raises if it is not there."""
    filename = os.path.basename(urlparse(enum.url).path)
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    path = os.path.join(folder, filename)
    if not os.path.isfile(path):
        raise WeightsNotFoundError(
            f"pretrained weights for backbone {name!r} are not available offline: file {filename} "
            f"is missing. Download {enum.url} and put it in {folder} (the torch hub cache), or use "
            f"weights='random', or the backbone 'lite0' whose weights ship as a pip package."
        )
    return path


def _load(name: str, model: nn.Module, enum: WeightsEnum, weights: str) -> str | None:
    """Load ``enum``'s cached checkpoint into ``model`` when ``weights == "pretrained"``."""
    if weights != "pretrained":
        return None
    path = cached_weights_path(name, enum)
    model.load_state_dict(load_weights(path, name))
    return path


def _avg_pool_instead_of_max(module: nn.Module) -> None:
    """Replace every ``nn.MaxPool2d`` below ``module`` by an ``nn.AvgPool2d`` with the same window."""
    for child_name, child in module.named_children():
        if isinstance(child, nn.MaxPool2d):
            setattr(module, child_name, nn.AvgPool2d(
                child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode,
                count_include_pad=False,
            ))
        else:
            _avg_pool_instead_of_max(child)


def _classifier_steps(avgpool: nn.Module, classifier: nn.Sequential) -> list[tuple[str, nn.Module]]:
    """fc6/relu6/fc7/relu7/fc8 steps of the VGG/AlexNet classifier (dropout is a no-op in eval)."""
    fc6, fc7, fc8 = [m for m in classifier if isinstance(m, nn.Linear)]
    return [
        ("fc6", nn.Sequential(avgpool, nn.Flatten(), fc6)),
        ("relu6", nn.ReLU()),
        ("fc7", fc7),
        ("relu7", nn.ReLU()),
        ("fc8", fc8),
    ]


def build_vgg(depth: int, weights: str, avg_pool: bool) -> Backbone:
    """VGG-16 or VGG-19 (Simonyan & Zisserman 2015)."""
    name = f"vgg{depth}"
    if depth == 16:
        model, enum = tvm.vgg16(weights=None), tvm.VGG16_Weights.IMAGENET1K_V1
    else:
        model, enum = tvm.vgg19(weights=None), tvm.VGG19_Weights.IMAGENET1K_V1
    path = _load(name, model, enum, weights)
    if avg_pool:
        _avg_pool_instead_of_max(model)
    steps: list[tuple[str, nn.Module]] = []
    block, index = 1, 1
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            steps.append((f"conv{block}_{index}", module))
        elif isinstance(module, nn.ReLU):
            steps.append((f"relu{block}_{index}", nn.ReLU()))
            index += 1
        else:
            steps.append((f"pool{block}", module))
            block, index = block + 1, 1
    steps += _classifier_steps(model.avgpool, model.classifier)
    return Backbone(
        name, weights, steps, mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224, num_classes=1000,
        aliases={"logits": "fc8"}, weights_file=path,
    )


def build_resnet50(weights: str, avg_pool: bool) -> Backbone:
    """ResNet-50 (He et al. 2016) with IMAGINE's ``convS_B`` block names."""
    model = tvm.resnet50(weights=None)
    path = _load("resnet50", model, tvm.ResNet50_Weights.IMAGENET1K_V1, weights)
    if avg_pool:
        _avg_pool_instead_of_max(model)
    steps: list[tuple[str, nn.Module]] = [("conv1", nn.Sequential(model.conv1, model.bn1, nn.ReLU()))]
    for stage, layer in enumerate([model.layer1, model.layer2, model.layer3, model.layer4], start=2):
        for b, bottleneck in enumerate(layer, start=1):
            module = nn.Sequential(model.maxpool, bottleneck) if (stage, b) == (2, 1) else bottleneck
            steps.append((f"conv{stage}_{b}", module))
    steps += [("pool", nn.Sequential(model.avgpool, nn.Flatten())), ("fc", model.fc)]
    return Backbone(
        "resnet50", weights, steps, mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224,
        num_classes=1000, aliases={"conv1_1": "conv1", "logits": "fc"}, weights_file=path,
    )


def build_alexnet(weights: str, avg_pool: bool) -> Backbone:
    """AlexNet (Krizhevsky et al. 2012, torchvision's single-tower variant)."""
    model = tvm.alexnet(weights=None)
    path = _load("alexnet", model, tvm.AlexNet_Weights.IMAGENET1K_V1, weights)
    if avg_pool:
        _avg_pool_instead_of_max(model)
    f = model.features
    steps: list[tuple[str, nn.Module]] = [
        ("conv1", nn.Sequential(f[0], nn.ReLU())),
        ("pool1", f[2]),
        ("conv2", nn.Sequential(f[3], nn.ReLU())),
        ("pool2", f[5]),
        ("conv3", nn.Sequential(f[6], nn.ReLU())),
        ("conv4", nn.Sequential(f[8], nn.ReLU())),
        ("conv5", nn.Sequential(f[10], nn.ReLU())),
        ("pool5", f[12]),
    ]
    steps += _classifier_steps(model.avgpool, model.classifier)
    return Backbone(
        "alexnet", weights, steps, mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224,
        num_classes=1000, aliases={"logits": "fc8"}, weights_file=path,
    )


def build_inception_v3(weights: str, avg_pool: bool) -> Backbone:
    """Inception-v3 (Szegedy et al. 2016); the auxiliary classifier is not part of the taps."""
    if avg_pool:
        raise BackboneInputError("avg_pool is not supported for inception_v3 (its reduction blocks pool functionally)")
    model = tvm.inception_v3(weights=None, aux_logits=True, init_weights=weights != "pretrained")
    path = _load("inception_v3", model, tvm.Inception_V3_Weights.IMAGENET1K_V1, weights)
    skip = {"AuxLogits", "avgpool", "dropout", "fc"}
    steps = [(n, m) for n, m in model.named_children() if n not in skip]
    steps += [("pool", nn.Sequential(model.avgpool, nn.Flatten())), ("logits", model.fc)]
    return Backbone(
        "inception_v3", weights, steps, mean=INCEPTION_MEAN, std=INCEPTION_STD, input_size=299,
        num_classes=1000, aliases={"fc": "logits"}, weights_file=path,
    )


BUILDERS: dict[str, Callable[[str, bool], Backbone]] = {
    "vgg16": lambda weights, avg_pool: build_vgg(16, weights, avg_pool),
    "vgg19": lambda weights, avg_pool: build_vgg(19, weights, avg_pool),
    "resnet50": build_resnet50,
    "alexnet": build_alexnet,
    "inception_v3": build_inception_v3,
}
