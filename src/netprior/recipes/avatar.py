"""Textured neural avatars (Shysheya et al. 2019; thesis ch. 6) and the "Direct" translation baseline, trained
with loop 2 (:mod:`netprior.train`).

Textured avatar: the translation network g_φ (:class:`~netprior.nets.avatar.AvatarTranslator`) maps the bone stack
B (:mod:`netprior.avatar.bones`) to n + 1 part-assignment maps P = softmax(g^P_φ(B)) (the last = background) and
2n texture-coordinate maps C = w · sigmoid(g^C_φ(B)); the image is sampled from n learned textures T^k (w × w)

    s(P, C, T)[x, y] = Σ_{k<n} P^k[x, y] · T^k[C^{2k}[x, y], C^{2k+1}[x, y]]                     (6.1)

with bilinear ``grid_sample`` (C^{2k} is the column/u, C^{2k+1} the row/v).  Loss, back-propagated into φ and T:

    L = d_perc(Ī, s(P, C, T)) + λ_mask · BCE(1 − M̄, P^n)                                      (6.2), (6.3)

d_perc the L1 distance of backbone features (Lite0 taps by default, offline; ``vgg19`` uses VGG-19 when its
weights are cached) plus the L1 distance of the images themselves (the thesis' VGG conv1 tap is near pixel level;
Lite0's first tap is at half resolution).  Initialisation (§6.3.5): g_φ is first pre-trained on ground-truth part
and UV maps (in place of DensePose: cross-entropy on P, L1 on the coordinates of the true part) for
``pretrain_iters`` iterations, or copied from another avatar (``init``, the transfer alternative); then every texel
is set to the mean of the training pixels that the pre-trained network maps to it (person pixels of the
ground-truth mask, argmax over the part maps, nearest texel; texels hit by no pixel are black).

Direct (§6.4.4): the same network with an RGB head (sigmoid) and a background head (logit); its image is
RGB · (1 − background) so that both models face the same loss, and is trained for the same number of steps
with the same losses.  ``iters`` counts all steps: the textured
avatar trains end to end for ``iters − pretrain_iters`` (all ``iters`` when ``init`` replaces pre-training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..avatar.dataset import AvatarFolder, unpack
from ..errors import InputError
from ..nets.avatar import AvatarTranslator
from ..settings.avatar import BACKBONE_LAYERS, AvatarConfig
from ..statefile import load_state, save_state
from ..train import Player, Step, TrainResult, train

MODEL_KIND, MODEL_VERSION = "neural-avatar", 1


def sample_textures(parts: Tensor, coords: Tensor, textures: Tensor) -> Tensor:
    """Eq. (6.1): (B, n+1, H, W) part probabilities, (B, 2n, H, W) coordinates in [0, 1] (u, v per part) and
    (n, 3, w, w) textures → (B, 3, H, W) image Σ_{k<n} P^k · T^k[C^{2k}, C^{2k+1}] (bilinear, border-clamped,
    texel (i, j) at ((j + ½)/w, (i + ½)/w))."""
    b, _, h, w = coords.shape
    n = textures.shape[0]
    grid = (coords.view(b, n, 2, h, w).permute(0, 1, 3, 4, 2) * 2 - 1).reshape(b * n, h, w, 2)
    tex = textures[None].expand(b, -1, -1, -1, -1).reshape(b * n, *textures.shape[1:])
    sampled = F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return (sampled.view(b, n, 3, h, w) * parts[:, :n, None]).sum(1)


class TexturedAvatar(nn.Module):
    """g_φ with the part and coordinate heads, and the learned textures T (n, 3, w, w)."""

    def __init__(self, bones: int, parts: int, texture_size: int, **net) -> None:
        super().__init__()
        self.net = AvatarTranslator(bones, {"parts": parts + 1, "coords": 2 * parts}, **net)
        self.textures = nn.Parameter(torch.full((parts, 3, texture_size, texture_size), 0.5))
        self.parts = parts

    def surface(self, bones: Tensor) -> tuple[Tensor, Tensor]:
        """Part logits (B, n+1, H, W) and coordinates C / w (B, 2n, H, W) in [0, 1]."""
        out = self.net(bones)
        return out["parts"], torch.sigmoid(out["coords"])

    def forward(self, bones: Tensor) -> dict[str, Tensor]:
        logits, coords = self.surface(bones)
        log_p = logits.float().log_softmax(1)
        image = sample_textures(log_p.exp(), coords.float(), self.textures)
        return {"image": image, "log_bg": log_p[:, -1:], "log_fg": torch.logsumexp(log_p[:, :-1], 1, keepdim=True)}


class DirectAvatar(nn.Module):
    """The Direct baseline: g_φ with an RGB head and a background head."""

    def __init__(self, bones: int, **net) -> None:
        super().__init__()
        self.net = AvatarTranslator(bones, {"rgb": 3, "mask": 1}, **net)

    def forward(self, bones: Tensor) -> dict[str, Tensor]:
        out = self.net(bones)
        logit = out["mask"].float()
        image = torch.sigmoid(out["rgb"].float()) * torch.sigmoid(-logit)
        return {"image": image, "log_bg": F.logsigmoid(logit), "log_fg": F.logsigmoid(-logit)}


def build_model(cfg: AvatarConfig, bones: int) -> nn.Module:
    net = {"width": cfg.width, "max_channels": cfg.max_channels, "res_blocks": cfg.res_blocks}
    if cfg.mode == "textured":
        return TexturedAvatar(bones, cfg.parts, cfg.texture_size, **net)
    return DirectAvatar(bones, **net)


class PerceptualLoss(nn.Module):
    """d_perc(x, y) = pixel_weight · |x − y|₁ + Σ_l |Φ_l(x) − Φ_l(y)|₁ (means), Φ the frozen backbone's taps."""

    def __init__(self, backbone: str = "lite0", pixel_weight: float = 1.0) -> None:
        super().__init__()
        from ..backbones import get_backbone
        from ..losses import perceptual_l1

        if backbone not in BACKBONE_LAYERS:
            raise InputError(f"backbone must be one of {', '.join(BACKBONE_LAYERS)}, got {backbone!r}")
        self.net, self.layers, self.pixel_weight, self.distance = (get_backbone(backbone), BACKBONE_LAYERS[backbone],
                                                                   pixel_weight, perceptual_l1)

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        feats = self.net(torch.cat([x, target]), self.layers)
        a = {k: v[:len(x)] for k, v in feats.items()}
        b = {k: v[len(x):].detach() for k, v in feats.items()}
        return self.distance(a, b) + self.pixel_weight * (x - target).abs().mean()


