"""Texture synthesis by optimisation and by feed-forward texture networks (thesis ch. 2–3, Gatys et al. 2015).

Texture loss (eq. 2.5), with the normalised Gram matrices of :func:`netprior.losses.gram_loss`:

    L_T(x; x0) = Σ_{l ∈ L_T} w_l · ¼ ||G^l(x) − G^l(x0)||²_F

* :func:`synthesize` — Gatys et al.: x* = localopt_x L_T(x; x0) from noise (eq. 2.2), L-BFGS or Adam, output
  size independent of the exemplar's.  By default the image is optimised in the exemplar's decorrelated colour
  space and a 1/f-scaled Fourier basis (``parametrization="spectral"``,
  :class:`~netprior.parametrize.SpectralPixels`, a preconditioner) from 1/f noise with the exemplar's mean and
  colour covariance (``init="spectral"``); ``parametrization="pixels"`` optimises the pixels themselves (Gatys
  et al.), ``init="shuffle"`` starts from the exemplar's pixels in random order, ``init="noise"`` from U(0, 1) in
  every channel (Gatys et al.).  Measured on the grey 512 px brick exemplar (128 px output, 300 L-BFGS steps,
  Lite0; :mod:`netprior.texture_metrics`): pixels from U(0, 1) leave 92 % of the pixels coloured (max − min
  channel > 0.15), pixels from the shuffled exemplar 23 % with a period-2 checker, the spectral parametrization
  from spectral noise 0 %, no checker, patch SW₂ 0.0040 → 0.0023, and a lower Lite0 loss (0.092 → 0.024);
  docs/methods/texture.md.  Coarse to fine by default (``scales``, :func:`default_scales`: 3 at 256 px): on brick
  a single scale draws a jumble of slabs with fragments of mortar, three scales draw columns of bricks outlined by
  mortar (docs/methods/texture.md, issue #16's seventh session).  What the loss matches — Gram matrices, shifted
  Gram matrices, sliced Wasserstein distances of the features — is the descriptor's choice
  (:mod:`netprior.texture_statistics`).
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

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import record
from ..distributed import resolve_device
from ..errors import InputError
from ..feedforward import TrainConfig, train_model
from ..inputs import size_pair
from ..objective import Encoder, Objective
from ..parametrize import (
    Pixels,
    SpectralPixels,
    check_image_parametrization,
    colour_basis,
    spectral_noise,
)
from ..record import Run
from ..seeding import generator
from ..settings.texture import INITS, optimisation
from ..solve import solve
from ..terms import GramMatch
from ..texture_descriptor import Descriptor
from ..texture_model import GeneratorModel


def initial_image(exemplar: Tensor, size: tuple[int, int], init: str,
                  generator: torch.Generator | None = None) -> Tensor:
    """The starting point of :func:`synthesize`, drawn from ``generator``: ``"noise"`` is U(0, 1) i.i.d. in every
    channel (Gatys et al.); ``"shuffle"`` draws every pixel's colour at random from the exemplar's pixels — white
    noise with the exemplar's colour distribution (grey noise for a grey exemplar); ``"spectral"`` is Gaussian
    noise with the exemplar's mean and colour covariance and a 1/f amplitude spectrum
    (:func:`netprior.parametrize.spectral_noise`).  A descriptor blind to some pixel-level colour noise (Lite0)
    leaves whatever colour noise the start has, and the spectral parametrization moves high frequencies slowly, so
    it keeps a white-noise start's fine grain: "spectral" starts with neither."""
    h, w = size
    if init == "spectral":
        return spectral_noise((h, w), colour_basis(exemplar.cpu()), generator)
    if init == "noise":
        return torch.rand(1, 3, h, w, generator=generator)
    if init == "shuffle":
        pixels = exemplar[0].flatten(1).cpu()
        return pixels[:, torch.randint(pixels.shape[1], (h * w,), generator=generator)].view(1, 3, h, w).clone()
    raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")


MAX_SCALES = 3
COARSEST_SIDE = 64


def default_scales(size: tuple[int, int], exemplar: Tensor) -> int:
    """The number of scales of :func:`synthesize` by default: the most, up to ``MAX_SCALES`` (3), at which the
    coarsest image and the coarsest exemplar are still ``COARSEST_SIDE`` (64) px or more on their shorter side
    (at 64 px Lite0's block0 … block3 still fit the exemplar); 1 for images under 128 px."""
    side = min(*size, *exemplar.shape[-2:])
    if side < COARSEST_SIDE:
        return 1
    return min(MAX_SCALES, 1 + int(math.log2(side / COARSEST_SIDE)))


