"""Images and masks in and out, with explicit conversions and atomic writes.

Conversion rule for images (``load_image``):

* Decoding: PNG, JPEG, TIFF, WebP (anything Pillow reads).  A file that is missing, empty, truncated or not an
  image raises :class:`~netprior.errors.InputError`; truncated JPEGs are never silently padded.
* Bit depth: 8-bit samples are divided by 255, 16-bit samples (PNG/TIFF, grey or RGB) by 65535, so the result is a
  float32 tensor in [0, 1] of shape (1, C, H, W).
* Colour modes: ``L``/``I;16`` (grey) are replicated to 3 channels when ``mode="RGB"``; ``P`` (palette) is expanded
  through its palette; ``CMYK``/``YCbCr``/``LAB`` go through Pillow's conversion to RGB; ``1`` (bilevel) becomes 0/1.
  With ``mode="L"`` colour images are reduced with the ITU-R 601 luma weights (the same as :class:`Grayscale`).
* Alpha (``RGBA``, ``LA``, ``P`` with transparency) is **dropped** (the colour values are kept as they are, not
  composited); pass ``alpha="mask"`` to :func:`load_image_and_alpha` to use it as a known/missing mask instead.

Masks (``load_mask``): white (255) = known, black (0) = missing.  A mask must be binary: grey values make it
fail unless an explicit ``threshold`` in (0, 1) is given, in which case ``value >= threshold`` is known.  Its size
must equal the image size and at least one pixel must be known.

Outputs are PNG (8-bit, or 16-bit grey when asked), written to a temporary file in the target folder and moved
into place with ``os.replace`` so a crash never leaves a half-written file; an output path equal to an input is
refused.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import InputError, ResourceError

ImageFile.LOAD_TRUNCATED_IMAGES = False

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # about 89 megapixels: no image above it is decoded, whatever --max-side says


def tagged_path(path: str | Path | None, tag) -> Path | None:
    """``ckpt.safetensors`` → ``ckpt-<tag>.safetensors``: one file per run or phase of a command that makes several."""
    return None if path is None else Path(path).with_name(f"{Path(path).stem}-{tag}{Path(path).suffix}")


def check_readable(path: Path, what: str = "file", missing: type[Exception] = InputError) -> None:
    """Refuse a path that is missing (``missing`` is the error raised), a folder, unreadable or empty, in one line
    that names ``what`` the file should be ("image file", "checkpoint", "pggan weights file", …)."""
    if not path.exists():
        raise missing(f"{path}: no such {what}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a {what}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the {what} is empty")


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image file from its header, without decoding it (Pillow's own bomb guard still applies)."""
    w, h = _open(path, decode=False).size
    return h, w


def _open(path: str | os.PathLike, max_side: int | None = None, *, decode: bool = True) -> Image.Image:
    """Open and decode an image, checking its size from the header *before* decoding: above ``max_side`` (a
    ResourceError naming --max-side) or above :data:`MAX_PIXELS` (a decompression bomb) nothing is decoded."""
    path = Path(path)
    check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(pixels.group(1)) / 1e6:.0f} megapixels" if pixels else "too many pixels"
        raise InputError(f"{path}: the image declares {count}, above the {MAX_PIXELS / 1e6:.0f}-megapixel limit "
                         "(a decompression bomb?); crop or resize it (optimising commands also refuse images "
                         "above --max-side)") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image Pillow can read (PNG, JPEG, TIFF, WebP are supported)") from None
    except Exception as exc:  # a damaged header: Pillow raises OSError, SyntaxError, struct.error, …
        raise InputError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    w, h = img.size
    if max_side is not None:
        check_size(h, w, max_side, what=str(path))
    if not decode:
        return img
    if w * h > MAX_PIXELS:
        raise InputError(f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the {MAX_PIXELS / 1e6:.0f}-"
                         "megapixel limit (a decompression bomb?); crop or resize it (optimising commands also "
                         "refuse images above --max-side)")
    try:
        img.load()
    except Exception as exc:  # truncated or corrupt data; Pillow raises many types
        raise InputError(f"{path}: unreadable or truncated image ({type(exc).__name__}: {exc})") from None
    return img


