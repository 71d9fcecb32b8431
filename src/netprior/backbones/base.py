"""The :class:`Backbone` wrapper: a frozen classifier split into named steps whose outputs are taps.

A backbone is an ordered list of ``(name, module)`` steps; the output of each step is the tap of
that name, and ``aliases`` give extra names for existing taps (e.g. ResNet-50 ``conv1_1`` for
``conv1``). ``forward(x, layers)`` normalises ``x`` (RGB in [0, 1]) with the backbone's own
mean/std, runs the steps once and stops after the deepest requested tap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from netprior.errors import InputError

# Fragments of PyTorch's messages when a convolution or pooling window does not fit its input.
_TOO_SMALL_MESSAGES = ("output size is too small", "kernel size can't be greater")


class BackboneInputError(InputError, ValueError):
    """Unknown or repeated layer name, wrong channel count, or an image too small for a layer."""


class BNInput(NamedTuple):
    """Input of one BatchNorm layer seen during a forward pass (for the BN-statistics prior)."""

    name: str
    bn: nn.BatchNorm2d
    input: Tensor


class Backbone(nn.Module):
    """Frozen feature extractor with named layer taps.

    Attributes: ``name``, ``weights`` ("pretrained" or "random"), ``weights_file`` (path of the
    loaded checkpoint, ``None`` for random weights), ``layer_names`` (taps in forward order,
    aliases right after their target), ``mean``/``std`` (per-channel normalisation buffers, shape
    (3,), in [0, 1] units), ``input_size`` (typical square input side), ``num_classes``.
    """

    def __init__(
        self,
        name: str,
        weights: str,
        steps: Sequence[tuple[str, nn.Module]],
        *,
        mean: Sequence[float],
        std: Sequence[float],
        input_size: int,
        num_classes: int,
        aliases: Mapping[str, str] | None = None,
        weights_file: str | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.weights = weights
        self.weights_file = weights_file
        self.input_size = input_size
        self.num_classes = num_classes
        self.steps = nn.ModuleDict(steps)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        step_names = list(self.steps.keys())
        self._step_index = {n: i for i, n in enumerate(step_names)}
        self._canonical = {n: n for n in step_names}
        aliases = dict(aliases or {})
        for alias, target in aliases.items():
            if target not in self._step_index or alias in self._step_index:
                raise ValueError(f"bad alias {alias!r} -> {target!r} in backbone {name!r}")
            self._canonical[alias] = target
        self.layer_names: list[str] = []
        for n in step_names:
            self.layer_names.append(n)
            self.layer_names.extend(a for a, t in aliases.items() if t == n)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> Backbone:
        """Backbones stay in eval mode (BatchNorm uses running statistics, no dropout)."""
        return super().train(False)

    def normalize(self, x: Tensor) -> Tensor:
        """Map an RGB image in [0, 1] to the network's input space: (x - mean) / std."""
        return (x - self.mean.view(1, 3, 1, 1)) / self.std.view(1, 3, 1, 1)

    def _check_layers(self, layers: Sequence[str]) -> list[str]:
        if isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise BackboneInputError(f"no layer requested from {self.name}; valid: {', '.join(self.layer_names)}")
        unknown = [layer for layer in layers if layer not in self._canonical]
        if unknown:
            raise BackboneInputError(
                f"unknown layer(s) {', '.join(map(repr, unknown))} for backbone {self.name}; "
                f"valid layers: {', '.join(self.layer_names)}"
            )
        repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
        if repeated:
            raise BackboneInputError(f"layer(s) requested more than once: {', '.join(repeated)}")
        return layers

    def _too_small(self, x: Tensor, layers: Sequence[str], step: str, h: Tensor) -> BackboneInputError:
        return BackboneInputError(
            f"input of {x.shape[-2]}x{x.shape[-1]} px is too small for layer(s) {', '.join(layers)} of "
            f"{self.name}: the feature map entering step '{step}' is only {h.shape[-2]}x{h.shape[-1]}, smaller "
            f"than that step's window, so it would collapse to nothing; use a larger image (typical size "
            f"{self.input_size}) or a shallower layer"
        )

    def forward(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Return ``{layer: activation}`` for ``layers`` from one forward pass of ``x`` (B,3,H,W) in [0, 1]."""
        layers = self._check_layers(layers)
        if x.dim() != 4 or x.shape[1] != 3:
            raise BackboneInputError(f"{self.name} expects an RGB batch of shape (B,3,H,W), got {tuple(x.shape)}")
        wanted = {self._canonical[layer] for layer in layers}
        deepest = max(self._step_index[n] for n in wanted)
        h = self.normalize(x)
        taps: dict[str, Tensor] = {}
        for i, (name, step) in enumerate(self.steps.items()):
            entering = h
            try:
                h = step(entering)
            except RuntimeError as err:
                if entering.dim() == 4 and any(m in str(err).lower() for m in _TOO_SMALL_MESSAGES):
                    raise self._too_small(x, layers, name, entering) from err
                raise
            if h.dim() == 4 and min(h.shape[-2:]) == 0:
                raise self._too_small(x, layers, name, entering)
            if name in wanted:
                taps[name] = h
            if i == deepest:
                break
        return {layer: taps[self._canonical[layer]] for layer in layers}

    @torch.no_grad()
    def targets(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """``{layer: activation}`` without gradients: the fixed targets Φ_l(x0) of a feature term."""
        return self(x, list(layers))

    def logits(self, x: Tensor) -> Tensor:
        """Class logits (B, num_classes) of ``x`` in [0, 1]."""
        return self.forward(x, ["logits"])["logits"]

    def bn_layers(self) -> list[tuple[str, nn.BatchNorm2d]]:
        """All BatchNorm2d layers in forward order, with their module names."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, nn.BatchNorm2d)]

    @contextlib.contextmanager
    def capture_bn_inputs(self) -> Iterator[list[BNInput]]:
        """Within the block, every BatchNorm2d call appends a :class:`BNInput` to the yielded list.

        Used by the DeepInversion BN-statistics prior (:func:`netprior.losses.bn_statistics_prior`).
        """
        captured: list[BNInput] = []
        handles = []
        for name, bn in self.bn_layers():
            def hook(module: nn.Module, inputs: tuple[Tensor, ...], name: str = name) -> None:
                captured.append(BNInput(name, module, inputs[0]))

            handles.append(bn.register_forward_pre_hook(hook))
        try:
            yield captured
        finally:
            for handle in handles:
                handle.remove()

    def extra_repr(self) -> str:
        return f"name={self.name!r}, weights={self.weights!r}, taps={len(self.layer_names)}"
