"""Pretrained GAN generators as splittable models G = G2 ∘ G1 (see :mod:`netprior.generators.base`).

>>> g = get_generator("dcgan-faces")              # offline, 64×64 faces
>>> z = g.prior.sample(4); x = g(z)              # images in [0, 1]
>>> h = g.g1(z, "dense"); x2 = g.g2(h, "dense")   # the same images through the dense layer

Names: ``dcgan-faces`` (weights of the ``gan-face-generate`` package), ``pggan`` (a pytorch_GAN_zoo checkpoint
given by the user), ``biggan`` (pytorch-pretrained-biggan ``pytorch_model.bin`` + ``config.json`` given by the
user).  Any ``nn.Sequential`` is wrapped with :class:`SequentialGenerator`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import AttentionMap, LatentPrior, SplitGenerator
from .biggan import BigGAN, build_biggan
from .dcgan_faces import build_dcgan_faces
from .pggan import PGGAN, build_pggan
from .sequential import SequentialGenerator

GENERATORS = {
    "dcgan-faces": "64×64 DCGAN trained on DigiFace-1M (offline weights from gan-face-generate)",
    "pggan": "Progressive GAN, pytorch_GAN_zoo checkpoint (--weights FILE)",
    "biggan": "BigGAN-deep, pytorch-pretrained-biggan files (--weights FOLDER|pytorch_model.bin [--config])",
}

__all__ = [
    "GENERATORS",
    "PGGAN",
    "AttentionMap",
    "BigGAN",
    "LatentPrior",
    "SequentialGenerator",
    "SplitGenerator",
    "get_generator",
]


def get_generator(name: str, weights: str | Path | None = None, *, config: str | Path | None = None,
                  class_index: int = 0, truncation: float = 1.0, device: str = "cpu") -> SplitGenerator:
    """Build generator ``name``.  ``weights``: for dcgan-faces optional (``"random"`` or a file; default the
    package's weights); required for pggan and biggan.  ``class_index``/``truncation`` apply to BigGAN."""
    if name not in GENERATORS:
        raise InputError(f"unknown generator {name!r}; available: {', '.join(GENERATORS)}")
    if name == "dcgan-faces":
        g = build_dcgan_faces(weights or "pretrained")
    elif weights is None:
        raise InputError(f"generator {name} needs its weights: pass --weights ({GENERATORS[name]})")
    elif name == "pggan":
        g = build_pggan(weights)
    else:
        g = build_biggan(weights, config, class_index=class_index, truncation=truncation)
    return g.to(device)
