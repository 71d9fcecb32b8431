"""What is optimised: every parametrization x = P(θ) of the engine, each an ``nn.Module`` whose ``forward()``
returns the image and whose ``project_()`` (called by :func:`netprior.solve.solve` after each step) keeps θ
feasible.

==========================  =========================================================  ===========================
class                       x =                                                        used by
==========================  =========================================================  ===========================
:class:`Pixels`             P (optionally projected onto [0, 1])                       pre-images, texture, style
:class:`NormalizedPixels`   mean + std·P, projected so that x ∈ [0, 1]                 IMAGINE, DeepInversion
:class:`SpectralPixels`     μ + C·F⁻¹(s ⊙ Y): exemplar colour axes, 1/f Fourier basis   texture, IMAGINE
:class:`DeepPrior`          f_θ(z + ε)                                                 DIP restoration
:class:`CroppedDeepPrior`   f_θ(z)[..., :H, :W] on a padded grid                       DIP pre-images
:class:`LatentCode`         G(z)                                                       GAN inversion
:class:`LayerOffset`        G2(G1(z*) + δ)  (dense offset)                             GAN inversion, two-step
:class:`MultiCode`          G2(A(Σ_n G1(z_n) ⊙ α_n))                                   mGANprior
:class:`GeneratorBatch`     g(z_1 … z_B) with fresh noise                              texture / style networks
==========================  =========================================================  ===========================
"""

from .base import Parametrization, clamp_
from .batch import GeneratorBatch
from .deep_prior import INPUT_KINDS, CroppedDeepPrior, DeepPrior, make_input
from .generator import LatentCode, LayerOffset, MultiCode
from .pixels import NormalizedPixels, Pixels
from .spectral import (
    IMAGE_PARAMETRIZATIONS,
    ColourBasis,
    SpectralPixels,
    check_image_parametrization,
    colour_basis,
    spectral_noise,
)

__all__ = ["Parametrization", "clamp_", "Pixels", "NormalizedPixels", "SpectralPixels", "ColourBasis", "colour_basis",
           "spectral_noise", "IMAGE_PARAMETRIZATIONS", "check_image_parametrization", "DeepPrior", "CroppedDeepPrior", "make_input", "INPUT_KINDS", "LatentCode", "LayerOffset",
           "MultiCode", "GeneratorBatch"]
