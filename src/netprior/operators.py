"""Degradation operators A (deepinv-style "physics").

Each operator is an ``nn.Module`` with

* ``forward(x)`` – the differentiable observation model A(x) used in data terms ``||A(x) − y||²``;
* ``simulate(x, generator=None)`` – makes a degraded observation y from a clean image (adds noise, compresses…),
  used to build test data and benchmarks.

Restoration recipes take ``(y, operator)`` and never need to know which degradation they got.
Images are float tensors (B, C, H, W) in [0, 1].
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from .errors import InputError
from .io import LUMA_WEIGHTS, from_numpy, to_uint8, validate_mask


class Operator(nn.Module):
    """Base class: identity observation, no noise.  ``sigma`` is the noise std on the [0, 1] scale, or None."""

    sigma: float | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def simulate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.forward(x)

    def describe(self) -> dict:
        """Parameters recorded in a run's sidecar."""
        return {"operator": type(self).__name__}


class Identity(Operator):
    """A(x) = x (plain fitting, blind denoising of unknown degradations)."""


class GaussianNoise(Operator):
    """y = clip(x + n, 0, 1), n ~ N(0, (sigma/255)²); A(x) = x.

    ``sigma`` is given on the 0–255 scale as in the papers (σ = 25); ``self.sigma`` is on the [0, 1] scale."""

    def __init__(self, sigma255: float):
        super().__init__()
        if sigma255 < 0:
            raise InputError(f"noise sigma must be >= 0, got {sigma255}")
        self.sigma255 = float(sigma255)
        self.sigma = self.sigma255 / 255.0

    def simulate(self, x, generator=None):
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
        return (x + self.sigma * noise).clamp(0, 1)

    def describe(self):
        return {"operator": "GaussianNoise", "sigma255": self.sigma255}


class JPEG(Operator):
    """y = JPEG_q(x) (Pillow encoder, 4:2:0 chroma subsampling); A(x) = x (blind deblocking, thesis Fig. 7.3)."""

    def __init__(self, quality: int):
        super().__init__()
        if not 1 <= quality <= 95:
            raise InputError(f"JPEG quality must be in 1..95, got {quality}")
        self.quality = int(quality)

    def simulate(self, x, generator=None):
        out = []
        for img in x:
            buf = io.BytesIO()
            arr = to_uint8(img)
            Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(buf, format="JPEG", quality=self.quality)
            buf.seek(0)
            out.append(from_numpy(np.asarray(Image.open(buf))))
        return torch.cat(out).to(x.device, x.dtype)

    def describe(self):
        return {"operator": "JPEG", "quality": self.quality}


