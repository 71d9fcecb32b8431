"""Semantic Pyramid for image generation (Shocher et al. 2020) trained with loop 2, and its applications.

Parts: the networks of :mod:`netprior.nets.pyramid`, the classifier levels, masks and losses of
:mod:`netprior.semantic_pyramid`, the training loop :func:`netprior.train.train`.  Two players, D then G, one Adam
step each per iteration (lr 10⁻⁴ for both, §3.4; β = (0, 0.9), SA-GAN's):

    level, M ~ p_m                 a uniformly random level; with probability 0.3 a random hole at the finer levels
    F = C(x), y = argmax C_fc8(x)  the classifier's features and its own top-1 ImageNet class as the label
    L_D = E (D(x, y) − 1)² + E D(G(z, F, M, y), y)²                                        (LSGAN, eq. 2)
    L_G = E (D(G(z, F, M, y), y) − 1)² + α L_rec + β L_div     α = β = 0.1                (eq. 1, 3, 4)

The generator's batch is B/2 images, each used twice with two noise vectors (the pairs of L_div).  The collection
has no labels: the class of an image is the classifier's top-1 prediction (as the paper does for its re-labelling
examples, "its class label (estimated by the classification network)").  G keeps an EMA copy (decay 0.999) that
is used for samples and saved.  The trained generator is a state file ("semantic-pyramid-generator": the
architecture, the classifier's name, the weights, the training config).

Applications, all with the same generator (§4.2): ``generate`` (features of one level, N noise vectors),
``repaint`` (a region regenerated from a deeper level, the rest kept by the finer levels), ``compose`` (an
object pasted into a background, then re-painted from a deeper level so that it blends in), ``relabel`` (the
features of one level with another class embedding).  References are resized (shorter side) and centre-cropped to
the trained resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..distributed import resolve_device
from ..errors import InputError
from ..io import write_json
from ..nets.pyramid import LEVELS, ProjectionDiscriminator, PyramidGenerator
from ..semantic_pyramid import (
    ClassifierPyramid,
    check_level,
    diversity_loss,
    keep_masks,
    level_masks,
    random_masks,
    reconstruction_loss,
    truncated_noise,
)
from ..settings.pyramid import PyramidConfig
from ..statefile import load_state, save_state
from ..train import Player, Step, TrainResult, train

MODEL_KIND, MODEL_VERSION = "semantic-pyramid-generator", 1
SHEET_LEVELS = ("conv1", "conv3", "conv5", "fc8")


@dataclass
class PyramidRun:
    generator: PyramidGenerator   # the EMA copy when ``ema`` is set
    result: TrainResult
    config: dict


def _features(pyramid: ClassifierPyramid, real: Tensor) -> tuple[dict[str, Tensor], Tensor]:
    with torch.no_grad():
        feats = pyramid.features(real)
    return feats, pyramid.labels(feats)


def _mask_generator(step: Step, seed: int) -> torch.Generator:
    """The random source of the level and hole of one optimiser step: seeded by (seed, iteration, player), the
    same on every process and micro-batch and after a resume (the global RNG is not: a data stream restarted at
    a checkpoint draws from it when it opens its DataLoader)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step.iteration) * 2 + (step.player == "G"))


def discriminator_loss(pyramid: ClassifierPyramid, cfg: PyramidConfig) -> Callable:
    def loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
        feats, y = _features(pyramid, real)
        _, masks = random_masks(feats, cfg.resolution, cfg.p_spatial, _mask_generator(step, cfg.seed), cfg.levels)
        with torch.no_grad():
            fake = step.net("G")(step.noise(step.module("G").nz), feats, masks, y)
        d = step.net("D")
        real_score, fake_score = d(real, y), d(fake, y)
        return (real_score - 1).pow(2).mean() + fake_score.pow(2).mean(), {
            "real_score": float(real_score.detach().mean()), "fake_score": float(fake_score.detach().mean())}
    return loss


