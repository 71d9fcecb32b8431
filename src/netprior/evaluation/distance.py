"""Feature distances on the offline Lite0 backbone: the LPIPS stand-in used to measure the diversity of IMAGINE's
variations (LPIPS needs downloaded AlexNet/VGG weights, unavailable offline), and the classifier's verdict on an
image."""

from __future__ import annotations

from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..backbones import Backbone
from ..errors import InputError

#: Layers of the Lite0 feature distance used as the offline stand-in for LPIPS.
DISTANCE_LAYERS = ("stem", "stage2", "stage3", "stage5", "stage7")


@torch.no_grad()
def feature_distance(backbone: Backbone, a: Tensor, b: Tensor, layers=DISTANCE_LAYERS) -> Tensor:
    """Offline LPIPS stand-in (Zhang et al. 2018, "baseline" variant with uniform weights), per pair (B,):
    d = (1/|L|) Σ_l mean_{h,w} ||f̂_l(a)_{hw} − f̂_l(b)_{hw}||², f̂ the activations unit-normalised over channels."""
    fa, fb = backbone(a, list(layers)), backbone(b, list(layers))
    total = 0.0
    for layer in layers:
        na = F.normalize(fa[layer], dim=1, eps=1e-10)
        nb = F.normalize(fb[layer], dim=1, eps=1e-10)
        total = total + (na - nb).pow(2).sum(dim=1).flatten(1).mean(dim=1)
    return total / len(layers)


def mean_pairwise_distance(backbone: Backbone, images: list[Tensor]) -> float:
    """Diversity of a set of variations: the mean :func:`feature_distance` over all pairs."""
    if len(images) < 2:
        raise InputError("diversity needs at least two images")
    return float(torch.stack([feature_distance(backbone, a, b)[0] for a, b in combinations(images, 2)]).mean())


@torch.no_grad()
def evaluate(backbone: Backbone, x: Tensor, cls: int, *, reference: Tensor | None = None) -> dict:
    """Class ``cls`` confidence softmax(f(x))_cls, the predicted class, and (with ``reference``) the feature
    distance to it."""
    probs = backbone.logits(x).softmax(1)[0]
    out = {"target_class": cls, "confidence": float(probs[cls]), "predicted_class": int(probs.argmax())}
    if reference is not None:
        out["distance_to_target"] = float(feature_distance(backbone, x, reference)[0])
    return out


def relative_feature_error(backbone: Backbone, x: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, float]:
    """||Φ_l(x) − Φ_l(x0)|| / ||Φ_l(x0)|| per layer of ``targets``."""
    with torch.no_grad():
        feats = backbone(x, list(targets))
    return {l: float((feats[l] - t).norm() / t.norm().clamp_min(1e-12)) for l, t in targets.items()}
