"""sRGB ↔ CIELAB (D65 white, 2° observer), batched and differentiable, as scikit-image's ``rgb2lab``/``lab2rgb``.

    sRGB [0, 1] → linear RGB (inverse sRGB gamma) → XYZ (sRGB matrix) → divide by the D65 white
    → f(t) = t^(1/3) above (6/29)³, t/(3·(6/29)²) + 4/29 below → L = 116 f(Y) − 16, a = 500 (f(X) − f(Y)),
    b = 200 (f(Y) − f(Z)).

``lab_to_rgb`` inverts each step and clips to [0, 1] (colours outside the sRGB gamut are clipped, as skimage
does).  Tensors are (B, 3, H, W); L is in [0, 100], a and b roughly in [−110, 110].
"""

from __future__ import annotations

import torch
from torch import Tensor

_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                            [0.212671, 0.715160, 0.072169],
                            [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)
_DELTA = 6.0 / 29.0


def _mix(matrix: Tensor, x: Tensor) -> Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(x), x)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) sRGB in [0, 1] → (B, 3, H, W) L*a*b*."""
    rgb = rgb.clamp(0, 1)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_RGB_TO_XYZ, linear) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _DELTA ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * _DELTA ** 2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """(B, 3, H, W) L*a*b* → (B, 3, H, W) sRGB in [0, 1] (out-of-gamut colours clipped)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > _DELTA, f ** 3, 3 * _DELTA ** 2 * (f - 4 / 29)) * _WHITE.to(lab).view(1, 3, 1, 1)
    linear = _mix(torch.linalg.inv(_RGB_TO_XYZ), xyz).clamp_min(0)
    rgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return rgb.clamp(0, 1)


def lightness(rgb: Tensor) -> Tensor:
    """The L* channel (B, 1, H, W) of sRGB images, in [0, 100]."""
    return rgb_to_lab(rgb)[:, :1]
