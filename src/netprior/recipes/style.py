"""Style transfer by optimisation (Gatys et al. 2016) and by feed-forward stylisation networks (thesis §2.3.3,
§3.4).

    L(x) = L_T(x; x_style) + α · L_C(x; y),   L_C(x; y) = Σ_{l ∈ L_C} w_l ||F^l(x) − F^l(y)||² / N_l   (eqs. 2.5, 2.6)

* :func:`stylize` — minimise L over the pixels of x ∈ [0, 1] (projected after each step), started from the content
  image y (default) or U(0, 1) noise.
* :func:`train_style_net` — learn g(y, z) minimising E_{y, z} L(g(y, z)) (eq. 3.5; with λ > 0 the Julesz
  objective eq. 3.10) over a small pool of content images (16 by default: the thesis found more images made
  results worse, §2.3.3), with the multi-scale ``stylisation_net`` of §2.3.3 or ``style_net`` (StyleNet, IN or
  BN, §3.5).
* :func:`apply_style` — one forward pass; the noise magnitude k (``noise_scale``) trades style against content
  at test time (Fig. 2.5).

A StyleNet trained without the diversity term (λ = 0) gets no noise channels, g(y) instead of g(y, z): the thesis
notes that with λ = 0 the generator learns to ignore the noise when trained long enough (Fig. 3.6), and at a CPU
budget it instead writes the N(0, I) maps into a fine vertical streak or grid over every output; without them the
64 px streak is gone and the texture loss falls (two seeds, docs/methods/texture.md).  At 128 px the noise-free
network draws the streak from the content alone; StyleNet's default total-variation weight (``TrainConfig.tv`` = 5,
as Johnson et al. train their transformer with a TV term) removes it.  With λ > 0 the noise stays: it is what the
diversity term spreads into different stylisations.

With the descriptor's ``normalise_layers`` (the default) the content term of each layer is divided by the mean
square of the content features, w_l = 1/mean(F^l(y)²) (:meth:`Descriptor.content_weights`), so that, like the
texture term, it is a relative error and α is independent of the backbone's feature scale.  The default α = 1
balances the two relative errors; the thesis notes the result is sensitive to α (§2.4.3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import record
from ..distributed import resolve_device
from ..errors import InputError
from ..feedforward import TrainConfig, train_model
from ..objective import Encoder, Objective
from ..parametrize import Pixels
from ..record import Run
from ..seeding import generator
from ..settings.style import STYLE_ARCHS, STYLE_PRESETS
from ..solve import solve
from ..terms import FeatureMatch, GramMatch
from ..texture_descriptor import Descriptor
from ..texture_model import GeneratorModel
from .texture import optimisation


def stylize(content: Tensor, style: Tensor, *, alpha: float = 1.0, init: str = "content",
            descriptor: Descriptor | None = None, optimizer: str = "lbfgs", iters: int | None = None,
            lr: float | None = None, seed: int = 0, device: str = "cpu", checkpoint: str | None = None,
            progress: bool = True, snapshot_every: int = 0) -> Run:
    """Gatys et al. style transfer: argmin_x L_T(x; style) + α L_C(x; content); the output has the content's size."""
    if init not in ("content", "noise"):
        raise InputError(f"init must be 'content' or 'noise', got {init!r}")
    opt = optimisation(optimizer, iters, lr)
    if alpha < 0:
        raise InputError(f"the content weight alpha must be >= 0, got {alpha}")
    dev = resolve_device(device)
    descriptor = descriptor or Descriptor(device=dev)
    if not descriptor.content_layers:
        raise InputError("the descriptor has no content layer; name one")
    descriptor.check_exemplar(style, "style image")
    content = content.to(dev)
    with torch.no_grad():
        content_targets = descriptor.features(content, descriptor.content_layers)
    encoder = Encoder(descriptor.features)
    objective = Objective({
        "texture": (1.0, GramMatch(encoder, descriptor, descriptor.grams(style.to(dev)))),
        "content": (alpha, FeatureMatch(encoder, content_targets,
                                        weights=descriptor.content_weights(content_targets)))})
    x0 = content.clone() if init == "content" else torch.rand(content.shape, generator=generator(seed, dev), device=dev)
    param = Pixels(x0, box=True).to(dev)
    result = solve(param, objective, iters=opt.iters, lr=opt.lr, optimizer=opt.optimizer, seed=seed,
                   checkpoint=checkpoint, progress=progress, desc=f"style/{opt.optimizer}",
                   snapshot_every=snapshot_every)
    image = result.image.clamp(0, 1)
    with torch.no_grad():
        total, terms = objective(image)
    config = record.config("style-transfer-optimisation (Gatys et al. 2016)", param, objective, alpha=alpha,
                           init=init, optimizer=opt.optimizer, iters=opt.iters, lr=opt.lr, seed=seed, device=str(dev),
                           content_shape=list(content.shape), style_shape=list(style.shape),
                           descriptor=descriptor.describe())
    metrics = {"loss": float(total), "texture_loss": terms["texture"], "content_loss": terms.get("content", 0.0)}
    return Run(image=image, config=config, metrics=metrics, results={"style": result})


