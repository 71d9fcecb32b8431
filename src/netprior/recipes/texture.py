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
  :class:`~netprior.parametrize.GeneratorBatch` draws a fresh noise batch at every step and returns the generated
  batch, so the solver's checkpoint resumes training exactly.  Adam, lr 0.1 reduced ×0.7 at step 1000 and every
  200 steps after, batch 16, 2000 steps (§2.4.1) are the defaults.
* :func:`sample` — draw textures of any reachable size from a trained model; :func:`save_model` /
  :func:`load_model` — the model file (architecture, weights, descriptor, training configuration, the
  exemplar's Gram matrices), written atomically and checked on reading.

The decisions behind the defaults and the measurements that chose them: ``docs/methods/texture.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from .. import record
from ..config import Config, register
from ..distributed import resolve_device
from ..errors import InputError
from ..nets.texture import Generator, build_generator
from ..objective import Encoder, Objective
from ..parametrize import GeneratorBatch, Pixels
from ..record import Run
from ..seeding import generator, initialising
from ..solve import SolveResult, solve
from ..terms import Diversity, FeatureMatch, GramMatch
from ..texture_descriptor import Descriptor
from ..texture_model import GeneratorModel

INITS = ("shuffle", "noise")


@dataclass(frozen=True)
class PixelOptimisation(Config):
    """The optimiser of texture synthesis and style transfer by optimisation, its steps and learning rate."""

    optimizer: str = "lbfgs"
    iters: int = 300
    lr: float = 1.0
    source: str = ""

    def validate(self):
        if self.optimizer not in ("lbfgs", "adam"):
            raise InputError(f"optimizer must be one of lbfgs, adam, got {self.optimizer!r}")
        if self.iters < 1 or self.lr <= 0:
            raise InputError("iters must be >= 1 and lr > 0")


OPTIMISERS: dict[str, PixelOptimisation] = register("texture", {
    "lbfgs": PixelOptimisation("lbfgs", 300, 1.0, "Gatys et al. 2015 (L-BFGS); 300 steps measured enough on Lite0 "
                                                  "at 128 px (benchmarks/texture.py)"),
    "adam": PixelOptimisation("adam", 1000, 0.05, "our choice for descriptors where L-BFGS stalls (vgg16-hed)"),
})


def optimisation(optimizer: str, iters: int | None, lr: float | None) -> PixelOptimisation:
    """The ``optimizer`` preset with ``iters``/``lr`` overriding it."""
    if optimizer not in OPTIMISERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMISERS)}, got {optimizer!r}")
    return OPTIMISERS[optimizer].override(iters=iters or None, lr=lr or None)