def image_loss(perceptual: PerceptualLoss, cfg: AvatarConfig, bones: int) -> Callable:
    """The loss of eqs. (6.2) + (6.3) as a :class:`~netprior.train.Player` loss."""

    def loss(step: Step, batch: Tensor):
        d = unpack(batch, bones)
        out = step.net("avatar")(d["bones"])
        perc = perceptual.to(step.device)(out["image"], d["image"])
        bg = 1 - d["mask"]
        bce = -(bg * out["log_bg"] + (1 - bg) * out["log_fg"]).mean()
        return perc + cfg.mask_weight * bce, {"perceptual": float(perc.detach()), "bce": float(bce.detach())}

    return loss


def pretrain_loss(cfg: AvatarConfig, bones: int) -> Callable:
    """§6.3.5 pre-training: cross-entropy of the part logits against the true parts (background = n) plus
    ``uv_weight`` × L1 of the true part's predicted coordinates against the true UV."""

    def loss(step: Step, batch: Tensor):
        d = unpack(batch, bones)
        logits, coords = step.net("avatar").surface(d["bones"])
        ce = F.cross_entropy(logits.float(), d["part"])
        n, (b, _, h, w) = cfg.parts, coords.shape
        fg = d["part"] < n
        k = d["part"].clamp(max=n - 1)
        pred = coords.float().view(b, n, 2, h, w).gather(1, k[:, None, None].expand(-1, 1, 2, -1, -1))[:, 0]
        l1 = ((pred - d["uv"]).abs().sum(1) * fg).sum() / fg.sum().clamp(min=1)
        return ce + cfg.uv_weight * l1, {"ce": float(ce.detach()), "uv_l1": float(l1.detach())}

    return loss


