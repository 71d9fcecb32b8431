"""Registry of frozen ImageNet classifiers with named layer taps.

>>> bb = get_backbone("lite0")                 # EfficientNet-Lite0, weights from a pip package
>>> feats = bb(x, ["stage2", "stage4"])        # x: (B,3,H,W) RGB in [0, 1]; one forward pass
>>> bb.logits(x).argmax(1)

Names: ``lite0`` (default, offline), ``vgg16-hed`` (VGG-16 convolutions, ImageNet weights fine-tuned for
edges by HED, offline from a pip package, no classifier), ``vgg16``, ``vgg19``, ``resnet50``, ``alexnet``,
``inception_v3``. Tap names are listed in :mod:`netprior.backbones.lite0`,
:mod:`netprior.backbones.vgg16_hed` and :mod:`netprior.backbones.torchvision_nets`, and at run time in
``Backbone.layer_names``.
"""

from __future__ import annotations

import functools

import torch

from netprior.backbones.base import Backbone, BackboneInputError, BNInput
from netprior.backbones.lite0 import build_lite0
from netprior.backbones.vgg16_hed import build_vgg16_hed

WEIGHTS = ("pretrained", "random")
#: Backbones built by torchvision (netprior.backbones.torchvision_nets, imported only when one is asked for:
#: importing torchvision costs seconds, which a DIP run never needs).
TORCHVISION_NAMES = ("vgg16", "vgg19", "resnet50", "alexnet", "inception_v3")

__all__ = ["Backbone", "BackboneInputError", "BNInput", "cached_backbone", "class_names", "get_backbone",
           "list_backbones", "WEIGHTS"]


def class_names(num_classes: int) -> list[str]:
    """Names of a classifier's classes: for the 1000 ImageNet-1k classes the standard names in index order (shared
    by every backbone here; from torchvision's weight metadata, no download), else ``class k``."""
    if num_classes != 1000:
        return [f"class {k}" for k in range(num_classes)]
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def list_backbones() -> list[str]:
    """Names accepted by :func:`get_backbone`."""
    return ["lite0", "vgg16-hed", *TORCHVISION_NAMES]


def get_backbone(
    name: str, weights: str = "pretrained", *, avg_pool: bool = False, device: str | torch.device = "cpu"
) -> Backbone:
    """Build backbone ``name`` with ``weights`` "pretrained" (ImageNet) or "random" (fresh init).

    Pretrained weights are never replaced by random ones silently: if they are not available
    offline, :class:`~netprior.errors.WeightsNotFoundError` says which file to put where.
    ``avg_pool`` swaps max- for average pooling (VGG, VGG-16-HED, AlexNet, ResNet-50).
    """
    if name not in list_backbones():
        raise BackboneInputError(f"unknown backbone {name!r}; available: {', '.join(list_backbones())}")
    if weights not in WEIGHTS:
        raise BackboneInputError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    if name == "lite0":
        if avg_pool:
            raise BackboneInputError("avg_pool does not apply to lite0, which has no max-pooling")
        backbone = build_lite0(weights)
    elif name == "vgg16-hed":
        backbone = build_vgg16_hed(weights, avg_pool)
    else:
        from netprior.backbones.torchvision_nets import BUILDERS

        backbone = BUILDERS[name](weights, avg_pool)
    return backbone.to(device)


def load_backbone(backbone: str | Backbone, device: str | torch.device = "cpu") -> Backbone:
    """``backbone`` by name (pretrained, :func:`get_backbone`) or as given, on ``device``."""
    return get_backbone(backbone, device=device) if isinstance(backbone, str) else backbone.to(device)


@functools.lru_cache(maxsize=4)
def cached_backbone(name: str, device: str = "cpu") -> Backbone:
    """The pretrained backbone ``name`` on ``device``, built once per process (frozen, so it can be shared by runs,
    e.g. the feature term of every GAN inversion)."""
    return get_backbone(name, device=device)
