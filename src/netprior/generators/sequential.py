"""Any ``nn.Sequential`` generator as a :class:`~netprior.generators.base.SplitGenerator`.

Each child module is one stage, named by its key in the Sequential ("0", "1", … or the names of an OrderedDict).
The latent code (B, dim) is reshaped to ``input_shape`` (e.g. (100, 1, 1) for a DCGAN) before the first child.
"""

from __future__ import annotations

from torch import nn

from .base import LatentPrior, Plain, Reshape, SplitGenerator


class SequentialGenerator(SplitGenerator):
    """Wrap ``net`` (an ``nn.Sequential``) with its latent ``prior`` and output range; ``dense`` names the first
    projection layer (default: the first child)."""

    def __init__(self, net: nn.Sequential, prior: LatentPrior, *, image_size: tuple[int, int],
                 input_shape: tuple[int, ...] | None = None, output_range: tuple[float, float] = (-1.0, 1.0),
                 channels: int = 3, dense: str | None = None, name: str = "sequential"):
        children = list(net.named_children())
        if len(children) < 2:
            raise ValueError("the Sequential needs at least two children to be split")
        first_name, first = children[0]
        head = Plain(Reshape(*input_shape), first) if input_shape else Plain(first)
        stages = [(first_name, head)] + [(n, Plain(m)) for n, m in children[1:]]
        super().__init__(name, stages, prior, image_size=image_size, channels=channels, output_range=output_range,
                         dense=dense, source="nn.Sequential")