def initial_image(exemplar: Tensor, size: tuple[int, int], init: str,
                  generator: torch.Generator | None = None) -> Tensor:
    """The starting point of :func:`synthesize`, drawn from ``generator``: ``"noise"`` is U(0, 1) i.i.d. in every
    channel (Gatys et al.); ``"shuffle"`` draws every pixel's colour at random from the exemplar's pixels — white
    noise with the exemplar's colour distribution (grey noise for a grey exemplar).  A descriptor blind to some
    pixel-level colour noise (Lite0) leaves whatever colour noise the start has; "shuffle" starts with none the
    exemplar does not have."""
    h, w = size
    if init == "noise":
        return torch.rand(1, 3, h, w, generator=generator)
    if init == "shuffle":
        pixels = exemplar[0].flatten(1).cpu()
        return pixels[:, torch.randint(pixels.shape[1], (h * w,), generator=generator)].view(1, 3, h, w).clone()
    raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def synthesize(exemplar: Tensor, size: tuple[int, int] | int | None = None, *, descriptor: Descriptor | None = None,
               optimizer: str = "lbfgs", iters: int | None = None, lr: float | None = None, init: str = "shuffle",
               seed: int = 0, device: str = "cpu", checkpoint: str | None = None, progress: bool = True,
               snapshot_every: int = 0, callback=None) -> Run:
    """Texture synthesis by optimisation (Gatys et al. 2015): minimise L_T(x; x0) over the pixels of x, started
    from noise of ``size`` (default: the exemplar's size; ``init``: see :func:`initial_image`).  ``optimizer`` is
    ``lbfgs`` (300 steps, lr 1) or ``adam`` (1000 steps, lr 0.05)."""
    opt = optimisation(optimizer, iters, lr)
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    dev = resolve_device(device)
    descriptor = descriptor or Descriptor(device=dev)
    descriptor.check_exemplar(exemplar)
    h, w = _size(size or tuple(exemplar.shape[-2:]))
    targets = descriptor.grams(exemplar.to(dev))
    param = Pixels(initial_image(exemplar, (h, w), init, generator(seed)), box=True).to(dev)
    objective = Objective({"texture": (1.0, GramMatch(Encoder(descriptor.features), descriptor, targets))})
    initial = float(descriptor.texture_loss(param().detach(), targets))
    result = solve(param, objective, iters=opt.iters, lr=opt.lr, optimizer=opt.optimizer, seed=seed,
                   checkpoint=checkpoint, progress=progress, desc=f"texture/{opt.optimizer}",
                   snapshot_every=snapshot_every, callback=callback)
    image = result.image.clamp(0, 1)
    with torch.no_grad():
        final = float(descriptor.texture_loss(image, targets))
    config = record.config("texture-optimisation (Gatys et al. 2015)", param, objective, optimizer=opt.optimizer,
                           init=init, iters=opt.iters, lr=opt.lr, seed=seed, device=str(dev), size=[h, w],
                           exemplar_shape=list(exemplar.shape), descriptor=descriptor.describe())
    metrics = {"texture_loss_initial": initial, "texture_loss": final, "loss_reduction": initial / max(final, 1e-30)}
    return Run(image=image, config=config, metrics=metrics, results={"texture": result})


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"output size must be positive, got {w}x{h}")
    return h, w


# ----------------------------------------------------------------------------------------------------------------
# Feed-forward generators: training and sampling.


@dataclass(frozen=True)
class TrainConfig(Config):
    """Training hyper-parameters (defaults: §2.4.1 for the texture networks; presets per architecture in
    :data:`TRAIN_PRESETS`)."""

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
    source: str = ""

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


# Default Adam learning rates: 0.1 for the ch. 2 networks (§2.4.1).  The thesis gives none for the ch. 3 networks;
# in our runs (benchmarks/texture.py, 64 px, 150 steps) TextureNetV2 trained well at 0.01, while StyleNet spiked
# (×8 loss) at 0.01 and reached a lower objective at 0.003 than at 0.001 (Johnson et al.'s rate).
ARCH_LR = {"texture_net": 0.1, "stylisation_net": 0.1, "texture_net_v2": 0.01, "style_net": 0.003}
TRAIN_PRESETS: dict[str, TrainConfig] = register("texture-train", {
    "texture_net": TrainConfig("texture_net", source="thesis §2.4.1 (Adam lr 0.1, ×0.7 from step 1000, batch 16)"),
    "texture_net_v2": TrainConfig("texture_net_v2", lr=ARCH_LR["texture_net_v2"],
                                  source="thesis §3.5.1.1; lr 0.01 measured (benchmarks/texture.py)"),
})


def train_generator(net: Generator, cfg: TrainConfig, descriptor: Descriptor, targets: dict[str, Tensor], *,
                    pool: Tensor | None = None, device: str = "cpu", checkpoint: str | None = None,
                    progress: bool = True, snapshot_every: int = 0, desc: str = "training") -> SolveResult:
    """Minimise E(g) = 1/N Σ_i [(L_T(g(z_i)) + α·L_C(g(z_i, y_i), y_i))/T] + λ·D(batch) over the weights of ``net``
    (eq. 3.10 with the content term of eq. 3.5; D = :func:`netprior.losses.julesz_diversity`, T = ``temperature``,
    λ = ``diversity``) with Adam and the step schedule of ``cfg``."""
    dev = resolve_device(device)
    param = GeneratorBatch(net, cfg.batch, (cfg.size, cfg.size), pool).to(dev)
    encoder = Encoder(descriptor.features)
    terms = {"texture": (1 / cfg.temperature, GramMatch(encoder, descriptor, targets))}
    if pool is not None:
        if not descriptor.content_layers:
            raise InputError("the descriptor has no content layer for the stylisation loss")
        with torch.no_grad():
            content = descriptor.features(param.pool, descriptor.content_layers)
        terms["content"] = (cfg.alpha / cfg.temperature,
                            FeatureMatch(encoder, lambda: {k: v[param.indices] for k, v in content.items()},
                                         weights=descriptor.content_weights(content)))
    terms["diversity"] = (cfg.diversity, Diversity())
    return solve(param, Objective(terms), iters=cfg.iters, lr=cfg.lr, optimizer="adam", seed=cfg.seed,
                 lr_schedule=cfg.lr_factor, checkpoint=checkpoint, progress=progress, desc=desc,
                 snapshot_every=snapshot_every)


