"""BigGAN-deep generator (Brock et al. 2019) in the weight format of huggingface's ``pytorch-pretrained-biggan``
(``pytorch_model.bin`` + ``config.json``), class-conditional, with its non-local self-attention block exposed.

Architecture (module names as in that package, so its state dict loads unchanged): the class vector y (one-hot,
``num_classes``) is embedded, e = W_e y (``embeddings``), and concatenated with z into the condition
c = [z, e] (2·z_dim).  ``generator.gen_z`` maps c to 4·4·16·ch units (a TF-ordered (4, 4, 16ch) tensor, permuted
to channels-first); then ``generator.layers``: bottleneck residual ``GenBlock``s with class-conditional batch norm
(scale 1 + W_s c, offset W_o c, precomputed statistics interpolated at the truncation value) and the non-local
block at ``attention_layer_position``; finally BN, ReLU, 3×3 conv, the first 3 channels, tanh.  All convolutions
and linears are spectrally normalised (``weight_orig``/``weight_u``/``weight_v`` in the state dict; in eval mode the
stored singular vectors are used as is).

Non-local block (Wang et al. 2018, embedded Gaussian; Pividori §5): θ = W_θ x (C/8), φ = maxpool₂(W_φ x) (C/8),
g = maxpool₂(W_g x) (C/2); A = softmax_j(θ_iᵀ φ_j) ∈ R^{N×N/4}; out = x + γ·W_o(g Aᵀ).  Each query position
(H×W grid) attends over the max-pooled (H/2×W/2) key grid — the "subsampling trick" the paper upsamples back.

Stages: ``dense`` (gen_z output, 16ch×4×4), ``block0`` … ``block{n−1}`` (GenBlocks) with ``attention`` between them,
``output``.  Every stage after ``dense`` takes the condition c as context: after a split the class and the z part
of c stay those of the code the representation came from (:meth:`SplitGenerator.condition`).

Prior: z ~ truncated N(0, I) on [−2, 2] scaled by the truncation value (the package's ``truncated_noise_sample``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from ..weightfile import load_weights
from .base import AttentionMap, LatentPrior, SplitGenerator, load_state

DEFAULT_LAYERS = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 4),
                  (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]


@dataclass
class BigGANConfig:
    """``config.json`` of pytorch-pretrained-biggan (defaults: biggan-deep-128)."""

    output_dim: int = 128
    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: list = field(default_factory=lambda: [list(t) for t in DEFAULT_LAYERS])
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51

    @classmethod
    def from_json(cls, path: str | Path) -> BigGANConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
            raise InputError(f"{path}: not a readable BigGAN config.json ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: a BigGAN config.json holds an object, not a {type(data).__name__}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _sn(module: nn.Module, eps: float) -> nn.Module:
    return nn.utils.spectral_norm(module, eps=eps)


class NonLocalBlock(nn.Module):
    """The package's ``SelfAttn``; with ``record`` set it keeps its attention weights in ``last_attention``."""

    def __init__(self, channels: int, eps: float = 1e-12):
        super().__init__()
        self.snconv1x1_theta = _sn(nn.Conv2d(channels, channels // 8, 1, bias=False), eps)
        self.snconv1x1_phi = _sn(nn.Conv2d(channels, channels // 8, 1, bias=False), eps)
        self.snconv1x1_g = _sn(nn.Conv2d(channels, channels // 2, 1, bias=False), eps)
        self.snconv1x1_o_conv = _sn(nn.Conv2d(channels // 2, channels, 1, bias=False), eps)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.record = False
        self.last_attention: AttentionMap | None = None

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        b, ch, h, w = x.shape
        theta = self.snconv1x1_theta(x).view(b, ch // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).view(b, ch // 8, h * w // 4)
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (B, N, N/4)
        if self.record:
            self.last_attention = AttentionMap(attn.detach(), (h, w), (h // 2, w // 2))
        g = F.max_pool2d(self.snconv1x1_g(x), 2).view(b, ch // 2, h * w // 4)
        out = self.snconv1x1_o_conv((g @ attn.transpose(1, 2)).view(b, ch // 2, h, w))
        return x + self.gamma * out


class ConditionalBatchNorm(nn.Module):
    """The package's ``BigGANBatchNorm``: statistics precomputed for ``n_stats`` truncation values in [0, 1] and
    linearly interpolated; class-conditional scale/offset from the condition vector (or a plain affine)."""

    def __init__(self, channels: int, cond_dim: int | None, n_stats: int, eps: float, sn_eps: float):
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.step_size = 1.0 / (n_stats - 1)
        self.conditional = cond_dim is not None
        if self.conditional:
            self.scale = _sn(nn.Linear(cond_dim, channels, bias=False), sn_eps)
            self.offset = _sn(nn.Linear(cond_dim, channels, bias=False), sn_eps)
        else:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, truncation: float, cond: Tensor | None = None) -> Tensor:
        coef, start = math.modf(truncation / self.step_size)
        start = int(start)
        if coef != 0.0:  # the package's weighting, kept as is for identical outputs
            mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
            var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
        else:
            mean, var = self.running_means[start], self.running_vars[start]
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, eps=self.eps)
        weight = 1 + self.scale(cond)[..., None, None]
        bias = self.offset(cond)[..., None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * weight + bias


class GenBlock(nn.Module):
    """Bottleneck residual block of BigGAN-deep (the package's ``GenBlock``)."""

    def __init__(self, cin: int, cout: int, cond_dim: int, up: bool, n_stats: int, eps: float):
        super().__init__()
        mid = cin // 4
        self.up_sample, self.drop_channels = up, cin != cout
        self.bn_0 = ConditionalBatchNorm(cin, cond_dim, n_stats, eps, eps)
        self.conv_0 = _sn(nn.Conv2d(cin, mid, 1), eps)
        self.bn_1 = ConditionalBatchNorm(mid, cond_dim, n_stats, eps, eps)
        self.conv_1 = _sn(nn.Conv2d(mid, mid, 3, padding=1), eps)
        self.bn_2 = ConditionalBatchNorm(mid, cond_dim, n_stats, eps, eps)
        self.conv_2 = _sn(nn.Conv2d(mid, mid, 3, padding=1), eps)
        self.bn_3 = ConditionalBatchNorm(mid, cond_dim, n_stats, eps, eps)
        self.conv_3 = _sn(nn.Conv2d(mid, cout, 1), eps)
        self.truncation = 1.0

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        t = self.truncation
        h = self.conv_0(F.relu(self.bn_0(x, t, cond)))
        h = F.relu(self.bn_1(h, t, cond))
        if self.up_sample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv_1(h)
        h = self.conv_2(F.relu(self.bn_2(h, t, cond)))
        h = self.conv_3(F.relu(self.bn_3(h, t, cond)))
        if self.drop_channels:
            x = x[:, : x.shape[1] // 2]
        if self.up_sample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return h + x


class _Generator(nn.Module):
    """``generator.*`` of the package: gen_z, layers, bn, conv_to_rgb."""

    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        ch, cond = cfg.channel_width, 2 * cfg.z_dim
        self.gen_z = _sn(nn.Linear(cond, 4 * 4 * 16 * ch), cfg.eps)
        layers = []
        for i, (up, cin, cout) in enumerate(cfg.layers):
            if i == cfg.attention_layer_position:
                layers.append(NonLocalBlock(ch * cin, cfg.eps))
            layers.append(GenBlock(ch * cin, ch * cout, cond, bool(up), cfg.n_stats, cfg.eps))
        self.layers = nn.ModuleList(layers)
        self.bn = ConditionalBatchNorm(ch, None, cfg.n_stats, cfg.eps, cfg.eps)
        self.conv_to_rgb = _sn(nn.Conv2d(ch, ch, 3, padding=1), cfg.eps)


class _BigGANNet(nn.Module):
    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        self.embeddings = nn.Linear(cfg.num_classes, cfg.z_dim, bias=False)
        self.generator = _Generator(cfg)


class DenseStage(nn.Module):
    def __init__(self, gen_z: nn.Module, channels: int):
        super().__init__()
        self.gen_z, self.channels = gen_z, channels

    def forward(self, z: Tensor, cond: Tensor) -> Tensor:
        return self.gen_z(cond).view(-1, 4, 4, self.channels).permute(0, 3, 1, 2).contiguous()


class BlockStage(nn.Module):
    def __init__(self, block: GenBlock):
        super().__init__()
        self.block = block

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        return self.block(h, cond)


class OutputStage(nn.Module):
    def __init__(self, bn: ConditionalBatchNorm, conv: nn.Module):
        super().__init__()
        self.bn, self.conv = bn, conv
        self.truncation = 1.0

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        h = F.relu(self.bn(h, self.truncation))
        return torch.tanh(self.conv(h)[:, :3])


class BigGAN(SplitGenerator):
    """Class-conditional BigGAN-deep as a split generator; ``class_index`` and ``truncation`` are set on the
    adapter (``set_class`` / ``set_truncation``) and enter every condition vector."""

    def __init__(self, net: _BigGANNet, cfg: BigGANConfig, *, class_index: int = 0, truncation: float = 1.0,
                 source: str = ""):
        gen = net.generator
        stages: list[tuple[str, nn.Module]] = [("dense", DenseStage(gen.gen_z, 16 * cfg.channel_width))]
        attention = None
        k = 0
        for layer in gen.layers:
            if isinstance(layer, NonLocalBlock):
                stages.append(("attention", layer))
                attention = "attention"
            else:
                stages.append((f"block{k}", BlockStage(layer)))
                k += 1
        stages.append(("output", OutputStage(gen.bn, gen.conv_to_rgb)))
        size = 4 * 2 ** sum(bool(up) for up, _, _ in cfg.layers)
        super().__init__("biggan", stages, LatentPrior("gaussian", cfg.z_dim, truncation=2.0),
                         image_size=(size, size), attention_stage=attention, source=source)
        self.embeddings = net.embeddings
        self.config = cfg
        self.set_class(class_index)
        self.set_truncation(truncation)

    def set_class(self, class_index: int) -> None:
        if not 0 <= class_index < self.config.num_classes:
            raise InputError(f"class index must be in 0..{self.config.num_classes - 1}, got {class_index}")
        self.class_index = int(class_index)

    def set_truncation(self, truncation: float) -> None:
        """Truncation in (0, 1]: selects the batch-norm statistics and scales the prior (z = t·truncnorm(−2, 2))."""
        if not 0 < truncation <= 1:
            raise InputError(f"truncation must be in (0, 1], got {truncation}")
        self.truncation = float(truncation)
        self.prior = LatentPrior("gaussian", self.config.z_dim, truncation=2.0, scale=self.truncation)
        for m in self.modules():
            if isinstance(m, (GenBlock, OutputStage)):
                m.truncation = self.truncation

    def condition(self, z: Tensor) -> Tensor:
        """c = [z, W_e onehot(class)] for every code in the batch."""
        onehot = torch.zeros(z.shape[0], self.config.num_classes, device=z.device, dtype=z.dtype)
        onehot[:, self.class_index] = 1
        return torch.cat([z, self.embeddings(onehot)], dim=1)

    def describe(self) -> dict:
        return {**super().describe(), "class_index": self.class_index, "truncation": self.truncation,
                "config": asdict(self.config)}


def _find_files(weights: Path, config: Path | None) -> tuple[Path, Path]:
    if weights.is_dir():
        weights, config = weights / "pytorch_model.bin", config or weights / "config.json"
    config = config or weights.parent / "config.json"
    if not config.is_file():
        raise InputError(f"BigGAN needs its config.json next to the weights (looked for {config}); "
                         "pass --config or put it in the same folder")
    return weights, config


def build_biggan(weights: str | Path, config: str | Path | None = None, *, class_index: int = 0,
                 truncation: float = 1.0) -> BigGAN:
    """Load pytorch-pretrained-biggan files: ``weights`` is the folder holding ``pytorch_model.bin`` and
    ``config.json``, or the .bin file itself (``config`` defaults to the config.json beside it)."""
    wpath, cpath = _find_files(Path(weights), Path(config) if config else None)
    cfg = BigGANConfig.from_json(cpath)
    state = load_weights(wpath, "biggan")
    if not isinstance(state, dict):
        raise InputError(f"{wpath}: expected a state dict, got {type(state).__name__}")
    try:
        net = _BigGANNet(cfg)
    except (TypeError, ValueError, IndexError, KeyError, RuntimeError) as exc:
        raise InputError(f"{cpath}: the config does not describe a BigGAN ({type(exc).__name__}: {exc})") from None
    load_state(net, {k.removeprefix("module."): v for k, v in state.items()}, f"biggan ({wpath})")
    return BigGAN(net, cfg, class_index=class_index, truncation=truncation, source=str(wpath))


def random_biggan(cfg: BigGANConfig | None = None, seed: int = 0, **kw) -> tuple[BigGAN, dict]:
    """A randomly initialised BigGAN (default: a tiny 32×32 configuration with the attention block at 16×16) and
    its state dict in the package's key format — for tests and for trying the adapter."""
    cfg = cfg or BigGANConfig(z_dim=8, channel_width=4, num_classes=5, n_stats=3, attention_layer_position=3,
                              layers=[[False, 16, 8], [True, 8, 4], [True, 4, 2], [True, 2, 1]])
    torch.manual_seed(seed)
    net = _BigGANNet(cfg)
    for m in net.modules():
        if isinstance(m, NonLocalBlock):
            m.gamma.data.fill_(1.0)
    state = net.state_dict()
    return BigGAN(net, cfg, source="random init", **kw), state
