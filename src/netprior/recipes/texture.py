"""Texture synthesis by optimisation and by feed-forward texture networks (thesis ch. 2–3, Gatys et al. 2015).

Texture loss (eq. 2.5), with the normalised Gram matrices of :func:`netprior.losses.gram_loss`:

    L_T(x; x0) = Σ_{l ∈ L_T} w_l · ¼ ||G^l(x) − G^l(x0)||²_F

* :func:`synthesize` — Gatys et al.: x* = localopt_x L_T(x; x0) from noise (eq. 2.2), L-BFGS or Adam on the
  pixels, output size independent of the exemplar's.  The start is the exemplar's pixels in random order by
  default (``init="shuffle"``), U(0, 1) in every channel with ``init="noise"`` (Gatys et al.): Lite0 barely sees
  pixel-level colour noise, and from U(0, 1) it leaves 92 % of the pixels coloured (max − min channel > 0.15) on
  the grey 512 px brick exemplar (128 px output, 300 L-BFGS steps), from the shuffled exemplar 22 %, with patch
  SW₂ 0.014 → 0.004 (:mod:`netprior.texture_metrics`; benchmarks/texture.py, quality part, at a smaller budget).
* :func:`train_texture_net` — learn a generator g so that E_z L_T(g(z); x0) is small (eq. 2.7), or, with a
  diversity weight λ > 0, the Julesz objective E(g) = 1/N Σ_i [L_T(g(z_i))/T − λ ln min_{j≠i} ||g(z_i) − g(z_j)||]
  (eq. 3.10).  The one optimisation loop :func:`netprior.solve.solve` does the training: the parametrization
  :class:`GeneratorBatch` draws a fresh noise batch at every step and returns the generated batch, so the
  solver's checkpoint resumes training exactly.  Adam, lr 0.1 reduced ×0.7 at step 1000 and every 200 steps
  after, batch 16, 2000 steps (§2.4.1) are the defaults.
* :func:`sample` — draw textures of any reachable size from a trained model; :func:`save_model` /
  :func:`load_model` — the model file (architecture, weights, descriptor, training configuration, the
  exemplar's Gram matrices), written atomically and checked on reading.

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
the same relu*_1 taps), with average pooling.  Known problem: with vgg16-hed, L-BFGS as :func:`netprior.solve.solve`
runs it (one iteration per step, state kept) stalls after a few steps (loss ÷1.1–1.3 in 25–100 steps at 48–64 px,
with or without the box projection), while ``torch.optim.LBFGS`` run natively on the same problem (25 iterations
in one call) descends 1.12 → 0.36 in 30 evaluations; until that is fixed, use ``optimizer="adam"``
(``--optimizer adam``) with vgg16-hed.

Activation smoothing (``smoothing`` = T, off by default): the texture layers go through the softmax transform of
Wang et al. (CVPR 2021, :func:`netprior.losses.softmax_smoothing`) before their Gram matrices, which the paper
introduces for ResNets whose peaky activations dominate the Gram statistics.  Measured on Lite0 (brick, 128 px,
300 L-BFGS steps): the paper's T = 1 stops the optimisation (loss ÷1.05, the image stays noise), since Lite0's
block outputs reach ±30 and exp(F) keeps only the largest; T = 4 likewise (150 steps: the image stays noise);
T = 16 from the shuffled start removes the few saturated colour blotches but adds a faint colour tint (coloured
pixels 22 % → 27 %, > 0.3: 2.0 % → 2.5 %, patch SW₂ 0.0040 → 0.0042) — so it is an option, not the default.

Layer weights: each layer's term is divided by ||G^l(x0)||²_F (``normalise_layers``, default), i.e. L_T sums
relative errors.  Gatys' equal weights work for VGG, but with Lite0 the stem's Gram matrix is ~20× smaller than the
deeper ones' and its term would be ignored; ``normalise_layers=False`` restores equal weights.

Decisions: an exemplar must cover the receptive field of the deepest texture layer (otherwise every unit of that
layer mostly sees padding and its Gram matrix describes the border, not the texture); the synthesised image may be
of any size the descriptor accepts, since Gram matrices are spatial averages.  The optimised pixels are not
projected onto [0, 1] after every step (as in PyTorch's reference implementation of Gatys' method; unconstrained
pixels drift out of range and the clipped image then has a much higher loss), and the reported loss is that of the
[0, 1] image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import __version__
from ..backbones import Backbone, get_backbone
from ..errors import InputError
from ..losses import feature_mse, gram_loss, gram_matrix, julesz_diversity, softmax_smoothing
from ..nets.texture import GENERATORS, Generator, build_generator
from ..parametrize import Parametrization, Pixels
from ..solve import SolveResult, solve
from ..statefile import load_state, save_state

TEXTURE_LAYERS: dict[str, tuple[str, ...]] = {
    "lite0": ("block0", "block1", "block3", "block5", "block7"),
    "vgg19": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    "vgg16": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    "vgg16-hed": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
}
CONTENT_LAYERS: dict[str, tuple[str, ...]] = {"lite0": ("block5",), "vgg19": ("relu4_2",), "vgg16": ("relu4_2",),
                                              "vgg16-hed": ("relu4_2",)}
VGG_DESCRIPTORS = ("vgg16", "vgg19", "vgg16-hed")  # average pooling
# Default Adam learning rates: 0.1 for the ch. 2 networks (§2.4.1).  The thesis gives none for the ch. 3 networks;
# in our runs (benchmarks/texture.py, 64 px, 150 steps) TextureNetV2 trained well at 0.01, while StyleNet spiked
# (×8 loss) at 0.01 and reached a lower objective at 0.003 than at 0.001 (Johnson et al.'s rate).
ARCH_LR = {"texture_net": 0.1, "stylisation_net": 0.1, "texture_net_v2": 0.01, "style_net": 0.003}
MODEL_FORMAT = "netprior-generator-model"
MODEL_FORMAT_VERSION = 2  # version 1: the torch.save files of netprior 0.1
_RF_CACHE: dict[tuple, int] = {}


class Descriptor:
    """A frozen backbone with the texture layers L_T and content layers L_C of the losses (eqs. 2.5, 2.6)."""

    def __init__(self, backbone: str | Backbone = "lite0", *, weights: str = "pretrained",
                 texture_layers: tuple[str, ...] | list[str] | None = None,
                 content_layers: tuple[str, ...] | list[str] | None = None, normalise_layers: bool = True,
                 smoothing: float | None = None, device: str = "cpu") -> None:
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
                "smoothing": self.smoothing}

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
        """Gram matrices G^l(x) of the texture layers (no gradient): the targets of a texture loss."""
        with torch.no_grad():
            return {name: gram_matrix(f) for name, f in self.smoothed(self.features(x)).items()}

    def layer_weights(self, target_grams: dict[str, Tensor]) -> dict[str, float] | None:
        """w_l = 1/||G^l(x0)||²_F with ``normalise_layers`` (each layer's term is a relative error), else None
        (Gatys' equal weights)."""
        if not self.normalise_layers:
            return None
        return {k: 1.0 / max(float(g.pow(2).sum()), 1e-12) for k, g in target_grams.items()}

    def content_weights(self, targets: dict[str, Tensor]) -> dict[str, float] | None:
        """w_l = 1/mean(F^l(y)²) with ``normalise_layers`` (the content term is a relative error), else None."""
        if not self.normalise_layers:
            return None
        return {k: 1.0 / max(float(v.pow(2).mean()), 1e-12) for k, v in targets.items()}

    def texture_loss(self, x: Tensor, target_grams: dict[str, Tensor], per_sample: bool = False,
                     feats: dict[str, Tensor] | None = None) -> Tensor:
        """L_T (eq. 2.5) with :meth:`layer_weights`: batch mean, or one value per sample with ``per_sample``.
        ``feats`` are precomputed features of ``x`` (must hold the texture layers)."""
        weights = self.layer_weights(target_grams)
        if per_sample:
            return torch.stack([gram_loss(self.smoothed(self.features(x[i:i + 1])), target_grams, weights)
                                for i in range(len(x))])
        return gram_loss(self.smoothed(feats if feats is not None else self.features(x)), target_grams, weights)

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


@dataclass
class Synthesis:
    """A synthesised image with the run that made it (like :class:`netprior.recipes.dip.Restoration`)."""

    image: Tensor
    result: SolveResult
    config: dict
    metrics: dict


OPTIMISER_DEFAULTS = {"lbfgs": {"iters": 300, "lr": 1.0}, "adam": {"iters": 1000, "lr": 0.05}}


INITS = ("shuffle", "noise")


def initial_image(exemplar: Tensor, size: tuple[int, int], init: str) -> Tensor:
    """The starting point of :func:`synthesize`, drawn from the global RNG: ``"noise"`` is U(0, 1) i.i.d. in every
    channel (Gatys et al.); ``"shuffle"`` draws every pixel's colour at random from the exemplar's pixels — white
    noise with the exemplar's colour distribution (grey noise for a grey exemplar).  A descriptor blind to some
    pixel-level colour noise (Lite0) leaves whatever colour noise the start has; "shuffle" starts with none the
    exemplar does not have."""
    h, w = size
    if init == "noise":
        return torch.rand(1, 3, h, w)
    if init == "shuffle":
        pixels = exemplar[0].flatten(1).cpu()
        return pixels[:, torch.randint(pixels.shape[1], (h * w,))].view(1, 3, h, w).clone()
    raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def synthesize(exemplar: Tensor, size: tuple[int, int] | int | None = None, *, descriptor: Descriptor | None = None,
               optimizer: str = "lbfgs", iters: int | None = None, lr: float | None = None, init: str = "shuffle",
               seed: int = 0, device: str = "cpu", checkpoint: str | None = None, progress: bool = True,
               snapshot_every: int = 0, callback=None) -> Synthesis:
    """Texture synthesis by optimisation (Gatys et al. 2015): minimise L_T(x; x0) over the pixels of x, started
    from noise of ``size`` (default: the exemplar's size; ``init``: see :func:`initial_image`).  ``optimizer`` is
    ``lbfgs`` (300 steps, lr 1) or ``adam`` (1000 steps, lr 0.05)."""
    if optimizer not in OPTIMISER_DEFAULTS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMISER_DEFAULTS)}, got {optimizer!r}")
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    descriptor = descriptor or Descriptor(device=device)
    descriptor.check_exemplar(exemplar)
    h, w = _size(size or tuple(exemplar.shape[-2:]))
    iters = iters or OPTIMISER_DEFAULTS[optimizer]["iters"]
    lr = lr or OPTIMISER_DEFAULTS[optimizer]["lr"]
    dev = torch.device(device)
    targets = descriptor.grams(exemplar.to(dev))
    torch.manual_seed(seed)
    param = Pixels(initial_image(exemplar, (h, w), init)).to(dev)
    initial = float(descriptor.texture_loss(param().detach(), targets))

    def objective(x):
        loss = descriptor.texture_loss(x, targets)
        return loss, {"texture": loss}

    result = solve(param, objective, iters=iters, lr=lr, optimizer=optimizer, seed=seed, checkpoint=checkpoint,
                   progress=progress, desc=f"texture/{optimizer}", snapshot_every=snapshot_every,
                   callback=box_projection(param, callback))
    image = result.image.clamp(0, 1)
    with torch.no_grad():
        final = float(descriptor.texture_loss(image, targets))
    config = {"method": "texture-optimisation (Gatys et al. 2015)", "optimizer": optimizer, "init": init,
              "iters": iters, "lr": lr, "seed": seed, "device": str(dev), "size": [h, w],
              "exemplar_shape": list(exemplar.shape), "descriptor": descriptor.describe()}
    metrics = {"texture_loss_initial": initial, "texture_loss": final, "loss_reduction": initial / max(final, 1e-30)}
    return Synthesis(image=image, result=result, config=config, metrics=metrics)


