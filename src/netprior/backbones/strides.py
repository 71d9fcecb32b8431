"""How many input pixels one feature cell of a backbone's tap covers, and the check that an image covers at least
one cell of the layers a method reads."""

from __future__ import annotations

import torch

from ..errors import InputError
from .base import Backbone


def layer_strides(backbone: Backbone) -> dict[str, int]:
    """Total stride (input pixels per feature cell) of every tap, measured on a 256-px probe; vector taps get the
    stride of the last spatial tap before them."""
    probe = torch.zeros(1, 3, 256, 256, device=backbone.mean.device)
    with torch.no_grad():
        feats = backbone(probe, backbone.layer_names)
    strides, last = {}, 1
    for name in backbone.layer_names:
        f = feats[name]
        if f.dim() == 4:
            last = max(1, round(256 / f.shape[-1]))
        strides[name] = last
    return strides


def check_image_size(backbone: Backbone, x: torch.Tensor, layers: list[str]) -> None:
    """Refuse an image smaller than one feature cell of a layer: a smaller image gives a 1×1 map computed mostly
    from padding (Lite0's "SAME" padding never lets a layer collapse, so this is the check that applies)."""
    strides = layer_strides(backbone)
    side = min(x.shape[-2:])
    small = [f"{l} (stride {strides[l]} px)" for l in layers if side < strides[l]]
    if small:
        raise InputError(f"image of {x.shape[-1]}x{x.shape[-2]} px is smaller than the receptive cell of layer(s) "
                         f"{', '.join(small)} of {backbone.name}: its feature map would be a single cell made "
                         f"mostly of padding; use an image of at least {max(strides[l] for l in layers)} px per "
                         "side or a shallower layer")
