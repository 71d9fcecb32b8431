"""Grad-CAM attribution maps (Selvaraju et al. 2017), differentiable for IMAGINE's location prior.

For class c and feature maps A^k of a tap:  α_k = mean_{ij} ∂y_c/∂A^k_{ij},
L = ReLU(Σ_k α_k A^k), bilinearly upsampled to the input size and min-max normalised to [0, 1]
per sample. With ``create_graph=True`` the map is differentiable w.r.t. the input, so
||gradcam(x̂) − a⁰||₂ can be minimised (IMAGINE, Wang et al. 2021, eq. 10).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from torch import Tensor

from netprior.backbones.base import Backbone


def gradcam(
    backbone: Backbone,
    x: Tensor,
    target: int | Tensor,
    layer: str,
    *,
    create_graph: bool = True,
    eps: float = 1e-8,
) -> Tensor:
    """Grad-CAM of class ``target`` (int or (B,) tensor) at tap ``layer`` for ``x`` (B,3,H,W) in [0, 1].

    Returns a (B,H,W) map in [0, 1] (all zeros where the class has no positive evidence),
    differentiable w.r.t. ``x`` if ``create_graph``, else detached (for display).
    """
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    taps = backbone(x, [layer, "logits"])
    acts, logits = taps[layer], taps["logits"]
    if acts.dim() != 4:
        raise ValueError(f"Grad-CAM needs a spatial layer; {layer!r} has shape {tuple(acts.shape)}")
    if isinstance(target, int):
        target = torch.full((x.shape[0],), target, dtype=torch.long, device=logits.device)
    score = logits.gather(1, target.view(-1, 1).to(logits.device)).sum()
    (grads,) = torch.autograd.grad(score, acts, create_graph=create_graph)
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * acts).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo = cam.amin(dim=(1, 2), keepdim=True)
    hi = cam.amax(dim=(1, 2), keepdim=True)
    cam = (cam - lo) / (hi - lo + eps)
    return cam if create_graph else cam.detach()


def overlay_heatmap(
    image: np.ndarray | Tensor, cam: np.ndarray | Tensor, alpha: float = 0.5, cmap: str = "jet"
) -> np.ndarray:
    """Blend a [0, 1] map over an image; returns uint8 RGB (H,W,3).

    ``image``: (H,W,3) uint8 or float in [0, 1], or a (3,H,W) / (1,3,H,W) tensor in [0, 1];
    ``cam``: (H,W) (or (1,H,W)) in [0, 1], resized bilinearly to the image if needed.
    out = (1 − alpha)·image + alpha·cmap(cam).
    """
    if isinstance(image, Tensor):
        image = image.detach().cpu().float().squeeze(0).permute(1, 2, 0).numpy()
    img = np.asarray(image)
    img = img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be RGB (H,W,3), got shape {img.shape}")
    heat = torch.as_tensor(np.asarray(cam.detach().cpu() if isinstance(cam, Tensor) else cam), dtype=torch.float32)
    heat = heat.reshape(-1, *heat.shape[-2:])[:1]
    if tuple(heat.shape[-2:]) != img.shape[:2]:
        heat = F.interpolate(heat[None], size=img.shape[:2], mode="bilinear", align_corners=False)[0]
    colored = colormaps[cmap](heat[0].clamp(0, 1).numpy())[..., :3]
    out = (1 - alpha) * np.clip(img, 0, 1) + alpha * colored
    return np.round(out * 255).astype(np.uint8)
