"""A pretrained generator as a chain of named stages, so that it can be split G = G2 ∘ G1 at any stage.

Pividori et al. (2019, §3): for a layer l, G(z) = G_2^l(G_1^l(z)), G_1^l: Z → R^{d_l} maps the latent code to the
representation at l and G_2^l maps that representation to the image.  ``"dense"`` always names the first
fully-connected / projection layer, G_1(z) = W_1 z + b_1.

Conventions shared by every adapter (DCGAN faces, PGGAN, BigGAN, ``nn.Sequential``):

* a stage is an ``nn.Module`` called as ``stage(h, ctx)``; the first stage receives the latent code z (B, dim);
  ``ctx`` is the conditioning that later stages need (BigGAN's [z, class embedding] vector), ``None`` for
  unconditional generators (:meth:`SplitGenerator.condition`);
* a stage's output is the pre-activation of its layer (the dense stage outputs W_1 z + b_1, as in the paper);
  the nonlinearity and normalisation follow at the start of the next stage;
* the generator's own output range (``output_range``, (−1, 1) for tanh) is mapped to [0, 1] at the boundary
  (:meth:`SplitGenerator.to_unit`), so the rest of netprior only ever sees [0, 1] images;
* the weights are frozen and the modules stay in eval mode (batch norm uses its running statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..errors import InputError

PRIOR_KINDS = ("gaussian", "uniform")


@dataclass(frozen=True)
class LatentPrior:
    """P_z: ``gaussian`` N(0, scale²·I) — optionally truncated to |z_i| ≤ truncation·scale (resampled, the
    BigGAN truncation trick) — or ``uniform`` U[−scale, scale]^dim.

    ``penalty(z)`` is −log P_z(z) up to a constant, per sample: ½||z||²/scale² for the Gaussian (Pividori §3.3,
    "the log likelihood reduces to a regularization in ||z||²").  The uniform density is flat on its support and
    zero outside, so its penalty is 0 inside and a quadratic barrier Σ relu(|z_i| − scale)² outside (the −∞
    log-density replaced by a differentiable wall).  The truncation is not part of the penalty."""

    kind: str = "gaussian"
    dim: int = 100
    truncation: float | None = None
    scale: float = 1.0

    def __post_init__(self):
        if self.kind not in PRIOR_KINDS:
            raise InputError(f"unknown latent prior {self.kind!r}; use one of {', '.join(PRIOR_KINDS)}")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes (n, dim) on the CPU, drawn one after the other, so that code i does not depend on n (PyTorch's
        CPU sampler otherwise changes algorithm with the tensor size)."""
        return torch.stack([self._one(generator) for _ in range(n)]) if n else torch.zeros(0, self.dim)

    def _one(self, generator: torch.Generator | None) -> Tensor:
        if self.kind == "uniform":
            return (torch.rand(self.dim, generator=generator) * 2 - 1) * self.scale
        z = torch.randn(self.dim, generator=generator)
        if self.truncation is not None:
            out = z.abs() > self.truncation
            while out.any():
                z[out] = torch.randn(int(out.sum()), generator=generator)
                out = z.abs() > self.truncation
        return z * self.scale

    def penalty(self, z: Tensor) -> Tensor:
        """−log P_z(z) + const for each code, summed over all but the first axis → shape (B,)."""
        if self.kind == "uniform":
            return torch.relu(z.abs() - self.scale).pow(2).flatten(1).sum(1)
        return 0.5 * (z / self.scale).pow(2).flatten(1).sum(1)

    def describe(self) -> dict:
        return {"kind": self.kind, "dim": self.dim, "truncation": self.truncation, "scale": self.scale}


class AttentionMap(NamedTuple):
    """Attention weights A (B, N_q, N_k) of a generator's self-attention block: row i is the attention that query
    position i (on a ``query_hw`` grid) pays to key position j (on a ``key_hw`` grid)."""

    weights: Tensor
    query_hw: tuple[int, int]
    key_hw: tuple[int, int]


class Plain(nn.Module):
    """A stage made of ordinary modules applied in order; it ignores the conditioning context."""

    def __init__(self, *modules: nn.Module):
        super().__init__()
        self.body = nn.Sequential(*modules)

    def forward(self, h: Tensor, ctx: Tensor | None = None) -> Tensor:
        return self.body(h)


