"""Deep Image Prior: x = f_θ(z + ε), ε ~ N(0, σ_reg²) redrawn every step (Ulyanov et al., thesis eq. 7.2).

θ is optimised, and z too when ``optimize_input=True``.  The perturbation is drawn from ``rng``, the run's
generator that :func:`netprior.solve.solve` binds (:mod:`netprior.seeding`), so runs are reproducible and
checkpoints (which store its state) continue identically.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Parametrization

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
        self.rng: torch.Generator | None = None

    def forward(self) -> torch.Tensor:
        z = self.z
        if self.reg_noise_std > 0:
            z = z + self.reg_noise_std * torch.randn(z.shape, generator=self.rng, device=z.device, dtype=z.dtype)
        self.last_input = z
        return self.net(z)

    def describe(self) -> dict:
        return {"parametrization": "DeepPrior", "reg_noise_std": self.reg_noise_std,
                "optimize_input": self.optimize_input, "input_shape": list(self.z.shape),
                "parameters": sum(p.numel() for p in self.net.parameters())}


class CroppedDeepPrior(DeepPrior):
    """x = f_θ(z)[..., :H, :W]: the DIP parametrization on a code z whose sides are padded up to a multiple of
    2^scales (so every scale of the skip network halves exactly), cropped back to the image (as the reference
    feature-inversion notebook crops its 256-px output to 227)."""

    def __init__(self, net, z: torch.Tensor, size: tuple[int, int], **kw):
        super().__init__(net, z, **kw)
        self.size = tuple(size)

    def forward(self) -> torch.Tensor:
        return super().forward()[..., :self.size[0], :self.size[1]]

    def describe(self) -> dict:
        return {**super().describe(), "parametrization": "CroppedDeepPrior", "output_size": list(self.size)}
