"""What is optimised.  A parametrization is an ``nn.Module`` whose ``forward()`` (no argument) returns the current
image (B, C, H, W) and whose trainable parameters are what the optimiser updates.

* :class:`Pixels` – x itself (Mahendran & Vedaldi pre-images, Gatys textures, IMAGINE).
* :class:`DeepPrior` – x = f_θ(z + ε), ε ~ N(0, σ_reg²) redrawn every step (Deep Image Prior, eq. 7.2);
  θ is optimised, and z too when ``optimize_input=True``.

The random perturbation uses the global torch RNG, so ``torch.manual_seed`` (done by :func:`netprior.solve.solve`)
makes runs reproducible and checkpoints (which store the RNG state) continue identically.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_KINDS = ("noise", "meshgrid")


def make_input(kind: str, channels: int, size: tuple[int, int], *, scale: float = 0.1,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The fixed DIP input z (1, C, H, W): ``noise`` = U(0, 1)·scale (scale 1/10 as in the reference code), or
    ``meshgrid`` = the two coordinate planes (x, y) ∈ [0, 1]² (C must be 2; used for the vase inpainting)."""
    h, w = size
    if kind == "noise":
        return torch.rand((1, channels, h, w), generator=generator) * scale
    if kind == "meshgrid":
        if channels != 2:
            raise ValueError("a meshgrid input has exactly 2 channels")
        ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        return torch.stack([xs, ys])[None]
    raise ValueError(f"unknown input kind {kind!r}; use one of {INPUT_KINDS}")


class Parametrization(nn.Module):
    """Base class: ``forward()`` returns the image; ``describe()`` returns what the sidecar records."""

    def describe(self) -> dict:
        return {"parametrization": type(self).__name__}


class Pixels(Parametrization):
    """x = P (the pixels themselves), initialised from ``x0``."""

    def __init__(self, x0: torch.Tensor):
        super().__init__()
        self.x = nn.Parameter(x0.detach().clone())

    def forward(self) -> torch.Tensor:
        return self.x


class DeepPrior(Parametrization):
    """x = f_θ(z + ε), ε ~ N(0, reg_noise_std²) redrawn at every call.

    The network stays in train mode throughout, as in the reference code: its batch-norm layers normalise with the
    statistics of the current input (batch of one), so no eval-mode pass with running statistics is ever used.

    ``z`` is a fixed code (see :func:`make_input`) or a guide image (flash/no-flash); ``optimize_input`` makes z a
    parameter too.  The paper's default perturbation is 1/30 (1/20 for σ = 50).  ``last_input`` is the input
    z + ε of the latest call (losses such as :mod:`netprior.sure` perturb it again)."""

    def __init__(self, net: nn.Module, z: torch.Tensor, *, reg_noise_std: float = 0.0, optimize_input: bool = False):
        super().__init__()
        self.net = net
        self.reg_noise_std = float(reg_noise_std)
        self.optimize_input = optimize_input
        if optimize_input:
            self.z = nn.Parameter(z.detach().clone())
        else:
            self.register_buffer("z", z.detach().clone())
        self.last_input: torch.Tensor | None = None

    def forward(self) -> torch.Tensor:
        z = self.z
        if self.reg_noise_std > 0:
            z = z + self.reg_noise_std * torch.randn_like(z)
        self.last_input = z
        return self.net(z)

    def describe(self) -> dict:
        return {"parametrization": "DeepPrior", "reg_noise_std": self.reg_noise_std,
                "optimize_input": self.optimize_input, "input_shape": list(self.z.shape),
                "parameters": sum(p.numel() for p in self.net.parameters())}