def box_projection(param: Pixels, callback=None):
    """A solver callback that projects the pixels onto [0, 1] after each step (then calls ``callback``)."""

    def project(step: int, x: Tensor) -> None:
        with torch.no_grad():
            param.x.clamp_(0, 1)
        if callback is not None:
            callback(step, x)

    return project


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"output size must be positive, got {w}x{h}")
    return h, w


# ----------------------------------------------------------------------------------------------------------------
# Feed-forward generators: training, the model file, sampling.


class GeneratorBatch(Parametrization):
    """x = g(z_1 … z_B) with fresh noise at every call (and, for a conditional generator, content images
    y_1 … y_B drawn uniformly from ``pool``; their indices are left in ``self.indices`` for the content loss).
    Everything is drawn from the global torch RNG, which :func:`solve` seeds and checkpoints."""

    def __init__(self, net: Generator, batch: int, size: tuple[int, int], pool: Tensor | None = None) -> None:
        super().__init__()
        if batch < 1:
            raise InputError(f"batch size must be >= 1, got {batch}")
        self.net, self.batch, self.size = net, batch, net.check_size(size)
        if net.conditional != (pool is not None):
            raise InputError("a stylisation generator needs a content pool, a texture generator none")
        if pool is not None:
            self.register_buffer("pool", pool)
        self.indices: Tensor | None = None

    def forward(self) -> Tensor:
        device = next(self.net.parameters()).device
        noise = self.net.make_noise(self.batch, self.size, device=device)
        if not self.net.conditional:
            return self.net(noise)
        self.indices = torch.randint(len(self.pool), (self.batch,)).to(device)
        return self.net(noise, self.pool[self.indices])

    def describe(self) -> dict:
        return {"parametrization": "GeneratorBatch", "batch": self.batch, "size": list(self.size),
                "pool": None if not self.net.conditional else len(self.pool),
                "parameters": sum(p.numel() for p in self.net.parameters())}


