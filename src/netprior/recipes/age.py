"""Adversarial Generator-Encoder networks (AGE; Ulyanov, Vedaldi & Lempitsky 2018, thesis ch. 4) on loop 2.

Two players only, an encoder e and a generator g, with codes on the unit sphere, Z = Uniform(S^(M−1)), and the
divergence Δ(Q‖N(0, I)) of eq. 4.7: the KL divergence between a diagonal Gaussian fitted to a batch of codes
(means m_j, standard deviations s_j) and the unit Gaussian, averaged over the M dimensions,

    Δ = −1/2 + (1/M) Σ_j [ (s_j² + m_j²)/2 − log s_j ]                                          (eq. 4.7)

(on the sphere Σ_j (s_j² + m_j²) = 1, so Δ only rewards codes spread evenly over all directions).  Per iteration
(2 generator updates per encoder update, §4.3.1; Adam 2·10⁻⁴, β = (0.5, 0.999)):

    e:  minimise  Δ(e(X)‖N) − Δ(e(g(Z))‖N) + μ · L_X,   L_X = E |x − g(e(x))|   (mean over pixels; eq. 4.6, 4.3)
    g:  minimise  Δ(e(g(Z))‖N) + λ · L_Z [+ μ_G · L_X],  L_Z = E ||z − e(g(z))||² / (2M)          (eq. 4.5, 4.4)

with μ = 10 and λ ∈ {500, 1000, 2000} (§4.3.1; default 1000), L_X measured on images in [−1, 1] (the units of
the authors' code, whose μ = 10 the thesis quotes; on [0, 1] images μ would weigh half as much).  L_Z is taken
per code coordinate: for unit vectors ||z − e||²/(2M) = (1 − cos)/M, which is the authors' code's cosine loss (a
mean over the B × M entries of z ⊙ e), the loss their λ values weight.  Read literally (a sum over the M
coordinates), eq. 4.4 with λ = 1000 is 2M = 128 times stronger at M = 64 and drowns the divergence in g's loss.

Departures for a short (CPU) budget, all off by default (the thesis' game): ``warmup`` iterations of an
autoencoder before the game (e minimises Δ(e(X)‖N) + μ L_X, g minimises μ L_X), μ_G = ``generator_pixel_weight``
(L_X in g's loss too: the authors' code's g ``match_x``), and w = ``real_weight``, the weight of Δ(e(X)‖N) in e's
loss (the authors' code's e ``KL_real``):

    e:  minimise  w · Δ(e(X)‖N) − Δ(e(g(Z))‖N) + μ · L_X

With w = 1 the encoder is rewarded for adding one offset to every code before the sphere projection: it shrinks the
spread of the generated codes a little more than that of the real ones, and g's BatchNorm removes it from g's
input, so L_X does not see it; after a warm-up the held-out codes collapse to one "average face" (mean cosine 0.01
→ 0.70 in 50 iterations).  w = 4 prices that collapse.  ``upsample="nearest"`` builds g with nearest ×2 + 3×3
convolutions in place of DCGAN's transposed ones, in which the game writes a colour checkerboard at a short
budget; ``encoder_antialias`` low-passes the input of e's strided convolutions, so that g cannot hide z in a fine
stripe grid that only e reads.  The measurements behind each choice, and what was tried and rejected:
``docs/methods/age.md``.

Mode ``colorize`` (§4.3.2) is the conditional AGE: data sample x = the ab channels of the Lab image, condition L;
e(x | L), g(z | L) (:mod:`netprior.nets.age`), M = 3 by default; L_X is measured on ab/110 so that μ keeps its
meaning; the divergence is computed over the batch "unconditionally" (codes of images with different L together).
Different z give different colourings of one L; e(x₁ | L₁) decoded with L₂ transfers the colours of image 1 onto
image 2 (with M = 3 the benchmark runs λ = 0, as the authors' colourisation commands; docs/methods/age.md).
The model (both networks, their architecture options and the training config) is a
:mod:`~netprior.statefile` of kind "age-model".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..colorspace import lab_to_rgb, lightness, rgb_to_lab
from ..errors import InputError
from ..nets.age import AB_SCALE, AGEEncoder, ColorizationEncoder, ColorizationGenerator, to_sphere
from ..nets.dcgan import DCGANGenerator
from ..statefile import load_state, save_state
from ..settings.age import AGEConfig
from ..train import Player, Step, TrainResult, train

MODEL_KIND, MODEL_VERSION = "age-model", 1


@dataclass
class AGERun:
    encoder: nn.Module
    generator: nn.Module
    result: TrainResult
    config: dict


def kl_to_standard_normal(codes: Tensor) -> Tensor:
    """Δ(Q‖N(0, I)) of eq. 4.7 for a batch of codes (B, M): the KL divergence of the diagonal Gaussian fitted to
    the batch (maximum-likelihood means and variances) from N(0, I), divided by M."""
    m = codes.mean(0)
    var = codes.var(0, unbiased=False).clamp_min(1e-12)
    return (-0.5 + ((var + m ** 2) / 2 - 0.5 * var.log()).mean())


def code_statistics(codes: Tensor) -> dict[str, float]:
    """The collapse monitor of unit codes (N, M): ``cosine``, the mean cosine between the codes of two different
    images (0 for codes uniform on the sphere, 1 when every image gets the same code), and ``spread``,
    √M · mean_j s_j with s_j the standard deviation of coordinate j (1 for uniform codes, 0 for one code)."""
    n, m = codes.shape
    total = codes.sum(0)
    cosine = (total.dot(total) - codes.pow(2).sum()) / (n * (n - 1))
    return {"cosine": float(cosine), "spread": float(codes.std(0, unbiased=False).mean() * m ** 0.5)}


def encoder_game_loss(kl_real: Tensor, kl_fake: Tensor, real_weight: float = 1.0) -> Tensor:
    """The encoder's side of the game (eq. 4.6 without L_X), to minimise: w · Δ(e(X)‖N) − Δ(e(g(Z))‖N).  The
    thesis has w = 1; with w = 1 a shared offset added to every code before the sphere projection is rewarded,
    because it shrinks the generated codes' spread a little more than the real codes' (docs/methods/age.md)."""
    return real_weight * kl_real - kl_fake


def latent_error(z: Tensor, codes: Tensor) -> Tensor:
    """L_Z per code coordinate: ||z − e||² / (2M) = (1 − cos(z, e)) / M for unit vectors (the authors' cosine
    loss, a mean over the B × M entries of z ⊙ e, whose λ ∈ {500, 1000, 2000} the thesis quotes)."""
    return (z - codes).pow(2).sum(1).mean() / (2 * z.shape[1])


def pixel_error(x: Tensor, y: Tensor, *, conditional: bool = False) -> Tensor:
    """L_X = mean |x − y| in the networks' [−1, 1] units: of 2x − 1 for images in [0, 1] (the authors' code
    normalises images to [−1, 1], the units its μ = 10 weights; on [0, 1] the same μ weighs half as much), of
    ab/110 for colourisation (``conditional``)."""
    return (x - y).abs().mean() * (1 / AB_SCALE if conditional else 2.0)


def sphere_noise(count: int, nz: int, generator: torch.Generator | None = None) -> Tensor:
    """``count`` codes uniform on the unit sphere of R^nz (normalised Gaussian vectors)."""
    return to_sphere(torch.randn(count, nz, generator=generator))


class _Data:
    """How a mode sees an image batch: the data sample x, the condition c, and calls of e and g."""

    def __init__(self, mode: str):
        self.conditional = mode == "colorize"

    def split(self, rgb: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        if not self.conditional:
            return rgb, None
        lab = rgb_to_lab(rgb)
        return lab[:, 1:], lab[:, :1]

    def encode(self, e: nn.Module, x: Tensor, cond: Tensor | None) -> Tensor:
        return e(x, cond) if self.conditional else e(x)

    def generate(self, g: nn.Module, z: Tensor, cond: Tensor | None) -> Tensor:
        return g(z, cond) if self.conditional else g(z)

    def pixel_error(self, x: Tensor, y: Tensor) -> Tensor:
        return pixel_error(x, y, conditional=self.conditional)


def build_networks(cfg: AGEConfig) -> tuple[nn.Module, nn.Module]:
    """(e, g) for ``cfg``, initialised from the global torch RNG."""
    if cfg.mode == "colorize":
        return ColorizationEncoder(cfg.nz, cfg.width), ColorizationGenerator(cfg.nz, cfg.width, cfg.blocks)
    return (AGEEncoder(cfg.size, cfg.nz, cfg.width, cfg.channels, antialias=cfg.encoder_antialias),
            DCGANGenerator(cfg.size, cfg.nz, cfg.width, cfg.channels, upsample=cfg.upsample))


def players(cfg: AGEConfig) -> list[Player]:
    """The encoder E (``e_steps`` per iteration, first) and the generator G (``g_steps``), built with the global
    RNG seeded by ``cfg.seed``; the first ``cfg.warmup`` iterations are the autoencoder warm-up."""
    torch.manual_seed(cfg.seed)
    e, g = build_networks(cfg)
    view = _Data(cfg.mode)

    def fake_codes(step: Step, cond: Tensor | None, grad: bool) -> tuple[Tensor, Tensor]:
        z = to_sphere(step.noise(cfg.nz))
        with torch.set_grad_enabled(grad):
            fake = view.generate(step.net("G"), z, cond)
        return z, view.encode(step.net("E"), fake, cond)

    def encoder_loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
        x, cond = view.split(real)
        ex = view.encode(step.net("E"), x, cond)
        rec = view.pixel_error(x, view.generate(step.net("G"), ex, cond))
        kl_real = kl_to_standard_normal(ex)
        stats = code_statistics(ex.detach())
        terms = {"kl_real": float(kl_real.detach()), "rec_x": float(rec.detach()),
                 "real_cosine": stats["cosine"], "real_spread": stats["spread"]}
        if step.iteration <= cfg.warmup:
            return kl_real + cfg.pixel_weight * rec, terms
        _, egz = fake_codes(step, cond, grad=False)
        kl_fake = kl_to_standard_normal(egz)
        return (encoder_game_loss(kl_real, kl_fake, cfg.real_weight) + cfg.pixel_weight * rec,
                {**terms, "kl_fake": float(kl_fake.detach())})

    def generator_loss(step: Step, real: Tensor | None) -> tuple[Tensor, dict]:
        x, cond = view.split(real)
        warm = step.iteration <= cfg.warmup
        loss, terms = torch.zeros((), device=step.device), {}
        if not warm:
            z, egz = fake_codes(step, cond, grad=True)
            kl_fake, rec_z = kl_to_standard_normal(egz), latent_error(z, egz)
            loss = kl_fake + cfg.latent_weight * rec_z
            terms = {"kl_fake": float(kl_fake.detach()), "rec_z": float(rec_z.detach())}
        weight = cfg.pixel_weight if warm else cfg.generator_pixel_weight
        if weight:
            rec = view.pixel_error(x, view.generate(step.net("G"), view.encode(step.net("E"), x, cond), cond))
            loss = loss + weight * rec
            terms["rec_x"] = float(rec.detach())
        return loss, terms

    return [Player("E", e, encoder_loss, lr=cfg.lr, betas=cfg.betas, steps=cfg.e_steps),
            Player("G", g, generator_loss, lr=cfg.lr, betas=cfg.betas, steps=cfg.g_steps,
                   uses_data=view.conditional or cfg.warmup > 0 or cfg.generator_pixel_weight > 0, ema=cfg.ema)]


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def _batched(fn: Callable[[slice], Tensor], count: int, batch: int = 64) -> Tensor:
    return torch.cat([fn(slice(i, min(count, i + batch))).cpu() for i in range(0, count, batch)])


@torch.no_grad()
def sample(g: nn.Module, count: int, *, seed: int = 0) -> Tensor:
    """``count`` unconditional samples g(z), z uniform on the sphere drawn from ``seed`` (eval mode)."""
    z = sphere_noise(count, g.nz, torch.Generator().manual_seed(seed))
    return _batched(lambda s: g(z[s].to(_device(g))), count)


@torch.no_grad()
def encode(e: nn.Module, images: Tensor) -> Tensor:
    """Codes e(x) of (N, C, H, W) images in [0, 1] (unconditional model)."""
    return _batched(lambda s: e(images[s].to(_device(e))), len(images))


@torch.no_grad()
def reconstruct(e: nn.Module, g: nn.Module, images: Tensor) -> Tensor:
    """g(e(x)) of (N, C, H, W) images in [0, 1] (unconditional model)."""
    return _batched(lambda s: g(e(images[s].to(_device(e)))), len(images))


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """``steps`` points on the great circle from unit vector ``a`` to ``b`` (both ends included)."""
    omega = torch.arccos((a * b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    t = torch.linspace(0, 1, steps).view(-1, 1)
    if float(omega) < 1e-4:
        return to_sphere((1 - t) * a + t * b)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def interpolate(g: nn.Module, a: Tensor, b: Tensor, steps: int) -> Tensor:
    """g along the great circle between codes ``a`` and ``b`` (unit vectors of length M)."""
    z = slerp(a.cpu(), b.cpu(), steps)
    return _batched(lambda s: g(z[s].to(_device(g))), steps)


def model_scale(rgb: Tensor, size: int) -> Tensor:
    """(1, C, H, W) resized (antialiased) so that its shorter side is ``size``, both sides even: the scale the
    colourisation networks were trained at (they are fully convolutional)."""
    h, w = rgb.shape[-2:]
    k = size / min(h, w)
    hw = (max(2, 2 * round(h * k / 2)), max(2, 2 * round(w * k / 2)))
    return torch.nn.functional.interpolate(rgb, size=hw, mode="bilinear", antialias=True).clamp(0, 1)


def grey(rgb: Tensor) -> Tensor:
    """The achromatic image of the same lightness: Lab (L*, 0, 0) back to sRGB."""
    L = lightness(rgb.expand(-1, 3, -1, -1) if rgb.shape[1] == 1 else rgb)
    return lab_to_rgb(torch.cat([L, torch.zeros_like(L).expand(-1, 2, -1, -1)], 1))


@torch.no_grad()
def colorize(g: ColorizationGenerator, image: Tensor, codes: Tensor, *, size: int) -> Tensor:
    """Colourings of one image (1, C, H, W) in [0, 1] (only its L* is used; a colour image is reduced to it) with
    (K, M) codes → (K, 3, H, W) RGB.  ab is generated at the training scale (shorter side ``size``), upsampled
    bilinearly to H × W and joined to the full-resolution L*, so every colouring keeps the input's L*
    (chrominance is the low-frequency part, as in classic colourisation)."""
    rgb = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image
    L_full = lightness(rgb)
    L = lightness(model_scale(rgb, size)).to(_device(g))
    ab = _batched(lambda s: g(codes[s].to(L.device), L.expand(len(codes[s]), -1, -1, -1)), len(codes))
    ab = torch.nn.functional.interpolate(ab, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
    return lab_to_rgb(torch.cat([L_full.expand(len(codes), -1, -1, -1), ab], 1))


@torch.no_grad()
def encode_colours(e: ColorizationEncoder, rgb: Tensor) -> Tensor:
    """The code e(ab | L) of (N, 3, H, W) colour images: what colour transfer decodes with another L."""
    lab = rgb_to_lab(rgb.to(_device(e)))
    return e(lab[:, 1:], lab[:, :1]).cpu()


def fixed_codes(nz: int, count: int, seed: int = 0) -> Tensor:
    return sphere_noise(count, nz, torch.Generator().manual_seed(seed))


def train_age(data, cfg: AGEConfig | None = None, *, device: str = "auto", workers: int = 0,
              checkpoint: str | Path | None = None, log: str | Path | None = None, progress: bool = True,
              sample_every: int = 0, grid: int = 64,
              evaluate: Callable[[int, dict], dict[str, float]] | None = None, eval_every: int = 0) -> AGERun:
    """Train an AGE on ``data`` (an :class:`~netprior.data.ImageFolder` of ``cfg.size`` crops); the generator
    returned is the averaged copy when ``cfg.ema`` is set.  Snapshots: samples
    g(z) of fixed codes (colorize: colourings of the first ``grid`` images' L with fixed codes)."""
    cfg = cfg or AGEConfig()
    shape = tuple(data[0].shape)
    if shape != (cfg.channels, cfg.size, cfg.size):
        raise InputError(f"the data gives {shape} images, the AGE is built for {(cfg.channels, cfg.size, cfg.size)}")
    ps = players(cfg)
    z = fixed_codes(cfg.nz, grid, cfg.seed)
    if cfg.mode == "colorize":
        L = lightness(torch.stack([data[(0, i)] for i in range(min(grid, len(data)))]))

        def snapshot(m):
            dev = _device(m["G"])
            return lab_to_rgb(torch.cat([L, m["G"](z[:len(L)].to(dev), L.to(dev)).cpu()], 1))
    else:
        def snapshot(m):
            return m["G"](z.to(_device(m["G"])))
    result = train(ps, data, iters=cfg.iters, batch=cfg.batch, seed=cfg.seed, device=device, workers=workers,
                   sample=snapshot, sample_every=sample_every, evaluate=evaluate, eval_every=eval_every,
                   checkpoint=checkpoint, log=log, progress=progress, desc=f"age {cfg.mode}")
    recalibrate_encoder(result.nets["E"], data, cfg)
    config = {"method": "age", **asdict(cfg), "data": data.describe() if hasattr(data, "describe") else None,
              "encoder_bn": "recalibrated on real training images"}
    return AGERun(encoder=result.nets["E"], generator=result.ema.get("G", result.nets["G"]), result=result,
                  config=config)


@torch.no_grad()
def recalibrate_encoder(e: nn.Module, data, cfg: AGEConfig, *, images: int = 512) -> None:
    """Recompute the encoder's batch-norm running statistics on real images (the first ``images`` of ``data``,
    cumulative average).  During training the encoder also normalises batches of generated images (in its own
    step and, frozen, in the generator's), so its running statistics mix real and fake batches; encoding real
    images in eval mode (reconstruction, colour transfer) needs statistics of real ones."""
    norms = [m for m in e.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    view, dev, training = _Data(cfg.mode), _device(e), e.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    e.train()
    n = min(images, len(data))
    for i in range(0, n, cfg.batch):
        x, cond = view.split(torch.stack([data[(0, j)] for j in range(i, min(n, i + cfg.batch))]).to(dev))
        view.encode(e, x, cond)
    for m in norms:
        m.momentum = 0.1
    e.train(training)


def save_model(e: nn.Module, g: nn.Module, cfg: AGEConfig, path: str | Path, *, training: dict | None = None) -> Path:
    """Write both networks, the AGE config and the training record as one state file, atomically."""
    cpu = {k: {kk: vv.cpu() for kk, vv in net.state_dict().items()} for k, net in (("encoder", e), ("generator", g))}
    return save_state(path, {"config": asdict(cfg), **cpu, "training": training or {}}, kind=MODEL_KIND,
                      version=MODEL_VERSION)


def load_model(path: str | Path, device: str = "cpu") -> tuple[nn.Module, nn.Module, AGEConfig]:
    """(e, g, config) from a file written by :func:`save_model`, in eval mode (other files: one-line error)."""
    state = load_state(path, kind=MODEL_KIND, version=MODEL_VERSION, what="AGE model file")
    try:
        cfg = AGEConfig(**{**state["config"], "betas": tuple(state["config"]["betas"])})
        e, g = build_networks(cfg)
        e.load_state_dict(state["encoder"])
        g.load_state_dict(state["generator"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged AGE model file ({str(exc).splitlines()[0][:200]})") from None
    return e.to(device).eval(), g.to(device).eval(), cfg


def codes_for(count: int, nz: int, seed: int) -> Tensor:
    """``count`` codes for colourings: spread evenly over the sphere when M = 3 (a Fibonacci lattice turned by
    ``seed``, so that a handful of colourings covers the code space), uniform random from ``seed`` otherwise."""
    if nz != 3:
        return fixed_codes(nz, count, seed)
    i = torch.arange(count, dtype=torch.float64) + 0.5
    phi = torch.arccos(1 - 2 * i / count)
    theta = math.pi * (1 + 5 ** 0.5) * i + seed
    return torch.stack([torch.cos(theta) * torch.sin(phi), torch.sin(theta) * torch.sin(phi), torch.cos(phi)],
                       1).float()
