"""The semantic pyramid of a classifier (Shocher et al. 2020, §3): its levels, the masks that select them, and the
two generator losses that are specific to the method (eq. 3 lives in :func:`netprior.losses.masked_feature_l1`).

Levels (fine → coarse) and the classifier taps that stand for them.  The paper uses VGG-16 "at the end of each
stage (after the pooling layer)" plus FC7 and FC8, without FC6.  EfficientNet-Lite0 (the offline default) has
seven stages at strides 2, 4, 8, 16, 16, 32, 32; each VGG level is mapped to the Lite0 stage that ends at the
same stride (the last one where two share it), and the fully-connected levels to the pooled 1280-d vector
(the input of Lite0's only dense layer, its FC7) and the class scores:

    level   VGG-16 tap   stride   Lite0 tap            Lite0 channels
    conv1   pool1        2        stage1 (block0)      16
    conv2   pool2        4        stage2 (block2)      24
    conv3   pool3        8        stage3 (block4)      40
    conv4   pool4        16       stage5 (block10)     112
    conv5   pool5        32       stage7 (block15)     320
    fc7     relu7        —        pool (1280-d)        1280
    fc8     fc8          —        logits (1000)        1000

Masks: ``masks[l]`` is (B, 1, h_l, w_l) for conv levels and (B, 1) for fc levels, 1 = the feature passes.

* :func:`level_masks` — one level fully on, all others off (the default training step and ``generate``);
* :func:`keep_masks` — one level fully on, and every *finer* conv level on except where a hole (an image-sized
  map, 1 = keep) is missing: a feature cell passes only when every pixel under it is kept (the hole is
  max-pooled to the level's grid).  Finer fc levels have no positions and stay off.  This is the spatial training
  mask (the hole a random crop) and the mask of re-painting and composition (the hole drawn by the user);
* :func:`random_masks` — the training distribution p_m: a uniformly random level, and with probability
  ``p_spatial`` (0.3) :func:`keep_masks` with a random rectangular hole whose sides are uniform in [¼, ¾] of the
  image side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .backbones import get_backbone
from .errors import InputError
from .losses import masked_feature_l1
from .nets.pyramid import LEVELS, NZ, SPATIAL_LEVELS

TAPS = {
    "lite0": {"conv1": "stage1", "conv2": "stage2", "conv3": "stage3", "conv4": "stage5", "conv5": "stage7",
              "fc7": "pool", "fc8": "logits"},
    "vgg16": {"conv1": "pool1", "conv2": "pool2", "conv3": "pool3", "conv4": "pool4", "conv5": "pool5",
              "fc7": "relu7", "fc8": "fc8"},
}
CLASSIFIERS = tuple(TAPS)


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(f"unknown pyramid level {level!r}; valid levels: {', '.join(LEVELS)}")
    return level


class ClassifierPyramid:
    """A frozen classifier read at the seven pyramid levels: ``features(x)`` → {level: map or vector} for x in
    [0, 1]; ``labels(feats)`` = its top-1 ImageNet class (the label of an image everywhere in this method)."""

    def __init__(self, name: str = "lite0", device: str | torch.device = "cpu"):
        if name not in TAPS:
            raise InputError(f"unknown pyramid classifier {name!r}; use one of {', '.join(CLASSIFIERS)}")
        self.name = name
        self.net = get_backbone(name, device=device)
        self.taps = TAPS[name]
        self.num_classes = self.net.num_classes

    def channels(self, resolution: int) -> dict[str, int]:
        with torch.no_grad():
            f = self.features(torch.zeros(1, 3, resolution, resolution, device=self.net.mean.device))
        return {l: v.shape[1] for l, v in f.items()}

    def features(self, x: Tensor, levels: tuple[str, ...] = LEVELS) -> dict[str, Tensor]:
        out = self.net(x, [self.taps[l] for l in levels])
        return {l: out[self.taps[l]] for l in levels}

    @staticmethod
    def labels(feats: dict[str, Tensor]) -> Tensor:
        return feats["fc8"].argmax(1)


def _grid(feats: dict[str, Tensor], level: str) -> tuple[int, int]:
    return tuple(feats[level].shape[-2:]) if level in SPATIAL_LEVELS else ()


def level_masks(feats: dict[str, Tensor], level: str) -> dict[str, Tensor]:
    """``level`` fully on, every other level off."""
    check_level(level)
    b = next(iter(feats.values())).shape[0]
    dev = next(iter(feats.values())).device
    return {l: torch.full((b, 1, *_grid(feats, l)), float(l == level), device=dev) for l in LEVELS}


def keep_masks(feats: dict[str, Tensor], level: str, keep: Tensor) -> dict[str, Tensor]:
    """``level`` fully on; finer conv levels on where ``keep`` (B|1, 1, H, W), 1 = keep, keeps every pixel."""
    masks = level_masks(feats, level)
    hole = 1 - keep.to(next(iter(masks.values())).device).float()
    for l in SPATIAL_LEVELS[:LEVELS.index(level)]:
        on = 1 - F.adaptive_max_pool2d(hole, _grid(feats, l))
        masks[l] = on.expand_as(masks[l]).contiguous()
    return masks


def random_masks(feats: dict[str, Tensor], resolution: int, p_spatial: float = 0.3,
                 generator: torch.Generator | None = None,
                 levels: tuple[str, ...] = LEVELS) -> tuple[str, dict[str, Tensor]]:
    """(level, masks) drawn from the training distribution (module docstring), the level uniformly from
    ``levels``; one draw for the whole batch."""
    level = levels[int(torch.randint(len(levels), (1,), generator=generator))]
    if float(torch.rand(1, generator=generator)) >= p_spatial:
        return level, level_masks(feats, level)
    h, w = (torch.empty(2).uniform_(0.25, 0.75, generator=generator) * resolution).long().tolist()
    top = int(torch.randint(resolution - h + 1, (1,), generator=generator))
    left = int(torch.randint(resolution - w + 1, (1,), generator=generator))
    keep = torch.ones(1, 1, resolution, resolution)
    keep[..., top:top + h, left:left + w] = 0
    return level, keep_masks(feats, level, keep)


def reconstruction_loss(feats: dict[str, Tensor], targets: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
    """L_rec (eq. 3) over the levels that are used: :func:`~netprior.losses.masked_feature_l1` with the per-level
    masks; fc vectors are compared as 1×1 maps.  Levels whose mask is all zero contribute nothing."""
    used = [l for l in LEVELS if l in feats and bool(masks[l].any())]
    if not used:
        return next(iter(feats.values())).new_zeros(())

    def spatial(t: Tensor) -> Tensor:
        return t[..., None, None] if t.dim() == 2 else t

    return masked_feature_l1({l: spatial(feats[l]) for l in used}, {l: spatial(targets[l]) for l in used},
                             {l: spatial(masks[l]) for l in used})


def diversity_loss(z: Tensor, images: Tensor, eps: float = 1e-5, distance: str = "sum") -> Tensor:
    """L_div (eq. 4, mode seeking, Mao et al. 2019) over consecutive pairs (2i, 2i+1) of a batch that share
    features, masks and class, averaged over the pairs:

        ||z₁ − z₂||₁ / (||G(z₁) − G(z₂)||₁ + ε)

    with the L1 norms of the equation (``distance="sum"``: sums over the 128 code entries and over all pixels), the
    images measured on the [−1, 1] scale of the paper's generator (2× netprior's [0, 1]).  With these norms the term
    is small (about 0.1 for 64² images that differ by 0.1 on average) and grows sharply only when two codes give
    nearly the same image — the mode collapse it is there to prevent.  ``distance="mean"`` takes means instead, as
    the mode-seeking authors' code does: (pixels / code entries) = 96× stronger at 64², which makes the samples of
    the finest level differ in colour and contrast (``benchmarks/results/pyramid_noise.md``)."""
    if z.shape[0] % 2:
        raise ValueError("the diversity loss needs pairs: an even batch")
    if distance not in ("sum", "mean"):
        raise ValueError(f"distance is 'sum' or 'mean', got {distance!r}")
    dz = (z[0::2] - z[1::2]).abs().flatten(1)
    dx = 2 * (images[0::2] - images[1::2]).abs().flatten(1)
    dz, dx = (dz.sum(1), dx.sum(1)) if distance == "sum" else (dz.mean(1), dx.mean(1))
    return (dz / (dx + eps)).mean()


def truncated_noise(count: int, truncation: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """z ~ N(0, I_128); with ``truncation`` t > 0 every entry with |z| > t is redrawn until it is not (BigGAN's
    truncation trick: smaller t, less variety and higher fidelity).  t = 0 is no truncation."""
    z = torch.randn(count, NZ, generator=generator)
    if truncation > 0:
        while (bad := z.abs() > truncation).any():
            z[bad] = torch.randn(int(bad.sum()), generator=generator)
    return z




def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names in index order (torchvision's list, offline)."""
    from torchvision.models import VGG16_Weights

    return list(VGG16_Weights.IMAGENET1K_V1.meta["categories"])


def class_index(text: str) -> int:
    """An ImageNet class given as its index (``"980"``) or its name (``"volcano"``, case-insensitive)."""
    names = imagenet_classes()
    if text.strip().isdigit():
        i = int(text)
        if i >= len(names):
            raise InputError(f"class {i} out of range: ImageNet classes are 0 … {len(names) - 1}")
        return i
    lowered = [n.lower() for n in names]
    if text.strip().lower() in lowered:
        return lowered.index(text.strip().lower())
    close = [n for n in names if text.strip().lower() in n.lower()][:5]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(f"unknown ImageNet class {text!r}: give an index 0 … 999 or a class name{hint}")