@dataclass
class TrainConfig:
    """Training hyper-parameters (defaults: §2.4.1 for the texture networks)."""

    arch: str = "texture_net"
    net: dict = field(default_factory=dict)
    size: int = 256
    batch: int = 16
    iters: int = 2000
    lr: float = 0.1
    lr_decay: float = 0.7
    lr_decay_start: int = 1000
    lr_decay_every: int = 200
    temperature: float = 1.0
    diversity: float = 0.0
    alpha: float = 0.0
    seed: int = 0

    def lr_factor(self, step: int) -> float:
        """×lr_decay at step ``lr_decay_start`` and every ``lr_decay_every`` steps after."""
        if step < self.lr_decay_start:
            return 1.0
        return self.lr_decay ** (1 + (step - self.lr_decay_start) // max(1, self.lr_decay_every))

    def validate(self) -> None:
        if self.temperature <= 0:
            raise InputError(f"temperature T must be > 0, got {self.temperature}")
        if self.diversity < 0:
            raise InputError(f"diversity weight λ must be >= 0, got {self.diversity}")
        if self.diversity > 0 and self.batch < 2:
            raise InputError("the diversity term compares samples within a batch: use --batch 2 or more")
        if self.iters < 1 or self.lr <= 0:
            raise InputError("iters must be >= 1 and lr > 0")


@dataclass
class GeneratorModel:
    """A trained generator and everything needed to use it: ``kind`` ("texture" or "style"), architecture name and
    options, the descriptor it was trained with, the training configuration and the exemplar's Gram matrices."""

    net: Generator
    kind: str
    arch: str
    descriptor: dict
    training: dict
    target_grams: dict[str, Tensor]
    source: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"kind": self.kind, "arch": self.arch, "arch_config": self.net.config, "descriptor": self.descriptor,
                "training": self.training, "source": self.source,
                "parameters": sum(p.numel() for p in self.net.parameters())}