def train_model(kind: str, exemplar: Tensor, cfg: TrainConfig, descriptor: Descriptor, *, pool: Tensor | None = None,
                net_options: dict | None = None, source: dict, device: str = "cpu", **kw) -> Run:
    """Build ``cfg.arch`` (weights drawn after seeding with ``cfg.seed``), train it on ``exemplar``'s Gram matrices
    (and the content ``pool``), and return the run with the trained :class:`GeneratorModel` as ``outputs["model"]``."""
    dev = resolve_device(device)
    with initialising(cfg.seed):
        net = build_generator(cfg.arch, **(cfg.net if net_options is None else net_options))
    net.check_size(cfg.size)
    targets = descriptor.grams(exemplar.to(dev))
    result = train_generator(net, cfg, descriptor, targets, pool=pool, device=dev, desc=f"train/{cfg.arch}", **kw)
    net.eval()
    model = GeneratorModel(net=net, kind=kind, arch=cfg.arch, descriptor=descriptor.describe(),
                           training=asdict(cfg), target_grams={k: v.cpu() for k, v in targets.items()}, source=source)
    return Run(image=result.output, config=record.config(f"{kind}-network", model, device=str(dev)),
               results={"train": result}, outputs={"model": model})


def train_texture_net(exemplar: Tensor, cfg: TrainConfig | None = None, *, descriptor: Descriptor | None = None,
                      device: str = "cpu", checkpoint: str | None = None, progress: bool = True,
                      snapshot_every: int = 0) -> Run:
    """Train a texture generator (``texture_net`` of §2.3.2 or ``texture_net_v2`` of §3.5.1.1) on one exemplar."""
    cfg = cfg or TrainConfig()
    if cfg.arch not in ("texture_net", "texture_net_v2"):
        raise InputError(f"texture generators are texture_net or texture_net_v2, got {cfg.arch!r}")
    descriptor = descriptor or Descriptor(device=resolve_device(device))
    descriptor.check_exemplar(exemplar)
    net_options = dict(cfg.net)
    if cfg.arch == "texture_net_v2":
        net_options["size"] = cfg.size
        # The thesis' transposed convolutions print a grid (nets/texture.py); model files record the choice.
        net_options.setdefault("upsample", "resize")
    return train_model("texture", exemplar, cfg, descriptor, net_options=net_options,
                       source={"exemplar_shape": list(exemplar.shape)}, device=device, checkpoint=checkpoint,
                       progress=progress, snapshot_every=snapshot_every)


@torch.no_grad()
def sample(model: GeneratorModel, n: int = 1, size: int | tuple[int, int] | None = None, *, seed: int = 0,
           noise_scale: float = 1.0, device: str = "cpu") -> Tensor:
    """Draw ``n`` textures (n, 3, H, W) from a texture model, one at a time, in eval mode (batch normalisation
    uses its running statistics, so a sample does not depend on the others), the noise drawn from ``seed``.
    ``size`` defaults to the training size; any size the architecture reaches is allowed (TextureNetV2: only
    that one)."""
    if model.kind != "texture":
        raise InputError(f"sampling needs a texture model, this one is a {model.kind} model")
    if n < 1:
        raise InputError(f"the number of samples must be >= 1, got {n}")
    size = model.net.check_size(size or model.training["size"])
    dev = resolve_device(device)
    net = model.net.to(dev).eval()
    gen = generator(seed, dev)
    return torch.cat([net(net.make_noise(1, size, scale=noise_scale, device=dev, generator=gen)).cpu()
                      for _ in range(n)])
