"""Pixels in a decorrelated colour space and a scaled Fourier basis: a preconditioner for image optimisation.

    x = μ + C · F⁻¹(s ⊙ Y),    s(f) = 1 / max(|f|, 1/max(H, W))^d  (divided by its RMS over the frequencies)

Y is the optimised variable (the real and imaginary parts of the 2-D real FFT, orthonormal, of each of three
colour components); F⁻¹ the inverse FFT; C the colour basis of :func:`colour_basis`: the principal axes of a
reference image's RGB covariance, each scaled by its standard deviation relative to the largest (at least
``floor``), and μ that image's mean colour.  This is the parametrization of Olah et al. ("Feature Visualization",
Distill 2017; Lucid) with the colour basis taken from the exemplar instead of ImageNet.  A gradient step on Y moves x
by C s² ⊙ (Cᵀ ∇_x) in the Fourier domain: colour directions in which the exemplar does not vary (chroma, for a grey
exemplar) and high frequencies move slowly, low frequencies and the exemplar's own colour axes fast.

Why texture synthesis needs it: EfficientNet-Lite0's texture layers see chroma ~4× less than luminance (relative
Gram change of block0 under ±0.05 noise on the grey brick exemplar: 0.65 chroma, 2.3 luminance) and its first
layer has stride 2, so a plain pixel optimiser follows the deep layers' gradients into saturated colour speckle and
a period-2 checker the loss hardly penalises (docs/methods/texture.md, issue #16).

:meth:`SpectralPixels.project_` keeps x in [0, 1]: x is clamped and mapped back to Y (C is invertible).
:func:`spectral_noise` draws a start in the same basis: Gaussian noise with the reference's mean, colour covariance
and a 1/f^d amplitude spectrum (a white-noise start keeps its high frequencies: their steps are the smallest).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..errors import InputError
from .base import Parametrization

IMAGE_PARAMETRIZATIONS = ("spectral", "pixels")  # what an image optimisation may optimise (texture, IMAGINE)


def check_image_parametrization(name: str) -> str:
    """``name`` if it is one of :data:`IMAGE_PARAMETRIZATIONS`; otherwise the one-line :class:`InputError`."""
    if name not in IMAGE_PARAMETRIZATIONS:
        raise InputError(f"parametrization must be one of {', '.join(IMAGE_PARAMETRIZATIONS)}, got {name!r}")
    return name


class ColourBasis(NamedTuple):
    """``mean`` μ (3,), ``axes`` C (3, 3) and ``spread`` σ_max of :func:`colour_basis`."""

    mean: Tensor
    axes: Tensor
    spread: float


def colour_basis(image: Tensor, floor: float = 0.01) -> ColourBasis:
    """The colour basis of ``image`` (1, 3, H, W): its mean RGB colour μ, C = U diag(σ/σ_max), U the principal
    axes of its RGB covariance and σ the standard deviations along them, each ratio at least ``floor`` (so C is
    invertible: a grey image gives one axis of scale 1 and two chroma axes of scale ``floor``), and σ_max."""
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise InputError(f"the colour basis needs one RGB image (1, 3, H, W), got shape {tuple(image.shape)}")
    if not 0 < floor <= 1:
        raise InputError(f"the colour-basis floor must be in (0, 1], got {floor}")
    pixels = image[0].detach().double().flatten(1)
    eigenvalues, axes = torch.linalg.eigh(torch.cov(pixels))
    sigma = eigenvalues.clamp_min(0).sqrt()
    ratio = (sigma / sigma.max().clamp_min(1e-12)).clamp_min(floor)
    return ColourBasis(pixels.mean(1).float(), (axes * ratio).float(), float(sigma.max()))


def spectrum_scale(height: int, width: int, decay: float = 1.0) -> Tensor:
    """s(f) = 1/max(|f|, 1/max(H, W))^decay on the (H, W//2 + 1) grid of ``torch.fft.rfft2``, divided by its RMS
    (a unit-variance white Y then gives an x of unit variance along each colour axis)."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None]
    s = 1.0 / (fy ** 2 + fx ** 2).sqrt().clamp_min(1.0 / max(height, width)) ** decay
    return s / s.pow(2).mean().sqrt()


class SpectralPixels(Parametrization):
    """x = μ + C · F⁻¹(s ⊙ Y) (module docstring), initialised so that x = ``x0`` (clamped to [0, 1]);
    :meth:`project_` keeps x in [0, 1]."""

    def __init__(self, x0: Tensor, colours: ColourBasis, *, decay: float = 1.0):
        super().__init__()
        h, w = x0.shape[-2:]
        self.size, self.decay = (h, w), float(decay)
        self.register_buffer("mean", colours.mean.detach().view(1, 3, 1, 1).float().clone())
        self.register_buffer("basis", colours.axes.detach().float().clone())
        self.register_buffer("scale", spectrum_scale(h, w, decay))
        self.y = nn.Parameter(self.encode(x0.detach().clamp(0, 1)))

    def decode(self, y: Tensor) -> Tensor:
        components = torch.fft.irfft2(torch.view_as_complex(y.contiguous()) * self.scale, s=self.size, norm="ortho")
        return torch.einsum("ij,bjhw->bihw", self.basis, components) + self.mean

    def encode(self, x: Tensor) -> Tensor:
        components = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(self.basis), x.to(self.mean) - self.mean)
        return torch.view_as_real(torch.fft.rfft2(components, norm="ortho") / self.scale)

    def forward(self) -> Tensor:
        return self.decode(self.y)

    def project_(self) -> None:
        with torch.no_grad():
            self.y.copy_(self.encode(self.decode(self.y).clamp(0, 1)))

    def describe(self) -> dict:
        return {"parametrization": "SpectralPixels", "shape": [1, 3, *self.size], "decay": self.decay,
                "colour_basis": self.basis.tolist(), "mean": self.mean.flatten().tolist()}


def spectral_noise(size: tuple[int, int], colours: ColourBasis, generator: torch.Generator | None = None, *,
                   decay: float = 1.0) -> Tensor:
    """(1, 3, H, W) Gaussian noise μ + σ_max · C · z, clamped to [0, 1], where each of the three components z is
    F⁻¹(s ⊙ Y) for a white Gaussian Y, standardised to unit variance: the noise has the mean and colour covariance
    of the image ``colours`` was taken from and a 1/f^``decay`` amplitude spectrum."""
    h, w = size
    y = torch.randn(1, 3, h, w // 2 + 1, 2, generator=generator)
    z = torch.fft.irfft2(torch.view_as_complex(y) * spectrum_scale(h, w, decay), s=(h, w), norm="ortho")
    z = colours.spread * z / z.std(dim=(-2, -1), keepdim=True)
    return (torch.einsum("ij,bjhw->bihw", colours.axes, z) + colours.mean.view(1, 3, 1, 1)).clamp(0, 1)