class Mask(Operator):
    """A(x) = m ⊙ x with m ∈ {0, 1}^{H×W} (1 = known); the inpainting data term is ||(x − x0) ⊙ m||² (eq. 7.6)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", validate_mask(mask))

    def forward(self, x):
        return x * self.mask

    @classmethod
    def bernoulli(cls, size: tuple[int, int], drop: float, generator: torch.Generator | None = None) -> "Mask":
        """Drop each pixel independently with probability ``drop`` (same pixels in all channels)."""
        if not 0.0 <= drop < 1.0:
            raise InputError(f"drop probability must be in [0, 1), got {drop}")
        keep = (torch.rand((1, 1, *size), generator=generator) >= drop).float()
        return cls(keep)

    @classmethod
    def text(cls, size: tuple[int, int], text: str = "netprior restores images", font_size: int | None = None):
        """Black text overlay on white (missing = text strokes), lines repeated down the image (Fig. 7.7 top)."""
        h, w = size
        img = Image.new("L", (w, h), 255)
        draw = ImageDraw.Draw(img)
        fs = font_size or max(8, h // 12)
        try:
            font = ImageFont.load_default(size=fs)
        except TypeError:  # Pillow < 10.1
            font = ImageFont.load_default()
        for row, y in enumerate(range(fs // 2, h - fs // 2, int(fs * 1.8))):
            draw.text((fs // 2 + (row % 2) * fs, y), text, fill=0, font=font)
        return cls(torch.from_numpy((np.asarray(img) >= 128).astype(np.float32))[None, None])

    @classmethod
    def blocks(cls, size: tuple[int, int], missing: float, block: int | None = None,
               generator: torch.Generator | None = None) -> "Mask":
        """Random b×b holes (b = min(H, W)/8 by default) until their union covers ``missing`` of the pixels."""
        if not 0.0 < missing < 1.0:
            raise InputError(f"missing share must be in (0, 1), got {missing}")
        h, w = size
        b = block or max(2, min(h, w) // 8)
        m = torch.ones(1, 1, h, w)
        target = missing * h * w
        while (1 - m).sum() < target:  # overshoot is at most one block (b² pixels)
            i = int(torch.randint(0, max(1, h - b + 1), (1,), generator=generator))
            j = int(torch.randint(0, max(1, w - b + 1), (1,), generator=generator))
            m[..., i:i + b, j:j + b] = 0
        return cls(m)

    def describe(self):
        return {"operator": "Mask", "known_fraction": float(self.mask.mean())}


def lanczos(t: np.ndarray, a: int) -> np.ndarray:
    """Lanczos window L_a(t) = sinc(t)·sinc(t/a) for |t| < a, else 0 (sinc(t) = sin(πt)/(πt))."""
    return np.where(np.abs(t) < a, np.sinc(t) * np.sinc(t / a), 0.0)


def downsampling_taps(factor: int, kernel: str = "lanczos2") -> tuple[np.ndarray, int, int]:
    """1-D antialiasing filter for integer downsampling by ``factor``, with the pixel-centre convention of PIL and
    of the DIP reference (phase 0.5): output pixel i is centred at input coordinate (i + ½)·t.

    Returns (taps, pad_left, pad_right): output i = Σ_k taps[k] · x[i·t − pad_left + k].
    ``kernel``: ``lanczos2`` (the paper's operator, support 2), ``lanczos3`` (PIL's LANCZOS), ``box``."""
    t = int(factor)
    if kernel == "box":
        return np.full(t, 1.0 / t), 0, 0
    if kernel not in ("lanczos2", "lanczos3"):
        raise InputError(f"unknown downsampling kernel {kernel!r}; use lanczos2, lanczos3 or box")
    a = int(kernel[-1])
    first = math.ceil(t / 2 - a * t - 0.5)  # leftmost input pixel (relative to i·t) inside the support
    last = math.floor(t / 2 + a * t - 0.5)
    offsets = (np.arange(first, last + 1) + 0.5 - t / 2) / t
    taps = lanczos(offsets, a)
    taps = taps / taps.sum()
    return taps, -first, last - (t - 1)



class TargetMasks(Mask):
    """A(x) = m_b ⊙ x with one mask per target: ``masks`` (B, 1, H, W), each validated like a :class:`Mask`."""

    def __init__(self, masks: torch.Tensor):
        Operator.__init__(self)
        self.register_buffer("mask", torch.cat([Mask(m).mask for m in masks]))


class Downsample(Operator):
    """d(x): separable antialiased downsampling by an integer factor t (eq. 7.5), replicate padding at borders.

    With the default ``lanczos2`` kernel this is the DIP reference's ``Downsampler(kernel_type='lanczos2',
    phase=0.5, preserve_size=True)``; ``lanczos3`` matches PIL's ``Image.LANCZOS`` away from the borders."""

    def __init__(self, factor: int, kernel: str = "lanczos2", channels: int = 3):
        super().__init__()
        if int(factor) != factor or factor < 1:
            raise InputError(f"downsampling factor must be a positive integer, got {factor}")
        self.factor, self.kernel = int(factor), kernel
        taps, self.pad_left, self.pad_right = downsampling_taps(self.factor, kernel)
        self.register_buffer("taps", torch.tensor(taps, dtype=torch.float32))
        self.channels = channels

    def forward(self, x):
        c = x.shape[1]
        k = self.taps.to(x.dtype)
        n = k.numel()
        x = F.pad(x, (self.pad_left, self.pad_right, self.pad_left, self.pad_right), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, n).expand(c, 1, 1, n), stride=(1, self.factor), groups=c)
        return F.conv2d(x, k.view(1, 1, n, 1).expand(c, 1, n, 1), stride=(self.factor, 1), groups=c)

    def describe(self):
        return {"operator": "Downsample", "factor": self.factor, "kernel": self.kernel}


class Grayscale(Operator):
    """A(x) = Σ_c w_c x_c with ITU-R 601 luma weights (0.299, 0.587, 0.114); colourisation data term."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weights", torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1))

    def forward(self, x):
        return (x * self.weights.to(x.dtype)).sum(dim=1, keepdim=True)


class Compose(Operator):
    """A = A_n ∘ … ∘ A_1; ``simulate`` chains each operator's simulation (e.g. downsample, then add noise)."""

    def __init__(self, *ops: Operator):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        sigmas = [op.sigma for op in ops if op.sigma is not None]
        self.sigma = sigmas[-1] if sigmas else None

    def forward(self, x):
        for op in self.ops:
            x = op(x)
        return x

    def simulate(self, x, generator=None):
        for op in self.ops:
            x = op.simulate(x, generator)
        return x

    def describe(self):
        return {"operator": "Compose", "ops": [op.describe() for op in self.ops]}