@dataclass
class Training:
    """A trained model with the solver's record of its training."""

    model: GeneratorModel
    result: SolveResult
    config: dict


def train_generator(net: Generator, cfg: TrainConfig, descriptor: Descriptor, targets: dict[str, Tensor], *,
                    pool: Tensor | None = None, device: str = "cpu", checkpoint: str | None = None,
                    progress: bool = True, snapshot_every: int = 0, desc: str = "training") -> SolveResult:
    """Minimise E(g) = 1/N Σ_i [(L_T(g(z_i)) + α·L_C(g(z_i, y_i), y_i))/T] + λ·D(batch) over the weights of ``net``
    (eq. 3.10 with the content term of eq. 3.5; D = :func:`netprior.losses.julesz_diversity`, T = ``temperature``,
    λ = ``diversity``) with Adam and the step schedule of ``cfg``."""
    cfg.validate()
    dev = torch.device(device)
    param = GeneratorBatch(net, cfg.batch, (cfg.size, cfg.size), pool).to(dev)
    content_targets: dict[str, Tensor] = {}
    if pool is not None:
        if not descriptor.content_layers:
            raise InputError("the descriptor has no content layer for the stylisation loss")
        with torch.no_grad():
            content_targets = descriptor.features(param.pool, descriptor.content_layers)
    c_weights = descriptor.content_weights(content_targets)
    layers = descriptor.layers if pool is not None else list(descriptor.texture_layers)

    def objective(x):
        feats = descriptor.features(x, layers)
        texture = descriptor.texture_loss(x, targets, feats=feats)
        terms = {"texture": texture}
        loss = texture
        if pool is not None:
            content = feature_mse({k: feats[k] for k in descriptor.content_layers},
                                  {k: v[param.indices] for k, v in content_targets.items()}, c_weights)
            terms["content"] = content
            loss = loss + cfg.alpha * content
        loss = loss / cfg.temperature
        if cfg.diversity > 0:
            diversity = julesz_diversity(x)
            terms["diversity"] = diversity
            loss = loss + cfg.diversity * diversity
        return loss, terms

    return solve(param, objective, iters=cfg.iters, lr=cfg.lr, optimizer="adam", seed=cfg.seed,
                 lr_schedule=cfg.lr_factor, checkpoint=checkpoint, progress=progress, desc=desc,
                 snapshot_every=snapshot_every)