@torch.no_grad()
def initialise_textures(model: TexturedAvatar, data: AvatarFolder, *, device: str | torch.device = "cpu",
                        batch: int = 16) -> float:
    """§6.3.5: every texel ← the mean colour of the training pixels the network assigns to it: each person pixel
    (ground-truth mask) goes to its most likely body part (argmax over the n part maps) and to the nearest texel of
    that part's predicted coordinates; texels no pixel maps to are black.  Returns the fraction of texels hit."""
    n, s = model.parts, model.textures.shape[-1]
    sums = torch.zeros(n * s * s, 3, dtype=torch.float64)
    counts = torch.zeros(n * s * s, dtype=torch.float64)
    training = model.training
    model.eval()
    for i in range(0, len(data), batch):
        packed = torch.stack([data[j] for j in range(i, min(i + batch, len(data)))])
        d = unpack(packed, len(data.bones))
        logits, coords = model.surface(d["bones"].to(device))
        part = logits[:, :n].argmax(1).cpu()          # the most likely body part of each person pixel
        coords = coords.cpu().float()
        fg = d["mask"][:, 0] > 0.5
        b, _, h, w = coords.shape
        k = part.clamp(max=n - 1)
        uv = coords.view(b, n, 2, h, w).gather(1, k[:, None, None].expand(-1, 1, 2, -1, -1))[:, 0]
        texel = (uv * s).long().clamp(0, s - 1)
        index = (k * s + texel[:, 1]) * s + texel[:, 0]
        colours = d["image"].permute(0, 2, 3, 1)
        sums.index_add_(0, index[fg], colours[fg].double())
        counts.index_add_(0, index[fg], torch.ones(int(fg.sum()), dtype=torch.float64))
    mean = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], torch.zeros(()))
    model.textures.data.copy_(mean.view(n, s, s, 3).permute(0, 3, 1, 2).float())
    model.train(training)
    return float((counts > 0).double().mean())


@dataclass
class AvatarRun:
    model: nn.Module
    result: TrainResult
    pretrain: TrainResult | None
    config: dict
    texels_initialised: float | None = None


def model_config(cfg: AvatarConfig, data: AvatarFolder) -> dict:
    return {"mode": cfg.mode, "parts": cfg.parts, "texture_size": cfg.texture_size, "width": cfg.width,
            "max_channels": cfg.max_channels, "res_blocks": cfg.res_blocks, "bones": [list(b) for b in data.bones],
            "size": [data.height, data.width], "bone_radius": data.bone_radius, "depth": data.depth}


