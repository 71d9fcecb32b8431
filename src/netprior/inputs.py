"""Bringing a user's images to what a method needs: crops to a network's multiple, resizes to a side or a square,
a generator's size and aspect, a region mask at the working size, a position blob, a folder of contents.  Every
function refuses what it cannot do with one :class:`~netprior.errors.InputError` line."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InputError
from .io import check_size, image_size, load_image
from .operators import Mask
from .seeding import generator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    """An image size given as one side or (H, W), as (H, W); a side below 1 is refused."""
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"output size must be positive, got {w}x{h}")
    return h, w


def crop_to_multiple(x: torch.Tensor, d: int = 32) -> torch.Tensor:
    """Centre-crop H and W down to multiples of ``d`` (the reference's ``crop_image``)."""
    h, w = x.shape[-2] - x.shape[-2] % d, x.shape[-1] - x.shape[-1] % d
    if h == 0 or w == 0:
        raise InputError(f"image {x.shape[-1]}x{x.shape[-2]} is smaller than {d} pixels on a side")
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top:top + h, left:left + w]


# Peak memory per output pixel of the 5x128 skip network (forward + backward, float32), measured at 256x256.
BYTES_PER_PIXEL = 12_000


def load_observation(path: str | Path, max_side: int, scale: int = 1) -> tuple[torch.Tensor, str | None]:
    """Read an image for a restoration: refuse it when its output (``scale`` × its size) exceeds ``max_side``
    (with the memory estimate), centre-crop it to a multiple of 32 / ``scale`` for the network; return it and a
    notice of the crop (None if nothing was cropped).  The CLI and the web app share these rules."""
    path = Path(path)
    h, w = image_size(path)  # the header: a too-large image is refused before it is decoded
    check_size(h * scale, w * scale, max_side, what=str(path), bytes_per_pixel=BYTES_PER_PIXEL)
    x = load_image(path)
    d = 32 // scale if scale < 32 else 1
    cropped = crop_to_multiple(x, d)
    note = None
    if cropped.shape != x.shape:
        note = (f"{path.name} cropped from {x.shape[-1]}x{x.shape[-2]} to {cropped.shape[-1]}x{cropped.shape[-2]} "
                f"(a multiple of {d} for the network)")
    return cropped, note


def resize_side(x: torch.Tensor, side: int, *, longer: bool = True) -> torch.Tensor:
    """Antialiased bilinear resize of (1, C, H, W) so that max(H, W) (``longer``) or min(H, W) equals ``side``,
    keeping the aspect ratio."""
    if side < 8:
        raise InputError(f"resize target must be at least 8 px, got {side}")
    h, w = x.shape[-2:]
    scale = side / (max(h, w) if longer else min(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def fit_square(x: Tensor, size: int, *, nearest: bool = False) -> Tensor:
    """Resize (1, C, H, W) so that the shorter side is ``size`` (antialiased bilinear, or nearest for masks) and
    centre-crop to size × size."""
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if nearest:
        y = F.interpolate(x, size=(nh, nw), mode="nearest")
    else:
        y = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (nh - size) // 2, (nw - size) // 2
    return y[..., top:top + size, left:left + size]


def region_mask(mask: Tensor, image: Tensor, size: int, what: str) -> Tensor:
    """A discriminant-region mask (white = region) for ``image``: checked to have the image's size and a non-empty
    region, binarised at 0.5 and mapped to the working size like the image."""
    if tuple(mask.shape[-2:]) != tuple(image.shape[-2:]):
        raise InputError(f"{what}: mask is {mask.shape[-1]}x{mask.shape[-2]} but its image is "
                         f"{image.shape[-1]}x{image.shape[-2]}; they must have the same size")
    m = (mask.reshape(1, 1, *mask.shape[-2:]).float() >= 0.5).float()
    if m.sum() == 0:
        raise InputError(f"{what}: the mask is empty (all black); paint the region to translate in white")
    m = fit_square(m, size, nearest=True)
    if m.sum() == 0:
        raise InputError(f"{what}: the region lies outside the centre crop used at {size}x{size}")
    return m


def gaussian_blob(size: int, center: tuple[float, float], sigma: float) -> Tensor:
    """a0 of eq. 10: exp(−((u − x)² + (v − y)²) / 2σ²) on a size × size grid, (1, size, size), peak 1 at
    ``center`` = (x, y) in pixels; ``sigma`` in pixels."""
    x, y = center
    if not (0 <= x < size and 0 <= y < size):
        raise InputError(f"position ({x:g}, {y:g}) lies outside the {size}x{size} output image; "
                         f"use pixel coordinates x, y in [0, {size})")
    v, u = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    return torch.exp(-((u - x) ** 2 + (v - y) ** 2) / (2 * sigma**2))[None]


def fit_image(x: Tensor, size: tuple[int, int], *, max_aspect: float = 1.5) -> tuple[Tensor, str | None]:
    """Bring an image (1, C, h, w) to the generator's ``size`` (H, W): centre-crop to the generator's aspect ratio,
    then resize (bicubic, antialiased).  Refuse when the aspect ratios differ by more than ``max_aspect`` (a
    crop would discard too much); return the image and a notice of what was done (None if nothing)."""
    h, w = x.shape[-2:]
    th, tw = size
    if (h, w) == (th, tw):
        return x, None
    ratio = (w / h) / (tw / th)
    if max(ratio, 1 / ratio) > max_aspect:
        raise InputError(f"the image is {w}x{h} but the generator makes {tw}x{th} images; the aspect ratios differ "
                         f"too much to crop (limit {max_aspect}:1): crop the image to the subject first")
    ch, cw = (h, round(h * tw / th)) if ratio > 1 else (round(w * th / tw), w)
    top, left = (h - ch) // 2, (w - cw) // 2
    out = x[..., top:top + ch, left:left + cw]
    if (ch, cw) != (th, tw):
        out = F.interpolate(out, size=(th, tw), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    note = f"{w}x{h} image " + (f"centre-cropped to {cw}x{ch} and " if (ch, cw) != (h, w) else "") + \
        f"resized to {tw}x{th} to match the generator"
    return out, note


def square(x: Tensor, size: int) -> Tensor:
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
    return torch.cat([square(load_image(p), size) for p in names]), names


def missing_blocks_mask(size: tuple[int, int], missing: float, seed: int = 0) -> Tensor:
    """Random square holes (side min(H, W)/8) covering at least ``missing`` of the pixels — the thesis'
    "randomly cropping 12% / 25% / 40% pixels" — via :meth:`~netprior.operators.Mask.blocks`."""
    return Mask.blocks(size, missing, generator=generator(seed)).mask