def train_texture_net(exemplar: Tensor, cfg: TrainConfig | None = None, *, descriptor: Descriptor | None = None,
                      device: str = "cpu", checkpoint: str | None = None, progress: bool = True,
                      snapshot_every: int = 0) -> Training:
    """Train a texture generator (``texture_net`` of §2.3.2 or ``texture_net_v2`` of §3.5.1.1) on one exemplar."""
    cfg = cfg or TrainConfig()
    if cfg.arch not in ("texture_net", "texture_net_v2"):
        raise InputError(f"texture generators are texture_net or texture_net_v2, got {cfg.arch!r}")
    descriptor = descriptor or Descriptor(device=device)
    descriptor.check_exemplar(exemplar)
    net_options = dict(cfg.net)
    if cfg.arch == "texture_net_v2":
        net_options["size"] = cfg.size
        # The thesis' transposed convolutions print a grid (nets/texture.py); model files record the choice.
        net_options.setdefault("upsample", "resize")
    torch.manual_seed(cfg.seed)
    net = build_generator(cfg.arch, **net_options)
    net.check_size(cfg.size)
    targets = descriptor.grams(exemplar.to(device))
    result = train_generator(net, cfg, descriptor, targets, device=device, checkpoint=checkpoint,
                             progress=progress, snapshot_every=snapshot_every, desc=f"train/{cfg.arch}")
    net.eval()
    model = GeneratorModel(net=net, kind="texture", arch=cfg.arch, descriptor=descriptor.describe(),
                           training=asdict(cfg), target_grams={k: v.cpu() for k, v in targets.items()},
                           source={"exemplar_shape": list(exemplar.shape)})
    return Training(model=model, result=result, config=model.describe())