def train_style_net(style: Tensor, contents: Tensor, cfg: TrainConfig | None = None, *,
                    descriptor: Descriptor | None = None, device: str = "cpu", checkpoint: str | None = None,
                    progress: bool = True, snapshot_every: int = 0) -> Run:
    """Train a stylisation generator g(y, z) for ``style`` on the content pool ``contents`` (P, 3, S, S)."""
    cfg = cfg or STYLE_PRESETS["stylisation_net"]
    if cfg.arch not in STYLE_ARCHS:
        raise InputError(f"stylisation generators are {' or '.join(STYLE_ARCHS)}, got {cfg.arch!r}")
    if contents.dim() != 4 or contents.shape[1] != 3 or len(contents) == 0:
        raise InputError("the content pool must be a non-empty (P, 3, S, S) batch")
    if tuple(contents.shape[-2:]) != (cfg.size, cfg.size):
        raise InputError(f"content pool images are {contents.shape[-1]}x{contents.shape[-2]}, the training size "
                         f"is {cfg.size}")
    descriptor = descriptor or Descriptor(device=resolve_device(device))
    if not descriptor.content_layers:
        raise InputError("the descriptor has no content layer; name one")
    descriptor.check_exemplar(style, "style image")
    net_options = dict(cfg.net)
    if cfg.arch == "style_net":  # a checkerboard and a slow start otherwise (nets/texture.py)
        net_options = {"upsample": "resize", "content_skip": True, **net_options}
        if cfg.diversity == 0:  # without the diversity term the noise only becomes a streak (module docstring)
            net_options = {"noise_channels": 0, **net_options}
    return train_model("style", style, cfg, descriptor, pool=contents, net_options=net_options, device=device,
                       checkpoint=checkpoint, progress=progress, snapshot_every=snapshot_every,
                       source={"style_shape": list(style.shape), "content_pool": len(contents)})


@torch.no_grad()
def apply_style(model: GeneratorModel, image: Tensor, *, noise_scale: float = 1.0, seed: int = 0,
                device: str = "cpu") -> Tensor:
    """Stylise ``image`` (1, 3, H, W) with a trained style model: g(y, k·z), one forward pass in eval mode.
    H and W must be reachable by the architecture (multiples of ``model.net.multiple``)."""
    if model.kind != "style":
        raise InputError(f"applying a style needs a style model, this one is a {model.kind} model")
    if noise_scale < 0:
        raise InputError(f"the noise scale k must be >= 0, got {noise_scale}")
    dev = resolve_device(device)
    net = model.net.to(dev).eval()
    size = net.check_size(tuple(image.shape[-2:]))
    noise = net.make_noise(len(image), size, scale=noise_scale, device=dev, generator=generator(seed, dev))
    return net(noise, image.to(dev)).cpu()