class Reshape(nn.Module):
    """View a (B, …) tensor as (B, *shape)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)


class SplitGenerator(nn.Module):
    """A frozen generator given as named stages (see the module docstring).

    ``g1(z, layer)`` runs the stages up to and including ``layer``; ``g2(h, layer, ctx)`` runs the remaining ones
    and returns an image in [0, 1]; ``forward(z)`` = g2(g1(z)).  ``attention_stage`` names the stage that holds a
    self-attention block (BigGAN's non-local block) or is None."""

    def __init__(self, name: str, stages: list[tuple[str, nn.Module]], prior: LatentPrior, *,
                 image_size: tuple[int, int], channels: int = 3, output_range: tuple[float, float] = (-1.0, 1.0),
                 dense: str | None = None, attention_stage: str | None = None, source: str = ""):
        super().__init__()
        if len(stages) < 2:
            raise ValueError("a split generator needs at least two stages")
        self.name = name
        self.stages = nn.ModuleDict(stages)
        self.prior = prior
        self.image_size = tuple(image_size)
        self.channels = channels
        self.output_range = tuple(float(v) for v in output_range)
        self.dense = dense or stages[0][0]
        self.attention_stage = attention_stage
        self.source = source
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> SplitGenerator:
        """Generators stay in eval mode (frozen batch-norm statistics)."""
        return super().train(False)

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages.keys())

    @property
    def split_layers(self) -> list[str]:
        """Layers at which G can be split (every stage but the last, whose output is the image)."""
        return self.stage_names[:-1]

    def check_layer(self, layer: str | None) -> str:
        """``None`` and ``"dense"`` → the dense layer; an unknown name raises :class:`InputError` listing the valid
        ones."""
        layer = self.dense if layer in (None, "dense") else layer
        if layer not in self.split_layers:
            raise InputError(f"unknown layer {layer!r} for generator {self.name}; valid layers: "
                             f"{', '.join(self.split_layers)}")
        return layer

    @property
    def composition_layer(self) -> str:
        """Default mGANprior composition layer: the last stage whose maps are 1/8 of the image side (the thesis'
        best PGGAN layer 8 has 32×32 maps for 256×256 images, §6); the dense layer if no stage has that size."""
        with torch.no_grad():
            z = self.prior.sample(1).to(self.device)
            h, ctx, best = z, self.condition(z), self.dense
            for name in self.split_layers:
                h = self.stages[name](h, ctx)
                if h.dim() == 4 and h.shape[-1] * 8 == self.image_size[1]:
                    best = name
        return best

    def condition(self, z: Tensor) -> Tensor | None:
        """The context the stages after a split need; None for unconditional generators."""
        return None

    def run(self, h: Tensor, ctx: Tensor | None, start: str | None = None, stop: str | None = None) -> Tensor:
        """Apply the stages after ``start`` (from the first when None) up to and including ``stop`` (the last)."""
        names = self.stage_names
        i0 = 0 if start is None else names.index(start) + 1
        i1 = len(names) if stop is None else names.index(stop) + 1
        for name in names[i0:i1]:
            h = self.stages[name](h, ctx)
        return h

    def to_unit(self, x: Tensor) -> Tensor:
        """Map the generator's output range to [0, 1]: (x − lo) / (hi − lo)."""
        lo, hi = self.output_range
        return (x - lo) / (hi - lo)

    def g1(self, z: Tensor, layer: str | None = None) -> Tensor:
        """G_1^l(z): the representation at ``layer`` (default: dense)."""
        layer = self.check_layer(layer)
        return self.run(z, self.condition(z), None, layer)

    def g2(self, h: Tensor, layer: str | None = None, ctx: Tensor | None = None) -> Tensor:
        """G_2^l(h): the image in [0, 1] from the representation h at ``layer``."""
        layer = self.check_layer(layer)
        return self.to_unit(self.run(h, ctx, layer, None))

    def forward(self, z: Tensor) -> Tensor:
        """G(z) in [0, 1], z of shape (B, dim)."""
        return self.to_unit(self.run(z, self.condition(z)))

    def layer_shape(self, layer: str | None = None) -> tuple[int, ...]:
        """Shape of one sample's representation at ``layer``."""
        with torch.no_grad():
            z = self.prior.sample(1).to(self.device)
            return tuple(self.g1(z, layer).shape[1:])

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def attention_map(self, h: Tensor, layer: str | None = None, ctx: Tensor | None = None) -> AttentionMap:
        """Run G_2 from ``layer`` up to the self-attention stage and return its attention weights."""
        if self.attention_stage is None:
            raise InputError(f"generator {self.name} has no self-attention layer; segmentation from attention "
                             "needs a generator with one (biggan)")
        layer = self.check_layer(layer)
        names = self.stage_names
        if names.index(layer) >= names.index(self.attention_stage):
            raise InputError(f"layer {layer!r} comes after the attention stage {self.attention_stage!r}; "
                             f"split earlier (e.g. {self.dense!r})")
        block = self.stages[self.attention_stage]
        block.record = True
        try:
            self.run(h, ctx, layer, self.attention_stage)
        finally:
            block.record = False
        return block.last_attention

    def describe(self) -> dict:
        return {"generator": self.name, "source": self.source, "image_size": list(self.image_size),
                "output_range": list(self.output_range), "prior": self.prior.describe(),
                "stages": self.stage_names, "dense": self.dense, "attention_stage": self.attention_stage}


def load_state(module: nn.Module, state: dict, what: str) -> None:
    """``module.load_state_dict(state)`` that reports missing / unexpected / mis-shaped keys as an InputError."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def short(keys):
            return ", ".join(keys[:8]) + (f" … ({len(keys)} in all)" if len(keys) > 8 else "")

        parts = ([f"missing keys: {short(missing)}"] if missing else []) + \
            ([f"unexpected keys: {short(unexpected)}"] if unexpected else []) + \
            ([f"shape mismatches: {short(shapes)}"] if shapes else [])
        raise InputError(f"{what}: the checkpoint does not match the architecture; " + "; ".join(parts))
    module.load_state_dict(state)
