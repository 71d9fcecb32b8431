"""Progressive GAN generator (Karras et al. 2018) in the checkpoint format of facebookresearch/pytorch_GAN_zoo.

The zoo's ``GNet``: z (dim 512) → pixel norm → equalized linear to 16·d₀ units viewed as (d₀, 4, 4) → LReLU(0.2),
pixel norm → equalized 3×3 conv (d₀) → for every further scale s: nearest ×2 upsampling, two equalized 3×3 convs
(d_s) each followed by LReLU and pixel norm → equalized 1×1 toRGB of the last scale (no output activation; the
training images are in [−1, 1]).  Equalized layers multiply the output of the plain layer, bias included, by He's
constant √(2/fan_in) (``ConstrainedLayer``); pixel norm is x / √(mean_c x² + 1e-8).

Checkpoint: a ``torch.save`` dict with ``netG`` (and ``avgG``, the moving-average generator, used when present —
the zoo's ``test(getAvG=True)`` default), ``netD`` and a pickled ``config`` object; a bare generator state dict is
accepted too.  Keys are ``formatLayer.weight`` (older zoo versions) or ``formatLayer.module.weight`` (newer);
both load.  The depths d_s and the number of scales are read from the weight shapes; the fade-in (``alpha``) is
taken as finished (0), as in a released model.

Stages: ``dense`` (the format layer's output, d₀×4×4), ``conv4``, then ``conv{r}a`` / ``conv{r}b`` for each
resolution r = 8, 16, …, and ``output`` (toRGB).  mGANprior and the thesis number the layers instead (the thesis
places its layer 4 at 8×8 and its layer 8 at 32×32 feature maps of a 256×256 PGGAN); the names here carry the
resolution, which is unambiguous.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from ..weightfile import load_weights
from .base import LatentPrior, SplitGenerator, load_state


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x / √(mean over channels of x² + eps) (the zoo's ``NormalizationLayer``)."""
    return x * (x.pow(2).mean(dim=1, keepdim=True) + eps).rsqrt()


class Equalized(nn.Module):
    """Plain layer whose output (bias included) is scaled by He's constant √(2 / fan_in) at run time."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.scale = math.sqrt(2.0 / module.weight[0].numel())

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x) * self.scale


class _GNet(nn.Module):
    """Holder with the zoo's attribute names (formatLayer, groupScale0, scaleLayers, toRGBLayers) for loading."""

    def __init__(self, dim_latent: int, depths: list[int], dim_output: int = 3):
        super().__init__()
        self.formatLayer = Equalized(nn.Linear(dim_latent, 16 * depths[0]))
        self.groupScale0 = nn.ModuleList([Equalized(nn.Conv2d(depths[0], depths[0], 3, padding=1))])
        self.scaleLayers = nn.ModuleList(
            nn.ModuleList([Equalized(nn.Conv2d(d_in, d_out, 3, padding=1)),
                           Equalized(nn.Conv2d(d_out, d_out, 3, padding=1))])
            for d_in, d_out in itertools.pairwise(depths))
        self.toRGBLayers = nn.ModuleList(Equalized(nn.Conv2d(d, dim_output, 1)) for d in depths)


class DenseStage(nn.Module):
    def __init__(self, layer: Equalized, depth: int):
        super().__init__()
        self.layer, self.depth = layer, depth

    def forward(self, z: Tensor, ctx=None) -> Tensor:
        return self.layer(pixel_norm(z.flatten(1))).view(z.shape[0], self.depth, 4, 4)


class ConvStage(nn.Module):
    """LReLU + pixel norm of the previous layer's output, optional ×2 nearest upsampling, then this conv."""

    def __init__(self, conv: Equalized, upsample: bool):
        super().__init__()
        self.conv, self.upsample = conv, upsample

    def forward(self, h: Tensor, ctx=None) -> Tensor:
        h = pixel_norm(F.leaky_relu(h, 0.2))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.conv(h)


class PGGAN(SplitGenerator):
    """A pytorch_GAN_zoo progressive generator split into per-convolution stages (module docstring)."""

    def __init__(self, net: _GNet, dim_latent: int, depths: list[int], source: str):
        stages: list[tuple[str, nn.Module]] = [("dense", DenseStage(net.formatLayer, depths[0])),
                                               ("conv4", ConvStage(net.groupScale0[0], False))]
        res = 4
        for group in net.scaleLayers:
            res *= 2
            stages += [(f"conv{res}a", ConvStage(group[0], True)), (f"conv{res}b", ConvStage(group[1], False))]
        stages.append(("output", ConvStage(net.toRGBLayers[-1], False)))
        channels = net.toRGBLayers[-1].module.out_channels
        super().__init__("pggan", stages, LatentPrior("gaussian", dim_latent), image_size=(res, res),
                         channels=channels, source=source)
        self.depths = depths


def _normalise_keys(state: dict) -> dict:
    """Drop DataParallel's ``module.`` prefix and map old-style ``layer.weight`` to ``layer.module.weight``."""
    out = {}
    for k, v in state.items():
        k = k.removeprefix("module.")
        if ".module." not in k:
            k = re.sub(r"\.(weight|bias)$", r".module.\1", k)
        out[k] = v
    return out


def pggan_architecture(state: dict) -> tuple[int, list[int], int]:
    """(latent dim, per-scale depths, output channels) read from a normalised generator state dict."""
    try:
        fmt = state["formatLayer.module.weight"]
        depths = [fmt.shape[0] // 16]
        i = 0
        while f"scaleLayers.{i}.0.module.weight" in state:
            depths.append(state[f"scaleLayers.{i}.0.module.weight"].shape[0])
            i += 1
        out = state[f"toRGBLayers.{len(depths) - 1}.module.weight"].shape[0]
    except KeyError as exc:
        raise InputError(f"not a pytorch_GAN_zoo PGAN generator: key {exc} is missing "
                         f"(found keys such as {', '.join(list(state)[:6])})") from None
    return fmt.shape[1], depths, out


def build_pggan(weights: str | Path) -> PGGAN:
    """Load a pytorch_GAN_zoo checkpoint (see module docstring)."""
    path = Path(weights)
    ckpt = load_weights(path, "pggan")
    if not isinstance(ckpt, dict):
        raise InputError(f"{path}: expected a checkpoint dict, got {type(ckpt).__name__}")
    state = ckpt.get("avgG") or ckpt.get("netG") or ckpt
    state = _normalise_keys({k: v for k, v in state.items() if isinstance(v, torch.Tensor)})
    dim_latent, depths, out = pggan_architecture(state)
    net = _GNet(dim_latent, depths, out)
    load_state(net, state, f"pggan ({path})")
    return PGGAN(net, dim_latent, depths, str(path))


def random_pggan(dim_latent: int = 16, depths: tuple[int, ...] = (16, 8, 8), seed: int = 0) -> tuple[PGGAN, dict]:
    """A small randomly initialised PGGAN (weights N(0, 1), zero biases, as the zoo initialises them) and its
    state dict in the zoo's key format — for tests and for trying the adapter without a checkpoint."""
    torch.manual_seed(seed)
    net = _GNet(dim_latent, list(depths))
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight)
            nn.init.zeros_(m.bias)
    return PGGAN(net, dim_latent, list(depths), "random init"), net.state_dict()
