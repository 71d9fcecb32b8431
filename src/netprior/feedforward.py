"""Training feed-forward texture and stylisation generators (thesis ch. 2–3): the settings, and the training as
a :func:`~netprior.solve.solve` run over a :class:`~netprior.parametrize.GeneratorBatch` (so checkpoints resume
training exactly).  The texture and style recipes choose the architecture, the targets and the presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from . import record
from .config import Config
from .distributed import resolve_device
from .errors import InputError
from .nets.texture import Generator, build_generator
from .objective import Encoder, Objective
from .parametrize import GeneratorBatch
from .record import Run
from .seeding import generator, initialising
from .solve import SolveResult, solve
from .terms import TV, ColourMatch, Diversity, FeatureMatch, GramMatch
from .texture_descriptor import Descriptor
from .texture_model import GeneratorModel


@dataclass(frozen=True)
class TrainConfig(Config):
    """Training hyper-parameters (defaults: §2.4.1 for the texture networks; presets per architecture in
    :mod:`netprior.recipes.texture` and :mod:`netprior.recipes.style`).  ``recalibrate``: fresh batches over which
    the BatchNorm statistics are re-estimated after training (:func:`recalibrate_batch_norm`; 0 = off).
    ``colour``: weight of the colour-distribution term (:class:`~netprior.terms.ColourMatch`, our addition; 0 = the
    thesis' objective).  ``tv``: weight of the total-variation prior on the generated images (:class:`~netprior.
    terms.TV`, R_V^2; 0 = the thesis' objective)."""

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
    colour: float = 0.0
    alpha: float = 0.0
    tv: float = 0.0
    recalibrate: int = 8
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
        if self.colour < 0 or self.tv < 0:
            raise InputError(f"the colour and total-variation weights must be >= 0, got {self.colour}, {self.tv}")
        if self.diversity > 0 and self.batch < 2:
            raise InputError("the diversity term compares samples within a batch: use --batch 2 or more")
        if self.iters < 1 or self.batch < 1 or self.lr <= 0:
            raise InputError("iters and batch must be >= 1 and lr > 0")
        if self.recalibrate < 0:
            raise InputError(f"the number of recalibration batches must be >= 0, got {self.recalibrate}")


# Default Adam learning rates: 0.1 for the ch. 2 networks (§2.4.1).  The thesis gives none for the ch. 3 networks;
# in our runs (benchmarks/texture.py, 64 px, 150 steps) TextureNetV2 trained well at 0.01.  StyleNet with its
# content skip: 0.001 (Johnson et al.'s rate) gave a lower texture loss on every test image than 0.003 (vgg16-hed,
# 64 px, 150 steps; docs/methods/texture.md, "StyleNet at a CPU budget").
ARCH_LR = {"texture_net": 0.1, "stylisation_net": 0.1, "texture_net_v2": 0.01, "style_net": 0.001}
# Default batch: 16 (§2.4.1), except StyleNet: 2.  At a fixed budget (images seen) StyleNet trained with smaller
# batches and proportionally more steps fits the stylisation objective better (vgg16-hed, 64 px, 1200 images, two
# seeds: batch 4 × 300 steps vs 2 × 600; docs/methods/texture.md, "Where the strokes are lost"); 2 keeps batch
# normalisation meaningful.
ARCH_BATCH = {"texture_net": 16, "stylisation_net": 16, "texture_net_v2": 16, "style_net": 2}
# Default weight of the total-variation term R_V^2 (Mahendran & Vedaldi; mean squared neighbour difference of images in
# [0, 1]): 5 for StyleNet, whose outputs otherwise carry a fine vertical streak (Johnson et al. train their
# transformer with a TV term too); 0, the thesis' objective, for the others (docs/methods/texture.md, "A
# total-variation term for StyleNet").
ARCH_TV = {"texture_net": 0.0, "stylisation_net": 0.0, "texture_net_v2": 0.0, "style_net": 5.0}


def train_generator(net: Generator, cfg: TrainConfig, descriptor: Descriptor, targets: dict[str, Tensor], *,
                    pool: Tensor | None = None, exemplar: Tensor | None = None, device: str = "cpu",
                    checkpoint: str | None = None, progress: bool = True, snapshot_every: int = 0,
                    desc: str = "training") -> SolveResult:
    """Minimise E(g) = 1/N Σ_i [(L_T(g(z_i)) + α·L_C(g(z_i, y_i), y_i))/T] + λ·D(batch) + κ·C(batch)
    + τ·R_V(batch) over the weights of ``net`` (eq. 3.10 with the content term of eq. 3.5; D = :func:`netprior.losses.
    julesz_diversity`, T = ``temperature``, λ = ``diversity``; C = :class:`~netprior.terms.ColourMatch` to the colours
    of ``exemplar``, κ = ``colour``; R_V the total variation, τ = ``tv``) with Adam and the step schedule of
    ``cfg``."""
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
    if cfg.colour:
        if exemplar is None:
            raise InputError("the colour term needs the exemplar's colours")
        terms["colour"] = (cfg.colour, ColourMatch(exemplar.to(dev)))
    if cfg.tv:
        terms["tv"] = (cfg.tv, TV())
    return solve(param, Objective(terms), iters=cfg.iters, lr=cfg.lr, optimizer="adam", seed=cfg.seed,
                 lr_schedule=cfg.lr_factor, checkpoint=checkpoint, progress=progress, desc=desc,
                 snapshot_every=snapshot_every)


@torch.no_grad()
def recalibrate_batch_norm(param: GeneratorBatch, batches: int, seed: int) -> int:
    """Re-estimate the running statistics of every BatchNorm layer of ``param.net`` as the plain average of the
    batch statistics of ``batches`` fresh training batches (noise and content drawn from ``seed``), the weights
    fixed; returns the number of layers re-estimated.

    In eval mode a BatchNorm layer normalises with its running statistics, an exponential average (momentum 0.1)
    of the batch statistics seen while the weights were still moving, so after a short training at a high learning
    rate a sample drawn in eval mode is not what the loss was computed on (measured: TextureNet on brick at 64 px,
    Adam lr 0.1, batch 4, 25 steps: L_T of training-mode samples 0.88, of eval-mode samples 8.8; docs/methods/
    texture.md).  Instance normalisation keeps no running statistics and is left alone."""
    layers = [m for m in param.net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers or batches < 1:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    rng, param.rng = param.rng, generator(seed, next(param.net.parameters()).device)
    param.net.train()
    for _ in range(batches):
        param()
    param.rng = rng
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    return len(layers)


def train_model(kind: str, exemplar: Tensor, cfg: TrainConfig, descriptor: Descriptor, *, pool: Tensor | None = None,
                net_options: dict | None = None, source: dict, device: str = "cpu", **kw) -> Run:
    """Build ``cfg.arch`` (weights drawn after seeding with ``cfg.seed``), train it on ``exemplar``'s Gram matrices
    (and the content ``pool``), and return the run with the trained :class:`GeneratorModel` as ``outputs["model"]``."""
    dev = resolve_device(device)
    with initialising(cfg.seed):
        net = build_generator(cfg.arch, **(cfg.net if net_options is None else net_options))
    net.check_size(cfg.size)
    targets = descriptor.grams(exemplar.to(dev))
    result = train_generator(net, cfg, descriptor, targets, pool=pool, exemplar=exemplar, device=dev,
                             desc=f"train/{cfg.arch}", **kw)
    recalibrate_batch_norm(GeneratorBatch(net, cfg.batch, (cfg.size, cfg.size), pool).to(dev), cfg.recalibrate,
                           cfg.seed + 1)
    net.eval()
    model = GeneratorModel(net=net, kind=kind, arch=cfg.arch, descriptor=descriptor.describe(),
                           training=asdict(cfg), target_grams={k: v.cpu() for k, v in targets.items()}, source=source)
    return Run(image=result.output, config=record.config(f"{kind}-network", model, device=str(dev)),
               results={"train": result}, outputs={"model": model})