def _sixteen_bit_array(path: Path, img: Image.Image) -> np.ndarray | None:
    """Return the samples of a 16-bit PNG/TIFF as uint16 (H, W[, C]), or None if the file is 8-bit."""
    if img.mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(img)
        return arr.astype(np.uint16) if arr.max() <= 65535 else None
    if img.format in ("PNG", "TIFF") and img.mode in ("RGB", "RGBA"):
        # Pillow reduces 48/64-bit PNGs to 8 bits; re-read them with imageio to keep the precision.
        try:
            import imageio.v3 as iio

            arr = iio.imread(path)
        except Exception:
            return None
        return arr if arr.dtype == np.uint16 else None
    return None


def _to_float(img: Image.Image, path: Path, mode: str, keep_alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode to float32 (H, W, C) in [0, 1] following the module's conversion rule; also return alpha or None."""
    alpha = None
    arr16 = _sixteen_bit_array(path, img)
    if arr16 is not None:
        arr = arr16.astype(np.float32) / 65535.0
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.shape[2] in (2, 4):
            alpha, arr = arr[..., -1], arr[..., :-1]
    else:
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        if img.mode == "1":
            img = img.convert("L")
        if img.mode in ("RGBA", "LA", "PA"):
            alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
            img = img.convert("RGB" if img.mode != "LA" else "L")
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGB")
        arr = np.asarray(img, dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
    if mode == "RGB" and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif mode == "L" and arr.shape[2] == 3:
        arr = (arr * np.asarray(LUMA_WEIGHTS, dtype=np.float32)).sum(axis=2, keepdims=True)
    return arr, (alpha if keep_alpha else None)


def load_image(path: str | os.PathLike, mode: str = "RGB", *, max_side: int | None = None) -> torch.Tensor:
    """Read an image file as a float32 tensor (1, C, H, W) in [0, 1]; C = 3 for ``mode="RGB"``, 1 for ``"L"``.

    ``max_side`` refuses images whose longer side exceeds it (see :func:`check_size`).
    """
    return load_image_and_alpha(path, mode, max_side=max_side)[0]


def load_image_and_alpha(
    path: str | os.PathLike, mode: str = "RGB", *, max_side: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Like :func:`load_image`, and also return the alpha channel as a binary mask (1, 1, H, W) (alpha >= 0.5 is
    known) or None when the file has no alpha."""
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    path = Path(path)
    img = _open(path, max_side)
    w, h = img.size
    if w < 2 or h < 2:
        raise InputError(f"{path}: image is {w}x{h}; at least 2x2 pixels are needed")
    arr, alpha = _to_float(img, path, mode, keep_alpha=True)
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).unsqueeze(0)
    a = None if alpha is None else torch.from_numpy((alpha >= 0.5).astype(np.float32))[None, None]
    return x, a


def load_mask(
    path: str | os.PathLike, size: tuple[int, int] | None = None, *, threshold: float | None = None
) -> torch.Tensor:
    """Read a mask file as a float tensor (1, 1, H, W) with 1 = known (white) and 0 = missing (black).

    ``size`` is the (H, W) the mask must have.  Grey values are refused unless ``threshold`` is given, in which
    case pixels with ``value >= threshold`` (value in [0, 1]) are known.
    """
    if size is not None:
        _check_mask_size(image_size(path), size, str(path))  # before decoding: a mask bomb is refused here
    m = load_image(path, mode="L")
    return validate_mask(m, size, threshold=threshold, what=str(path))


def _check_mask_size(hw: tuple[int, int], size: tuple[int, int], what: str) -> None:
    if tuple(hw) != tuple(size):
        raise InputError(f"{what}: mask is {hw[1]}x{hw[0]} (WxH) but the image is {size[1]}x{size[0]}; "
                         "they must have the same size")


def validate_mask(
    m: torch.Tensor, size: tuple[int, int] | None = None, *, threshold: float | None = None, what: str = "mask"
) -> torch.Tensor:
    """Check and binarise a mask tensor (…, H, W) with values in [0, 1]; return it as (1, 1, H, W) float 0/1."""
    m = m.reshape(1, 1, *m.shape[-2:]).float()
    if size is not None:
        _check_mask_size(tuple(m.shape[-2:]), size, what)
    if threshold is None:
        grey = ((m > 0) & (m < 1)).sum().item()
        if grey:
            raise InputError(
                f"{what}: mask is not binary ({grey} grey pixels); use pure black (missing) and white (known), "
                "or pass an explicit threshold (--mask-threshold 0.5) to binarise it"
            )
        m = (m >= 0.5).float()
    else:
        if not 0.0 < threshold < 1.0:
            raise InputError(f"mask threshold must lie in (0, 1), got {threshold}")
        m = (m >= threshold).float()
    if m.sum() == 0:
        raise InputError(f"{what}: mask is all black: no pixel is known, nothing to restore from")
    return m


def check_size(h: int, w: int, max_side: int, what: str = "image", bytes_per_pixel: int | None = None) -> None:
    """Refuse images whose longer side exceeds ``max_side``, with the memory estimate and the flag to raise it."""
    if max(h, w) > max_side:
        est = ""
        if bytes_per_pixel:
            est = f" (estimated peak memory {h * w * bytes_per_pixel / 2**30:.1f} GiB)"
        raise ResourceError(
            f"{what}: {w}x{h} exceeds --max-side {max_side}{est}; crop or resize it, or raise --max-side"
        )


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) tensor in [0, 1] → float32 (H, W, C) array clipped to [0, 1]."""
    x = x.detach().float().cpu()
    if x.dim() == 4:
        x = x[0]
    return np.clip(x.permute(1, 2, 0).numpy(), 0.0, 1.0)


def from_numpy(a: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) array, uint8 (0..255) or float (0..1) → float32 tensor (1, C, H, W)."""
    a = np.asarray(a)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).unsqueeze(0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Tensor in [0, 1] → uint8 (H, W, C) (round half up, clip)."""
    return (to_numpy(x) * 255.0 + 0.5).astype(np.uint8)


def _atomic_write(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # on disk before the rename, so a crash leaves the old file or the new one
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_image(x: torch.Tensor | np.ndarray, path: str | os.PathLike, *, bits: int = 8) -> Path:
    """Write a (1, C, H, W)/(C, H, W) tensor in [0, 1] (or an (H, W[, C]) uint8/float array) as PNG, atomically.

    ``bits=16`` writes a 16-bit grey PNG (only for single-channel images)."""
    if isinstance(x, torch.Tensor):
        arr = to_numpy(x)
    else:
        arr = np.asarray(x)
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else np.clip(arr.astype(np.float32), 0, 1)
        if arr.ndim == 2:
            arr = arr[..., None]
    if bits == 16:
        if arr.shape[2] != 1:
            raise ValueError("16-bit output is supported for single-channel images only")
        img = Image.fromarray((arr[..., 0] * 65535.0 + 0.5).astype(np.uint16))
    else:
        u8 = (arr * 255.0 + 0.5).astype(np.uint8)
        img = Image.fromarray(u8[..., 0] if u8.shape[2] == 1 else u8)
    return _atomic_write(Path(path), lambda tmp: img.save(tmp, format="PNG"))


def save_gif(frames: Iterable[torch.Tensor], path: str | os.PathLike, *, duration_ms: int = 150) -> Path:
    """Write tensors (C, H, W)/(1, C, H, W) in [0, 1] as a looping animated GIF, atomically."""
    images = [Image.fromarray(to_uint8(f)) for f in frames]
    if not images:
        raise ValueError("a GIF needs at least one frame")
    return _atomic_write(Path(path), lambda tmp: images[0].save(tmp, format="GIF", save_all=True,
                                                                append_images=images[1:], duration=duration_ms,
                                                                loop=0))


def write_json(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, default=_json_default)

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text + "\n")

    return _atomic_write(Path(path), write)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (Path,)):
        return str(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def check_output_path(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> Path:
    """Refuse an output path that equals one of the inputs (never overwrite an input); return it as a Path."""
    out = Path(output)
    if out.suffix.lower() not in (".png", ""):
        raise InputError(f"{out}: outputs are written as PNG; use a .png file name")
    for p in inputs:
        if p is not None and Path(p).exists() and out.exists() and os.path.samefile(out, p):
            raise InputError(f"{out}: the output path is an input file; choose another -o/--output")
        if p is not None and Path(p).resolve() == out.resolve():
            raise InputError(f"{out}: the output path is an input file; choose another -o/--output")
    return out
