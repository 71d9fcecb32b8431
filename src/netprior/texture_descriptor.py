"""The texture descriptor: a frozen backbone with the texture layers L_T and content layers L_C of the texture and
style losses (Gatys et al. 2015/2016; thesis ch. 2–3).

Descriptor layers (:data:`TEXTURE_LAYERS`).  VGG-16/19: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (texture)
and relu4_2 (content), with average instead of max pooling as Gatys et al. do.  EfficientNet-Lite0, the only
backbone with pretrained weights offline, has no stride-1 layer, so the taps are matched to VGG-19's by receptive
field (measured, see :meth:`Descriptor.receptive_field`): block0 (7 px) ↔ relu1_1 (3), block1 (11) ↔ relu2_1 (10),
block3 (35) ↔ relu3_1 (24), block5 (83) ↔ relu4_1 (68), block7 = stage4 (147) ↔ relu5_1 (156); content: block5
(83 px) ↔ relu4_2 (84).  Lite0 block outputs are the linear bottlenecks of its inverted residuals (no ReLU).  The
stem (3 px) would match relu1_1 best but its ReLU6 features are nearly blind to pixel noise (±0.15 colour noise on
the brick exemplar changes its Gram matrix by 0.9 %, block0's by 340 %), and textures optimised with it stay
covered in colour noise; block0 is the first tap that sees it.

Descriptors: ``lite0`` (default) and ``vgg16-hed`` (VGG-16 convolutions with ImageNet weights fine-tuned for
edges by HED; offline, see :mod:`netprior.backbones.vgg16_hed`) use the VGG-19 paper's layers above (VGG-16 has
the same relu*_1 taps), with average pooling.  Both work with L-BFGS: the stall once seen with vgg16-hed (loss
÷1.1–1.3 in 25–100 steps while ``torch.optim.LBFGS`` run natively descended 1.12 → 0.33) was
:func:`netprior.solve.solve` giving its one-iteration L-BFGS steps torch's default of one evaluation, i.e. no line
search; fixed there (same problem, 48 px: 25 steps now reach 0.33, as the native loop does; brick at 256 px: loss
÷58 in 80 steps, benchmarks/texture.py).

Activation smoothing (``smoothing`` = T, off by default): the texture layers go through the softmax transform of
Wang et al. (CVPR 2021, :func:`netprior.losses.softmax_smoothing`) before their Gram matrices, which the paper
introduces for ResNets whose peaky activations dominate the Gram statistics.  Measured on Lite0 (brick, 128 px,
300 L-BFGS steps): the paper's T = 1 stops the optimisation (loss ÷1.05, the image stays noise), since Lite0's
block outputs reach ±30 and exp(F) keeps only the largest; T = 4 likewise (150 steps: the image stays noise);
T = 16 from the shuffled start removes the few saturated colour blotches but adds a faint colour tint (coloured
pixels 22 % → 27 %, > 0.3: 2.0 % → 2.5 %, patch SW₂ 0.0040 → 0.0042) — so it is an option, not the default.

Statistics (``statistic``, ``shift_weight``; :mod:`netprior.texture_statistics`): the Gram matrices (Gatys et
al., default), or the sliced Wasserstein distance of each texture layer's feature distribution (Heitz et al. 2021),
plus optionally ``shift_weight`` × the loss of shifted Gram matrices G^l_δ (Berger & Memisevic 2017) at the
``shift_layers`` (default the layers of 8–16 px stride: Lite0 block3, block5; VGG relu3_1, relu4_1; else the two
deepest texture layers) for shifts of ``shift_distances`` (2 and 4) cells right and down.  On the brick exemplar
neither changed the jumble of slabs of single-scale synthesis; coarse-to-fine synthesis did
(docs/methods/texture.md), so the Gram matrices stay the default.

Layer weights: each layer's term is divided by ||G^l(x0)||²_F (``normalise_layers``, default), i.e. L_T sums
relative errors.  Gatys' equal weights work for VGG, but with Lite0 the stem's Gram matrix is ~20× smaller than the
deeper ones' and its term would be ignored; ``normalise_layers=False`` restores equal weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .backbones import Backbone, get_backbone
from .errors import InputError
from .losses import gram_loss, gram_matrix, softmax_smoothing
from .texture_statistics import (
    SHIFT_SEPARATOR,
    check_statistic,
    feature_cloud,
    shifted_gram_loss,
    shifted_grams,
    shifts_of,
    sliced_wasserstein_loss,
)

TEXTURE_LAYERS: dict[str, tuple[str, ...]] = {
    "lite0": ("block0", "block1", "block3", "block5", "block7"),
    "vgg19": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    "vgg16": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    "vgg16-hed": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
}
CONTENT_LAYERS: dict[str, tuple[str, ...]] = {"lite0": ("block5",), "vgg19": ("relu4_2",), "vgg16": ("relu4_2",),
                                              "vgg16-hed": ("relu4_2",)}
SHIFT_LAYERS: dict[str, tuple[str, ...]] = {"lite0": ("block3", "block5"), "vgg19": ("relu3_1", "relu4_1"),
                                            "vgg16": ("relu3_1", "relu4_1"), "vgg16-hed": ("relu3_1", "relu4_1")}
SHIFT_DISTANCES = (2, 4)  # feature-map cells
VGG_DESCRIPTORS = ("vgg16", "vgg19", "vgg16-hed")  # average pooling
_RF_CACHE: dict[tuple, int] = {}


class Descriptor:
    """A frozen backbone with the texture layers L_T and content layers L_C of the losses (eqs. 2.5, 2.6)."""

    def __init__(self, backbone: str | Backbone = "lite0", *, weights: str = "pretrained",
                 texture_layers: tuple[str, ...] | list[str] | None = None,
                 content_layers: tuple[str, ...] | list[str] | None = None, normalise_layers: bool = True,
                 smoothing: float | None = None, statistic: str = "gram", shift_weight: float = 0.0,
                 shift_layers: tuple[str, ...] | list[str] | None = None,
                 shift_distances: tuple[int, ...] | list[int] = SHIFT_DISTANCES, device: str = "cpu") -> None:
        if isinstance(backbone, Backbone):  # share an already loaded network
            self.net = backbone
            self.avg_pool = any(isinstance(m, nn.AvgPool2d) for m in backbone.modules())
        else:
            self.avg_pool = backbone in VGG_DESCRIPTORS
            self.net = get_backbone(backbone, weights, avg_pool=self.avg_pool, device=device)
        name = self.net.name
        if texture_layers is None and name not in TEXTURE_LAYERS:
            raise InputError(f"no default texture layers for backbone {name!r} (defaults exist for "
                             f"{', '.join(TEXTURE_LAYERS)}); name the layers explicitly")
        self.texture_layers = tuple(texture_layers or TEXTURE_LAYERS[name])
        self.content_layers = tuple(content_layers or CONTENT_LAYERS.get(name, ()))
        self.normalise_layers = normalise_layers
        if smoothing is not None and not (isinstance(smoothing, (int, float)) and smoothing > 0):
            raise InputError(f"the smoothing temperature must be a number > 0 (or None for no smoothing), "
                             f"got {smoothing!r}")
        self.smoothing = None if smoothing is None else float(smoothing)
        check_statistic(statistic)
        self.statistic = statistic
        if not (isinstance(shift_weight, (int, float)) and shift_weight >= 0):
            raise InputError(f"the shift weight must be a number >= 0, got {shift_weight!r}")
        self.shift_weight = float(shift_weight)
        defaults = [layer for layer in SHIFT_LAYERS.get(name, ()) if layer in self.texture_layers]
        self.shift_layers = tuple(shift_layers or defaults or self.texture_layers[-2:])
        self.shift_distances = tuple(int(d) for d in shift_distances)
        if self.shift_weight and (not set(self.shift_layers) <= set(self.texture_layers) or not self.shift_layers
                                  or not self.shift_distances or min(self.shift_distances) < 1):
            raise InputError(f"shifted Gram matrices need texture layers (got {', '.join(self.shift_layers)}; the "
                             f"texture layers are {', '.join(self.texture_layers)}) and shifts >= 1 cell "
                             f"(got {self.shift_distances})")
        unknown = [layer for layer in self.layers if layer not in self.net.layer_names]
        if unknown:
            raise InputError(f"unknown layer(s) {', '.join(map(repr, unknown))} for backbone {name}; valid layers: "
                             f"{', '.join(self.net.layer_names)}")

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(self.texture_layers + self.content_layers))

    def describe(self) -> dict:
        return {"backbone": self.net.name, "weights": self.net.weights, "weights_file": self.net.weights_file,
                "avg_pool": self.avg_pool, "texture_layers": list(self.texture_layers),
                "content_layers": list(self.content_layers), "normalise_layers": self.normalise_layers,
                "smoothing": self.smoothing, "statistic": self.statistic, "shift_weight": self.shift_weight,
                "shift_layers": list(self.shift_layers), "shift_distances": list(self.shift_distances)}

    @classmethod
    def from_description(cls, d: dict) -> Descriptor:
        """The descriptor that :meth:`describe` wrote ``d`` for (e.g. a model file's); a field missing from an
        older file takes its default."""
        return cls(d["backbone"], weights=d["weights"], texture_layers=d["texture_layers"],
                   content_layers=d["content_layers"], normalise_layers=d["normalise_layers"],
                   smoothing=d.get("smoothing"), statistic=d.get("statistic", "gram"),
                   shift_weight=d.get("shift_weight", 0.0), shift_layers=d.get("shift_layers"),
                   shift_distances=d.get("shift_distances", SHIFT_DISTANCES))

    def features(self, x: Tensor, layers: list[str] | tuple[str, ...] | None = None) -> dict[str, Tensor]:
        feats = self.net(x, list(layers or self.texture_layers))
        for name, f in feats.items():
            if f.dim() != 4:
                raise InputError(f"layer {name!r} of {self.net.name} is not a convolutional feature map")
        return feats

    def smoothed(self, feats: dict[str, Tensor]) -> dict[str, Tensor]:
        """The texture layers of ``feats`` as the Gram matrix sees them: σ_T(F^l) with activation smoothing
        (:func:`netprior.losses.softmax_smoothing`, temperature ``smoothing``), else F^l."""
        if self.smoothing is None:
            return {k: feats[k] for k in self.texture_layers}
        return {k: softmax_smoothing(feats[k], self.smoothing) for k in self.texture_layers}

    def grams(self, x: Tensor) -> dict[str, Tensor]:
        """The exemplar statistics a texture loss matches (no gradient): the Gram matrices G^l(x) of the texture
        layers, or with ``statistic="sliced-wasserstein"`` their feature clouds (H·W, C), plus with
        ``shift_weight`` > 0 the shifted Gram matrices G^l_δ (keys ``layer@dy,dx``;
        :mod:`netprior.texture_statistics`)."""
        with torch.no_grad():
            feats = self.smoothed(self.features(x))
            reduce = gram_matrix if self.statistic == "gram" else feature_cloud
            out = {name: reduce(f) for name, f in feats.items()}
            if self.shift_weight:
                out.update(shifted_grams(feats, shifts_of(self.shift_layers, self.shift_distances)))
            return out

    def layer_weights(self, targets: dict[str, Tensor]) -> dict[str, float] | None:
        """w_l = 1/||G^l(x0)||²_F per (shifted) Gram matrix and 1/mean(F^l(x0)²) per feature cloud with
        ``normalise_layers`` (each layer's term is a relative error), else None (Gatys' equal weights)."""
        if not self.normalise_layers:
            return None
        clouds = self.statistic != "gram"
        return {k: 1.0 / max(float(g.pow(2).mean() if clouds and SHIFT_SEPARATOR not in k else g.pow(2).sum()),
                             1e-12) for k, g in targets.items()}

    def content_weights(self, targets: dict[str, Tensor]) -> dict[str, float] | None:
        """w_l = 1/mean(F^l(y)²) with ``normalise_layers`` (the content term is a relative error), else None."""
        if not self.normalise_layers:
            return None
        return {k: 1.0 / max(float(v.pow(2).mean()), 1e-12) for k, v in targets.items()}

    def texture_loss(self, x: Tensor, targets: dict[str, Tensor], per_sample: bool = False,
                     feats: dict[str, Tensor] | None = None, step: int | None = None) -> Tensor:
        """L_T (eq. 2.5) with :meth:`layer_weights` — the Gram loss, or the sliced Wasserstein loss with
        ``statistic="sliced-wasserstein"`` (directions of optimisation step ``step``), plus ``shift_weight`` × the
        shifted Gram loss when ``targets`` hold shifted Gram matrices (:mod:`netprior.texture_statistics`) —
        batch mean, or one value per sample with ``per_sample``.  ``feats`` are precomputed features of ``x``
        (must hold the texture layers)."""
        weights = self.layer_weights(targets)
        if per_sample:
            return torch.stack([self._loss(self.features(x[i:i + 1]), targets, weights, step)
                                for i in range(len(x))])
        return self._loss(feats if feats is not None else self.features(x), targets, weights, step)

    def _loss(self, feats: dict[str, Tensor], targets: dict[str, Tensor], weights: dict[str, float] | None,
              step: int | None) -> Tensor:
        feats = self.smoothed(feats)
        main = {k: v for k, v in targets.items() if SHIFT_SEPARATOR not in k}
        shifted = {k: v for k, v in targets.items() if SHIFT_SEPARATOR in k}
        loss = (gram_loss(feats, main, weights) if self.statistic == "gram"
                else sliced_wasserstein_loss(feats, main, weights, step).mean())
        if shifted and self.shift_weight:
            loss = loss + self.shift_weight * shifted_gram_loss(feats, shifted, weights)
        return loss

    def receptive_field(self, layer: str) -> int:
        """Side in pixels of the input region seen by one unit of ``layer``, measured as the support of the
        gradient of a central unit w.r.t. a noise image (grown until the support does not touch the border)."""
        key = (self.net.name, self.net.weights, self.avg_pool, layer)
        if key not in _RF_CACHE:
            gen = torch.Generator().manual_seed(0)
            side = 64
            while True:
                x = (0.5 + 0.1 * torch.randn(1, 3, side, side, generator=gen)).to(self.net.mean.device)
                x.requires_grad_(True)
                f = self.features(x, [layer])[layer]
                h, w = f.shape[-2:]
                (g,) = torch.autograd.grad(f[0, :, h // 2, w // 2].abs().sum(), x)
                rows = g.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
                cols = g.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
                touches = rows.min() == 0 or rows.max() == side - 1 or cols.min() == 0 or cols.max() == side - 1
                if not touches or side >= 1024:
                    break
                side *= 2
            _RF_CACHE[key] = int(max(rows.max() - rows.min(), cols.max() - cols.min())) + 1
        return _RF_CACHE[key]

    def fitting(self, x: Tensor) -> Descriptor:
        """This descriptor (same network and statistics) restricted to the texture layers whose receptive field
        fits the exemplar ``x`` — the layers of a coarse scale of :func:`netprior.recipes.texture.synthesize`."""
        side = min(x.shape[-2:])
        layers = [layer for layer in self.texture_layers if self.receptive_field(layer) <= side]
        if not layers:
            raise InputError(f"no texture layer of {self.net.name} fits a {side} px exemplar: use fewer scales")
        shift_layers = [layer for layer in self.shift_layers if layer in layers]
        return Descriptor(self.net, texture_layers=layers, content_layers=self.content_layers,
                          normalise_layers=self.normalise_layers, smoothing=self.smoothing, statistic=self.statistic,
                          shift_weight=self.shift_weight if shift_layers else 0.0,
                          shift_layers=shift_layers or None, shift_distances=self.shift_distances)

    def check_exemplar(self, x: Tensor, what: str = "exemplar") -> None:
        """Refuse an exemplar smaller than the receptive field of the deepest texture layer."""
        fields = {layer: self.receptive_field(layer) for layer in self.texture_layers}
        deepest = max(fields, key=fields.get)
        h, w = x.shape[-2:]
        if min(h, w) < fields[deepest]:
            shallow = [layer for layer, rf in fields.items() if rf <= min(h, w)]
            raise InputError(
                f"{what} is {w}x{h} px, smaller than the {fields[deepest]} px receptive field of the deepest texture "
                f"layer {deepest!r} of {self.net.name}: its statistics would describe the padding, not the texture. "
                f"Use an exemplar of at least {fields[deepest]} px on its shorter side"
                + (f", or shallower layers (e.g. {','.join(shallow)})" if shallow else ""))