def train_avatar(data: AvatarFolder, cfg: AvatarConfig | None = None, *, device: str = "auto",
                 checkpoint: str | Path | None = None, log: str | Path | None = None, progress: bool = True,
                 sample_every: int = 0, init: nn.Module | None = None, grid: int = 8, log_every: int = 10,
                 workers: int = 0) -> AvatarRun:
    """Train a textured avatar or the Direct baseline on ``data`` (see the module docstring).  ``checkpoint``
    resumes: the pre-training phase keeps its own file ``<checkpoint>.pretrain.safetensors``; once the main phase
    has a checkpoint, pre-training and texture initialisation are not redone.  ``init``: a textured avatar whose
    g_φ initialises this one (transfer) instead of pre-training.  Losses are logged (averaged) every ``log_every``
    iterations; ``workers`` DataLoader processes prepare the samples (bone maps, decoding)."""
    from ..distributed import resolve_device

    cfg = cfg or AvatarConfig()
    nb = len(data.bones)
    iters = cfg.iters - (cfg.pretrain_iters if cfg.mode == "textured" and init is None else 0)
    if iters < 1:
        raise InputError(f"--iters ({cfg.iters}) must exceed --pretrain-iters ({cfg.pretrain_iters})")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, nb)
    ckpt = Path(checkpoint) if checkpoint else None
    resuming = ckpt is not None and ckpt.exists()
    dev = resolve_device(device)
    pre, hit = None, None
    fixed = torch.stack([data[i] for i in torch.linspace(0, len(data) - 1, grid).long().tolist()])
    fixed_d = unpack(fixed, nb)

    def sample(models) -> Tensor:
        out = models["avatar"](fixed_d["bones"].to(next(models["avatar"].parameters()).device))["image"].cpu()
        return torch.stack([fixed_d["image"], out.clamp(0, 1)], 1).flatten(0, 1)

    if cfg.mode == "textured" and not resuming:
        if init is not None:
            if not isinstance(init, TexturedAvatar) or init.net.config != model.net.config:
                raise InputError("--init must be a textured avatar with the same network and bones as this one")
            model.net.load_state_dict(init.net.state_dict())
        else:
            if not data.has_surface:
                raise InputError(f"{data.root}: pre-training needs parts/ and uv/ maps for every frame; give "
                                 "--init MODEL (a textured avatar to transfer g_φ from) instead")
            pre = train([Player("avatar", model, pretrain_loss(cfg, nb), lr=cfg.lr, betas=(0.9, 0.999))], data,
                        iters=cfg.pretrain_iters, batch=cfg.batch, seed=cfg.seed, device=device, workers=workers,
                        checkpoint=ckpt.with_suffix(".pretrain.safetensors") if ckpt else None,
                        log=Path(log).with_suffix(".pretrain.jsonl") if log else None, log_every=log_every,
                        progress=progress, desc="avatar pre-training")
        hit = initialise_textures(model.to(dev), data, device=dev)
    perceptual = PerceptualLoss(cfg.backbone, cfg.pixel_weight)
    textures = [model.textures] if cfg.mode == "textured" else []

    def optimiser(params):
        rest = [p for p in params if all(p is not t for t in textures)]
        groups = [{"params": rest}] + ([{"params": textures, "lr": cfg.texture_lr}] if textures else [])
        return torch.optim.Adam(groups, lr=cfg.lr, betas=(0.9, 0.999))

    result = train([Player("avatar", model, image_loss(perceptual, cfg, nb), optimizer=optimiser)], data,
                   iters=iters, batch=cfg.batch, seed=cfg.seed, device=device, workers=workers, checkpoint=ckpt,
                   log=log,
                   log_every=log_every, progress=progress, sample=sample, sample_every=sample_every,
                   desc=f"{cfg.mode} avatar")
    config = {"method": "textured-neural-avatar" if cfg.mode == "textured" else "direct-avatar", **asdict(cfg),
              "main_iters": iters, "data": data.describe(), "model": model_config(cfg, data),
              "initialisation": "transfer" if init is not None else "pretrain" if cfg.mode == "textured" else None}
    return AvatarRun(model.eval(), result, pre, config, hit)


def save_avatar(model: nn.Module, path: str | Path, *, config: dict, training: dict | None = None) -> Path:
    """Write the avatar (``config`` = :func:`model_config`, weights, training config) as a state file."""
    return save_state(path, {"config": config, "state_dict": {k: v.detach().cpu() for k, v in
                                                              model.state_dict().items()},
                             "training": training or {}}, kind=MODEL_KIND, version=MODEL_VERSION)


def load_avatar(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Read an avatar written by :func:`save_avatar` → (model in eval mode, its config)."""
    state = load_state(path, kind=MODEL_KIND, version=MODEL_VERSION, what="neural avatar file")
    try:
        c = state["config"]
        cfg = AvatarConfig(mode=c["mode"], parts=c["parts"], texture_size=c["texture_size"], width=c["width"],
                           max_channels=c["max_channels"], res_blocks=c["res_blocks"])
        model = build_model(cfg, len(c["bones"]))
        model.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged neural avatar file ({str(exc).splitlines()[0][:200]})") from None
    return model.to(device).eval(), c


@torch.no_grad()
def predict(model: nn.Module, bones: Tensor, *, batch: int = 16) -> tuple[Tensor, Tensor]:
    """Images (N, 3, H, W) and foreground probabilities (N, 1, H, W) for bone stacks (N, nb, H, W)."""
    dev = next(model.parameters()).device
    images, masks = [], []
    for x in bones.split(batch):
        out = model(x.to(dev))
        images.append(out["image"].clamp(0, 1).cpu())
        masks.append(out["log_fg"].exp().cpu())
    return torch.cat(images), torch.cat(masks)
