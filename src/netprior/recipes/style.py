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

With the descriptor's ``normalise_layers`` (the default) the content term of each layer is divided by the mean
square of the content features, w_l = 1/mean(F^l(y)²) (:meth:`Descriptor.content_weights`), so that, like the
texture term, it is a relative error and α is independent of the backbone's feature scale.  The default α = 1 balances the two relative errors; the
thesis notes the result is sensitive to α (§2.4.3).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from ..io import load_image
from ..losses import feature_mse
from ..nets.texture import build_generator
from ..parametrize import Pixels
from ..solve import solve
from .texture import (OPTIMISER_DEFAULTS, Descriptor, GeneratorModel, Synthesis, TrainConfig, Training,
                      box_projection, train_generator)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
STYLE_ARCHS = ("stylisation_net", "style_net")


def stylize(content: Tensor, style: Tensor, *, alpha: float = 1.0, init: str = "content",
            descriptor: Descriptor | None = None, optimizer: str = "lbfgs", iters: int | None = None,
            lr: float | None = None, seed: int = 0, device: str = "cpu", checkpoint: str | None = None,
            progress: bool = True, snapshot_every: int = 0) -> Synthesis:
    """Gatys et al. style transfer: argmin_x L_T(x; style) + α L_C(x; content); the output has the content's size."""
    if init not in ("content", "noise"):
        raise InputError(f"init must be 'content' or 'noise', got {init!r}")
    if optimizer not in OPTIMISER_DEFAULTS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMISER_DEFAULTS)}, got {optimizer!r}")
    if alpha < 0:
        raise InputError(f"the content weight alpha must be >= 0, got {alpha}")
    descriptor = descriptor or Descriptor(device=device)
    if not descriptor.content_layers:
        raise InputError("the descriptor has no content layer; name one")
    descriptor.check_exemplar(style, "style image")
    iters = iters or OPTIMISER_DEFAULTS[optimizer]["iters"]
    lr = lr or OPTIMISER_DEFAULTS[optimizer]["lr"]
    dev = torch.device(device)
    content = content.to(dev)
    style_grams = descriptor.grams(style.to(dev))
    with torch.no_grad():
        content_targets = descriptor.features(content, descriptor.content_layers)
    c_weights = descriptor.content_weights(content_targets)
    torch.manual_seed(seed)
    x0 = content.clone() if init == "content" else torch.rand_like(content)
    param = Pixels(x0).to(dev)

    def loss_terms(x):
        feats = descriptor.features(x, descriptor.layers)
        texture = descriptor.texture_loss(x, style_grams, feats=feats)
        content_loss = feature_mse({k: feats[k] for k in descriptor.content_layers}, content_targets, c_weights)
        return texture + alpha * content_loss, {"texture": texture, "content": content_loss}

    result = solve(param, loss_terms, iters=iters, lr=lr, optimizer=optimizer, seed=seed, checkpoint=checkpoint,
                   progress=progress, desc=f"style/{optimizer}", snapshot_every=snapshot_every,
                   callback=box_projection(param))
    image = result.image.clamp(0, 1)
    with torch.no_grad():
        total, terms = loss_terms(image)
    config = {"method": "style-transfer-optimisation (Gatys et al. 2016)", "alpha": alpha, "init": init,
              "optimizer": optimizer, "iters": iters, "lr": lr, "seed": seed, "device": str(dev),
              "content_shape": list(content.shape), "style_shape": list(style.shape),
              "descriptor": descriptor.describe()}
    metrics = {"loss": float(total), "texture_loss": float(terms["texture"]), "content_loss": float(terms["content"])}
    return Synthesis(image=image, result=result, config=config, metrics=metrics)


def _square(x: Tensor, size: int) -> Tensor:
    """Centre-crop to a square and resize to size × size (area-antialiased bilinear)."""
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[..., top:top + s, left:left + s]
    if s != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1)


def load_content_pool(folder: str | os.PathLike, n: int = 16, size: int = 256) -> tuple[Tensor, list[Path]]:
    """The first ``n`` images (by file name) of ``folder``, centre-cropped to squares and resized to ``size``:
    the empirical content distribution of §2.3.3.  Files without an image suffix are ignored; a missing, unreadable
    or image-less folder, or an image that cannot be decoded, is an error naming it."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"content directory {folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"content directory {folder}: not a folder")
    if n < 1:
        raise InputError(f"the content pool needs at least one image, got n={n}")
    try:
        names = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as exc:
        raise InputError(f"content directory {folder}: cannot be read ({exc.strerror or exc})") from None
    if not names:
        raise InputError(f"content directory {folder}: contains no images ({', '.join(IMAGE_SUFFIXES)})")
    names = names[:n]
    return torch.cat([_square(load_image(p), size) for p in names]), names


def train_style_net(style: Tensor, contents: Tensor, cfg: TrainConfig | None = None, *,
                    descriptor: Descriptor | None = None, device: str = "cpu", checkpoint: str | None = None,
                    progress: bool = True, snapshot_every: int = 0) -> Training:
    """Train a stylisation generator g(y, z) for ``style`` on the content pool ``contents`` (P, 3, S, S)."""
    cfg = cfg or TrainConfig(arch="stylisation_net", alpha=1.0)
    if cfg.arch not in STYLE_ARCHS:
        raise InputError(f"stylisation generators are {' or '.join(STYLE_ARCHS)}, got {cfg.arch!r}")
    if contents.dim() != 4 or contents.shape[1] != 3 or len(contents) == 0:
        raise InputError("the content pool must be a non-empty (P, 3, S, S) batch")
    if tuple(contents.shape[-2:]) != (cfg.size, cfg.size):
        raise InputError(f"content pool images are {contents.shape[-1]}x{contents.shape[-2]}, the training size "
                         f"is {cfg.size}")
    descriptor = descriptor or Descriptor(device=device)
    if not descriptor.content_layers:
        raise InputError("the descriptor has no content layer; name one")
    descriptor.check_exemplar(style, "style image")
    torch.manual_seed(cfg.seed)
    net = build_generator(cfg.arch, **cfg.net)
    net.check_size(cfg.size)
    targets = descriptor.grams(style.to(device))
    result = train_generator(net, cfg, descriptor, targets, pool=contents, device=device, checkpoint=checkpoint,
                             progress=progress, snapshot_every=snapshot_every, desc=f"train/{cfg.arch}")
    net.eval()
    model = GeneratorModel(net=net, kind="style", arch=cfg.arch, descriptor=descriptor.describe(),
                           training=asdict(cfg), target_grams={k: v.cpu() for k, v in targets.items()},
                           source={"style_shape": list(style.shape), "content_pool": len(contents)})
    return Training(model=model, result=result, config=model.describe())


@torch.no_grad()
def apply_style(model: GeneratorModel, image: Tensor, *, noise_scale: float = 1.0, seed: int = 0,
                device: str = "cpu") -> Tensor:
    """Stylise ``image`` (1, 3, H, W) with a trained style model: g(y, k·z), one forward pass in eval mode.
    H and W must be reachable by the architecture (multiples of ``model.net.multiple``)."""
    if model.kind != "style":
        raise InputError(f"applying a style needs a style model, this one is a {model.kind} model")
    if noise_scale < 0:
        raise InputError(f"the noise scale k must be >= 0, got {noise_scale}")
    net = model.net.to(device).eval()
    size = net.check_size(tuple(image.shape[-2:]))
    torch.manual_seed(seed)
    return net(net.make_noise(len(image), size, scale=noise_scale, device=device), image.to(device)).cpu()