def generator_loss(pyramid: ClassifierPyramid, cfg: PyramidConfig) -> Callable:
    def loss(step: Step, real: Tensor) -> tuple[Tensor, dict]:
        half, y = _features(pyramid, real[: real.shape[0] // 2])
        feats = {l: f.repeat_interleave(2, 0) for l, f in half.items()}
        y = y.repeat_interleave(2, 0)
        _, masks = random_masks(feats, cfg.resolution, cfg.p_spatial, _mask_generator(step, cfg.seed), cfg.levels)
        z = step.noise(step.module("G").nz)
        fake = step.net("G")(z, feats, masks, y)
        adv = (step.net("D")(fake, y) - 1).pow(2).mean()
        used = tuple(l for l in LEVELS if bool(masks[l].any()))
        rec = reconstruction_loss(pyramid.features(fake, used), feats, masks)
        div = diversity_loss(z, fake, distance=cfg.div_distance)
        return adv + cfg.rec_weight * rec + cfg.div_weight * div, {
            "adv": float(adv.detach()), "rec": float(rec.detach()), "div": float(div.detach())}
    return loss


def players(cfg: PyramidConfig, pyramid: ClassifierPyramid) -> list[Player]:
    """D and G with their losses, built from ``cfg`` with the global RNG seeded by ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    g = PyramidGenerator(cfg.resolution, pyramid.channels(cfg.resolution), cfg.width, pyramid.num_classes,
                         cfg.attention, cfg.skip_z)
    d = ProjectionDiscriminator(cfg.resolution, cfg.width, pyramid.num_classes, cfg.attention)
    return [Player("D", d, discriminator_loss(pyramid, cfg), lr=cfg.lr, betas=cfg.betas),
            Player("G", g, generator_loss(pyramid, cfg), lr=cfg.lr, betas=cfg.betas, ema=cfg.ema)]


def _identity(cfg: PyramidConfig) -> dict:
    return {"classifier": cfg.classifier, "resolution": cfg.resolution, "width": cfg.width,
            "attention": cfg.attention, "skip_z": cfg.skip_z}


def check_checkpoint(checkpoint: Path | None, cfg: PyramidConfig) -> None:
    """A training checkpoint is resumed only by a run with the same classifier, resolution and width: its
    ``<checkpoint>.pyramid.json`` records them (written when the run starts)."""
    if checkpoint is None:
        return
    import json

    record = Path(checkpoint).with_suffix(".pyramid.json")
    if Path(checkpoint).exists() and record.exists():
        was = json.loads(record.read_text())
        now = _identity(cfg)
        if was != now:
            diff = ", ".join(f"{k} {was.get(k)} (this run: {now[k]})" for k in now if was.get(k) != now[k])
            raise InputError(f"{checkpoint}: the checkpoint was trained with {diff}; use the same settings or "
                             "another --checkpoint path")
    else:
        write_json(_identity(cfg), record)


def sample_sheet(g: PyramidGenerator, pyramid: ClassifierPyramid, references: Tensor, *, levels=SHEET_LEVELS,
                 seed: int = 0, truncation: float = 0.0) -> Tensor:
    """Images for a sheet: per reference, the reference then one sample from each of ``levels`` (row-major)."""
    rows = [references.unsqueeze(1)]
    for level in levels:
        rows.append(generate(g, pyramid, references, level, 1, seed=seed, truncation=truncation).unsqueeze(1))
    return torch.cat(rows, 1).flatten(0, 1)


def train_pyramid(data, cfg: PyramidConfig | None = None, *, device: str = "auto", workers: int = 0,
                  checkpoint: str | Path | None = None, log: str | Path | None = None, progress: bool = True,
                  sample_every: int = 0, references: Tensor | None = None,
                  evaluate: Callable[[int, dict], dict[str, float]] | None = None,
                  eval_every: int = 0) -> PyramidRun:
    """Train a semantic pyramid generator on ``data`` (an :class:`~netprior.data.ImageFolder` of
    ``cfg.resolution`` crops).  Snapshots are :func:`sample_sheet` s of ``references`` (default: the first 4
    images of ``data``)."""
    cfg = cfg or PyramidConfig()
    if tuple(data[0].shape) != (3, cfg.resolution, cfg.resolution):
        raise InputError(f"the data gives {tuple(data[0].shape)} images, the pyramid is trained on "
                         f"{(3, cfg.resolution, cfg.resolution)} colour images")
    check_checkpoint(Path(checkpoint) if checkpoint else None, cfg)
    pyramid = ClassifierPyramid(cfg.classifier, resolve_device(device))
    ps = players(cfg, pyramid)
    refs = references if references is not None else torch.stack([data[i] for i in range(min(4, len(data)))])
    result = train(ps, data, iters=cfg.iters, batch=cfg.batch, seed=cfg.seed, device=device, workers=workers,
                   sample=lambda m: sample_sheet(m["G"], pyramid, refs, seed=cfg.seed),
                   sample_every=sample_every, evaluate=evaluate, eval_every=eval_every, checkpoint=checkpoint,
                   log=log, progress=progress, desc="pyramid")
    g = result.ema.get("G", result.nets["G"])
    config = {"method": "semantic-pyramid", **asdict(cfg),
              "data": data.describe() if hasattr(data, "describe") else None, "generator_is_ema": "G" in result.ema,
              "labels": "the classifier's top-1 ImageNet class of each training image"}
    return PyramidRun(generator=g, result=result, config=config)


def save_generator(g: PyramidGenerator, classifier: str, path: str | Path, *, training: dict | None = None) -> Path:
    """Write the generator (architecture, classifier name, weights, training config) as a state file."""
    return save_state(path, {"config": g.config, "classifier": classifier, "training": training or {},
                             "state_dict": {k: v.cpu() for k, v in g.state_dict().items()}},
                      kind=MODEL_KIND, version=MODEL_VERSION)


def load_generator(path: str | Path, device: str = "cpu") -> tuple[PyramidGenerator, ClassifierPyramid]:
    """The generator written by :func:`save_generator` (eval mode) and its classifier, on ``device``."""
    state = load_state(path, kind=MODEL_KIND, version=MODEL_VERSION, what="semantic pyramid generator file")
    try:
        g = PyramidGenerator(**state["config"])
        g.load_state_dict(state["state_dict"])
        name = state["classifier"]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged semantic pyramid generator file ({str(exc).splitlines()[0][:200]})") \
            from None
    pyramid = ClassifierPyramid(name, device)
    if pyramid.channels(g.resolution) != g.config["channels"]:
        raise InputError(f"{path}: the generator was built for other {name} feature channels")
    return g.to(device).eval(), pyramid


def fit_reference(image: Tensor, resolution: int) -> Tensor:
    """(1, C, H, W) in [0, 1] → (1, 3, R, R): grey replicated, shorter side resized to R (antialiased bicubic),
    centred crop."""
    x = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image[:, :3]
    h, w = x.shape[-2:]
    s = resolution / min(h, w)
    size = (max(resolution, round(h * s)), max(resolution, round(w * s)))
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (x.shape[-2] - resolution) // 2, (x.shape[-1] - resolution) // 2
    return x[..., top:top + resolution, left:left + resolution]


def fit_mask(mask: Tensor, resolution: int) -> Tensor:
    """A (1, 1, H, W) 0/1 mask cropped and resized like :func:`fit_reference` (nearest), still 0/1."""
    h, w = mask.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    m = mask[..., top:top + side, left:left + side].float()
    return (F.interpolate(m, size=(resolution, resolution), mode="area") >= 0.5).float()


@torch.no_grad()
def synthesize(g: PyramidGenerator, pyramid: ClassifierPyramid, references: Tensor,
               masks_of: Callable[[dict[str, Tensor]], dict[str, Tensor]], n: int, *, seed: int = 0,
               truncation: float = 0.0, label: int | None = None) -> Tensor:
    """For each reference (B, 3, R, R) ``n`` samples G(z_k, F, M, y) → (B·n, 3, R, R), reference-major; M =
    ``masks_of(F)``, y = ``label`` or each reference's top-1 class, z_k from ``seed`` (truncated at
    ``truncation``) — the same n codes for every reference."""
    dev = next(g.parameters()).device
    feats = pyramid.features(references.to(dev))
    y = pyramid.labels(feats) if label is None else torch.full((references.shape[0],), label, device=dev)
    masks = masks_of(feats)
    z = truncated_noise(n, truncation, torch.Generator().manual_seed(seed)).to(dev)
    b = references.shape[0]
    rep = {l: f.repeat_interleave(n, 0) for l, f in feats.items()}
    mrep = {l: m.repeat_interleave(n, 0) for l, m in masks.items()}
    return g(z.repeat(b, 1), rep, mrep, y.repeat_interleave(n, 0)).cpu()


def generate(g, pyramid, references: Tensor, level: str, n: int, **kw) -> Tensor:
    """``n`` samples per reference from the features of ``level`` alone (Fig. 2)."""
    check_level(level)
    return synthesize(g, pyramid, references, lambda f: level_masks(f, level), n, **kw)


def repaint(g, pyramid, references: Tensor, keep: Tensor, level: str, n: int, **kw) -> Tensor:
    """Re-paint where ``keep`` (1, 1, R, R) is 0 from ``level``; the kept region comes through the finer levels."""
    check_level(level)
    if level == "conv1":
        raise InputError("re-painting needs a level deeper than conv1 (the finer levels keep the rest of the image)")
    return synthesize(g, pyramid, references, lambda f: keep_masks(f, level, keep), n, **kw)


def compose(g, pyramid, background: Tensor, obj: Tensor, region: Tensor, level: str, n: int, **kw) -> Tensor:
    """Paste ``obj`` into ``background`` where ``region`` (1, 1, R, R) is 1, then re-paint that region from
    ``level`` (§4.2, semantic image composition)."""
    pasted = region * obj + (1 - region) * background
    return repaint(g, pyramid, pasted, 1 - region, level, n, **kw)


def relabel(g, pyramid, references: Tensor, label: int, level: str, n: int, **kw) -> Tensor:
    """The features of ``level`` with the class embedding of ``label`` instead of the predicted class (Fig. 8)."""
    check_level(level)
    if not 0 <= label < g.num_classes:
        raise InputError(f"class {label} out of range: the generator knows classes 0 … {g.num_classes - 1}")
    return synthesize(g, pyramid, references, lambda f: level_masks(f, level), n, label=label, **kw)