def save_model(model: GeneratorModel, path: str | Path) -> Path:
    """Write the model file (architecture, options, weights, descriptor, training config, target Grams)
    atomically, as a :mod:`~netprior.statefile` (safetensors + JSON: loading it cannot run code)."""
    state = {"netprior_version": __version__, "kind": model.kind, "arch": model.arch,
             "arch_config": model.net.config, "state_dict": model.net.state_dict(),
             "descriptor": model.descriptor, "training": model.training,
             "target_grams": model.target_grams, "source": model.source}
    return save_state(path, state, kind=MODEL_FORMAT, version=MODEL_FORMAT_VERSION)


def load_model(path: str | Path, kind: str | None = None, device: str = "cpu") -> GeneratorModel:
    """Read a model file written by :func:`save_model`, refusing files of another format, format version,
    kind (``"texture"``/``"style"``) or whose weights do not fit the recorded architecture."""
    state = load_state(path, kind=MODEL_FORMAT, version=MODEL_FORMAT_VERSION,
                       what="model file (written by `texture train -o` or `style train -o`)")
    path = Path(path)
    if not isinstance(state, dict) or not isinstance(state.get("arch_config"), dict) \
            or not isinstance(state.get("state_dict"), dict):
        raise InputError(f"{path}: damaged model file (no architecture or weights)")
    if kind is not None and state.get("kind") != kind:
        raise InputError(f"{path}: this is a {state.get('kind')} model, a {kind} model is needed here")
    if state.get("arch") not in GENERATORS:
        raise InputError(f"{path}: unknown generator architecture {state.get('arch')!r}")
    net = build_generator(state["arch"], **state["arch_config"])
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"{path}: the weights do not match the {state['arch']} architecture recorded in the "
                         f"file ({str(exc).splitlines()[0]})") from None
    net.to(device).eval()
    return GeneratorModel(net=net, kind=state["kind"], arch=state["arch"], descriptor=state["descriptor"],
                          training=state["training"], target_grams=state["target_grams"],
                          source=state.get("source", {}))


@torch.no_grad()
def sample(model: GeneratorModel, n: int = 1, size: int | tuple[int, int] | None = None, *, seed: int = 0,
           noise_scale: float = 1.0, device: str = "cpu") -> Tensor:
    """Draw ``n`` textures (n, 3, H, W) from a texture model, one at a time, in eval mode (batch normalisation
    uses its running statistics, so a sample does not depend on the others).  ``size`` defaults to the training
    size; any size the architecture reaches is allowed (TextureNetV2: only that one)."""
    if model.kind != "texture":
        raise InputError(f"sampling needs a texture model, this one is a {model.kind} model")
    if n < 1:
        raise InputError(f"the number of samples must be >= 1, got {n}")
    size = model.net.check_size(size or model.training["size"])
    net = model.net.to(device).eval()
    torch.manual_seed(seed)
    return torch.cat([net(net.make_noise(1, size, scale=noise_scale, device=device)).cpu() for _ in range(n)])


def texture_loss_of(model: GeneratorModel, x: Tensor, descriptor: Descriptor | None = None) -> Tensor:
    """Per-sample texture loss L_T of images ``x`` against the Gram matrices stored in ``model``."""
    d = model.descriptor
    descriptor = descriptor or Descriptor(d["backbone"], weights=d["weights"], texture_layers=d["texture_layers"],
                                          content_layers=d["content_layers"], normalise_layers=d["normalise_layers"],
                                          smoothing=d.get("smoothing"))
    targets = {k: v.to(descriptor.net.mean.device) for k, v in model.target_grams.items()}
    with torch.no_grad():
        return descriptor.texture_loss(x.to(descriptor.net.mean.device), targets, per_sample=True)


def pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance between distinct samples of a batch, per pixel value: mean_{i<j} ||x_i − x_j|| /
    sqrt(D) (the RMS difference; the diversity measure of the Fig. 3.5 experiment)."""
    n = len(x)
    if n < 2:
        raise InputError("pairwise distance needs at least 2 samples")
    flat = x.reshape(n, -1).double()
    d = torch.cdist(flat, flat)
    iu = torch.triu_indices(n, n, 1)
    return float(d[iu[0], iu[1]].mean() / math.sqrt(flat.shape[1]))