def synthesize(exemplar: Tensor, size: tuple[int, int] | int | None = None, *, descriptor: Descriptor | None = None,
               optimizer: str = "lbfgs", iters: int | None = None, lr: float | None = None, init: str = "spectral",
               parametrization: str = "spectral", scales: int | None = None, seed: int = 0, device: str = "cpu",
               checkpoint: str | None = None, progress: bool = True, snapshot_every: int = 0, callback=None) -> Run:
    """Texture synthesis by optimisation (Gatys et al. 2015): minimise L_T(x; x0) over the image x, started
    from noise of ``size`` (default: the exemplar's size; ``init``: see :func:`initial_image`), x the optimised
    pixels (``parametrization="pixels"``) or x = μ + C·F⁻¹(s ⊙ Y) with the exemplar's colour basis
    (``"spectral"``, :class:`~netprior.parametrize.SpectralPixels`).  ``optimizer`` is ``lbfgs`` (300 steps,
    lr 1) or ``adam`` (1000 steps, lr 0.05).

    Coarse to fine (``scales`` = S > 1): the texture is first synthesised at 1/2^(S−1) of the size against the
    exemplar average-pooled by the same factor, with the texture layers whose receptive field fits that exemplar
    (:meth:`Descriptor.fitting`); each result is upsampled ×2 (bilinear) as the start of the next scale, the last
    scale being the plain synthesis.  Each scale runs ``iters`` steps (a coarse step costs ~1/4 of the next).  At a
    coarse scale the deep layers see whole bricks and their neighbours, so the large-scale layout is settled there
    (Gatys et al. 2017, "Controlling perceptual factors in neural style transfer", §5; Snelgrove 2017).
    ``checkpoint`` and ``callback`` belong to the last scale; ``texture_loss_initial`` is the loss of its start and
    ``seconds_all_scales`` the time of all scales."""
    opt = optimisation(optimizer, iters, lr)
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    check_image_parametrization(parametrization)
    dev = resolve_device(device)
    descriptor = descriptor or Descriptor(device=dev)
    descriptor.check_exemplar(exemplar)
    h, w = size_pair(size or tuple(exemplar.shape[-2:]))
    scales = default_scales((h, w), exemplar) if scales is None else scales
    if not isinstance(scales, int) or scales < 1:
        raise InputError(f"scales must be an integer >= 1, got {scales!r}")
    factor = 2 ** (scales - 1)
    if min(h, w) < 16 * factor:
        raise InputError(f"{scales} scales need an image of at least {16 * factor} px on each side, got {w}x{h}")
    gen = generator(seed)
    start = initial_image(exemplar, (h // factor, w // factor), init, gen)
    stages = []
    for k in reversed(range(scales)):
        ex = F.avg_pool2d(exemplar, 2 ** k) if k else exemplar
        d = descriptor.fitting(ex) if k else descriptor
        targets = d.grams(ex.to(dev))
        param = (SpectralPixels(start, colour_basis(ex.cpu())) if parametrization == "spectral"
                 else Pixels(start, box=True)).to(dev)
        objective = Objective({"texture": (1.0, GramMatch(Encoder(d.features), d, targets))})
        initial = float(d.texture_loss(param().detach(), targets))
        result = solve(param, objective, iters=opt.iters, lr=opt.lr, optimizer=opt.optimizer, seed=seed,
                       checkpoint=None if k else checkpoint, progress=progress,
                       desc=f"texture/{opt.optimizer}" + (f" 1/{2 ** k}" if scales > 1 else ""),
                       snapshot_every=snapshot_every if not k else 0, callback=None if k else callback)
        stages.append({"scale": 1 / 2 ** k, "size": list(start.shape[-2:]), "texture_layers": list(d.texture_layers),
                       "steps": result.steps, "seconds": result.seconds})
        if k:  # the next scale starts from this texture, upsampled
            start = F.interpolate(result.image.cpu(), size=(h // 2 ** (k - 1), w // 2 ** (k - 1)), mode="bilinear",
                                  align_corners=False).clamp(0, 1)
    image = result.image.clamp(0, 1)
    with torch.no_grad():
        final = float(descriptor.texture_loss(image, targets))
    config = record.config("texture-optimisation (Gatys et al. 2015)", param, objective, optimizer=opt.optimizer,
                           init=init, parametrization=parametrization, iters=opt.iters, lr=opt.lr, seed=seed,
                           device=str(dev), size=[h, w], exemplar_shape=list(exemplar.shape), scales=scales,
                           stages=stages, descriptor=descriptor.describe())
    metrics = {"texture_loss_initial": initial, "texture_loss": final, "loss_reduction": initial / max(final, 1e-30),
               "seconds_all_scales": sum(stage["seconds"] for stage in stages)}
    return Run(image=image, config=config, metrics=metrics, results={"texture": result})


# ----------------------------------------------------------------------------------------------------------------
# Feed-forward generators: training and sampling.


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
        # The thesis' transposed convolutions print a grid (nets/texture.py); its noise, entering only through the
        # fully connected layers, gives every sample the same layout, and its sigmoid traps regions that saturate
        # (docs/methods/texture.md).  Model files record the choices.
        net_options.setdefault("upsample", "resize")
        net_options.setdefault("stage_noise", 8)
        net_options.setdefault("output_leak", 0.1)
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
