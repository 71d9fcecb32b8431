"""Feed-forward generators for texture synthesis and stylisation (Ulyanov et al., thesis ch. 2 and 3).

Every generator maps noise (and, for stylisation, a content image) to an RGB image in [0, 1] and shares one
interface: ``make_noise(batch, size, scale=1)`` draws the noise from the global torch RNG (so seeds and solver
checkpoints reproduce it), ``forward(noise, content=None)`` renders, ``check_size(size)`` raises
:class:`~netprior.errors.InputError` for an output size the architecture cannot produce, ``config`` holds the
constructor arguments, so ``GENERATORS[arch](**config)`` rebuilds it.

* :class:`TextureNet` — the multi-scale texture network of §2.3.2 (Fig. 2.2).  K noise tensors z_i of
  M/2^i × M/2^i, i = 0 … K−1, i.i.d. U(0, 1); each goes through a conv block (3×3, 3×3, 1×1 convolutions, each
  followed by normalisation and ReLU, circular padding); from the coarsest scale up, the running tensor is
  upsampled ×2 (nearest), both it and the next scale's block output are normalised right before their channel
  concatenation, and the concatenation goes through another conv block.  Channels grow 8, 16, …, 8K (8 → 40 for
  K = 5); a final 1×1 convolution maps to RGB.  The thesis numbers the noise tensors i = 1 … K at M/2^i; we follow
  the authors' code (``pyramid.lua``, ratios 2^(K−1) … 1), in which the finest tensor is at full resolution, so
  the full-resolution stage is also excited by noise.  Being fully convolutional with circular padding, the
  network samples seamlessly tiling textures of any size that is a multiple of 2^(K−1).
* :class:`StylisationNet` — the same architecture with K = 6, where each scale's noise is concatenated with the
  content image average-pooled to that scale (§2.3.3, Fig. 2.5).  Padding defaults to reflection because content
  images are not periodic (the thesis blames boundary effects for stylisation errors, §3.4).
* :class:`TextureNetV2` — the high-capacity texture generator of §3.5.1.1: a 256-d N(0, I) noise vector, two fully
  connected layers (ReLU), reshaped to 4×4, then ×2 upsampling stages (norm, ReLU) up to the training size, which
  is therefore the only size it produces.  ``upsample="transposed"`` is the thesis' fractionally strided 4×4
  convolution (stride 2) as in DCGAN: even and odd output pixels are made by disjoint halves of its kernel, so
  unless training makes them agree every stage can print a period-2 pattern, and stacked stages a grid (Odena et
  al. 2016, "Deconvolution and checkerboard artifacts").  ``upsample="resize"`` (nearest-neighbour ×2, then a 3×3
  convolution with reflection padding) has no such parity dependence; :func:`netprior.texture_metrics.grid_strength`
  measures the grid.  Two additions of ours (off in the class, on in ``recipes.texture`` for new models; measured in
  docs/methods/texture.md): ``stage_noise`` = k concatenates k channels of N(0, I) noise to the input of every
  upsampling convolution (after the nearest-neighbour ×2 of "resize"), so that randomness reaches every scale as in
  TextureNet v1 — with z only at the fully connected input a trained network drew one layout for all z and bought
  its diversity with blotches; ``output_leak`` = ε gives the output sigmoid the backward slope σ' + ε
  (:func:`leaky_sigmoid`), so that a region whose logits ran to −20 … −90 (a black or white blotch, σ' ≈ 10⁻⁹) can
  still be pulled back by the loss.
* :class:`StyleNet` — the residual transformer of Johnson et al. (2016) used in §3.5: 9×9 conv, two stride-2 3×3
  convs, R residual blocks, two fractionally strided 3×3 convs, 9×9 conv to RGB, reflection padding, with
  instance (StyleNet IN) or batch normalisation (StyleNet BN); its input is the content image concatenated with
  N(0, I) noise channels (the Julesz stylisation generator g(x0, z) of §3.3).  Its fractionally strided 3×3
  convolutions (stride 2) print a period-2 checkerboard that Lite0 hardly sees (measured: docs/methods/texture.md);
  ``upsample="resize"`` replaces them as in TextureNetV2.  ``content_skip=True`` (our addition) adds the content
  image's logit to the output's, x = σ(logit(y) + f(y, z)), so the content's layout reaches the output from the
  first step and f learns the stylisation as a residual: from random weights the plain transformer needs
  thousands of steps before its output shows the content at all (at 64 px, 100 Adam steps on the content loss
  alone left a relative content error of 0.59).  f is Xavier-initialised like every layer: with its last
  convolution at zero (an identity start) the outputs stayed the content plus a colour blob after 300 steps
  (docs/methods/texture.md, "StyleNet at a CPU budget").

Normalisation is :func:`netprior.nets.layers.norm`: ``"instance"`` is ``nn.InstanceNorm2d(affine=True,
track_running_stats=False)``, i.e. eq. 3.12 followed by s ⊙ x + b, computed from each image alone in training and
at test time alike; ``"batch"`` is BatchNorm (running statistics in eval mode).

Decisions where the thesis is silent: outputs pass through a sigmoid so that the descriptor sees images in its
[0, 1] input range (the reference code's linear output lived in VGG's mean-subtracted space); weights are
initialised with Xavier's method (§2.4.1) in every generator, biases at zero.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from ..inputs import size_pair
from .layers import conv, norm


UPSAMPLERS = ("transposed", "resize")


def _xavier(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Generator(nn.Module, abc.ABC):
    """Common interface of the texture/stylisation generators (see the module docstring)."""

    conditional = False  # True when forward() needs a content image

    def __init__(self, **config) -> None:
        super().__init__()
        self.config = dict(config)

    @abc.abstractmethod
    def make_noise(self, batch: int, size: int | tuple[int, int], *, scale: float = 1.0,
                   device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> Tensor | list[Tensor]:
        """Noise for ``batch`` outputs of ``size`` (H, W), drawn from ``generator`` (else the global RNG) and
        multiplied by ``scale``."""

    @abc.abstractmethod
    def check_size(self, size: int | tuple[int, int]) -> tuple[int, int]:
        """Return ``size`` as (H, W), or raise InputError when the architecture cannot produce it."""


def upsampler(cin: int, cout: int, kind: str) -> list[nn.Module]:
    """×2 upsampling from ``cin`` to ``cout`` channels: the fractionally strided convolution of the thesis
    (``"transposed"``, 4×4 kernel, stride 2) or nearest-neighbour ×2 followed by a 3×3 convolution with reflection
    padding (``"resize"``, no period-2 pattern; see the module docstring)."""
    if kind == "transposed":
        return [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)]
    if kind == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), conv(cin, cout, 3, pad="reflection")]
    raise InputError(f"upsample must be one of {', '.join(UPSAMPLERS)}, got {kind!r}")


def leaky_sigmoid(logits: Tensor, leak: float) -> Tensor:
    """σ(l) in the forward pass; in the backward pass dσ/dl + ``leak``, so a region whose logits ran far from 0 (σ
    saturated at 0 or 1, σ'(−20) ≈ 2·10⁻⁹) still receives the loss's gradient and can come back.  ``leak`` = 0 is
    the plain sigmoid."""
    y = torch.sigmoid(logits)
    return y + leak * (logits - logits.detach()) if leak else y


def _conv_block(cin: int, cout: int, pad: str, normalization: str) -> nn.Sequential:
    """3×3, 3×3, 1×1 convolutions, each followed by normalisation and ReLU (§2.3.2.1)."""
    layers: list[nn.Module] = []
    for k, c_in in ((3, cin), (3, cout), (1, cout)):
        layers += [conv(c_in, cout, k, pad=pad), norm(cout, normalization), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class MultiScaleGenerator(Generator):
    """The multi-scale architecture of Fig. 2.2, shared by :class:`TextureNet` and :class:`StylisationNet`."""

    def __init__(self, *, scales: int, channels: int = 8, noise_channels: int = 3, content_channels: int = 0,
                 normalization: str = "batch", pad: str = "circular") -> None:
        super().__init__(scales=scales, channels=channels, noise_channels=noise_channels,
                         content_channels=content_channels, normalization=normalization, pad=pad)
        if scales < 1:
            raise InputError(f"a multi-scale generator needs at least one scale, got {scales}")
        if noise_channels < 0 or content_channels < 0 or noise_channels + content_channels == 0:
            raise InputError("the generator needs noise or content channels as input")
        self.scales, self.noise_channels, self.content_channels = scales, noise_channels, content_channels
        cin = noise_channels + content_channels
        # branches[i] processes scale i (0 = finest, M × M; K−1 = coarsest, M/2^(K−1)).
        self.branches = nn.ModuleList(_conv_block(cin, channels, pad, normalization) for _ in range(scales))
        self.branch_norms = nn.ModuleList(norm(channels, normalization) for _ in range(scales - 1))
        joins, join_norms = [], []
        for level in range(1, scales):  # level = number of scales merged so far
            join_norms.append(norm(channels * level, normalization))
            joins.append(_conv_block(channels * (level + 1), channels * (level + 1), pad, normalization))
        self.join_norms, self.joins = nn.ModuleList(join_norms), nn.ModuleList(joins)
        self.to_rgb = nn.Conv2d(channels * scales, 3, 1)
        _xavier(self)

    @property
    def multiple(self) -> int:
        """Output sides must be multiples of this (2^(K−1))."""
        return 2 ** (self.scales - 1)

    def check_size(self, size: int | tuple[int, int]) -> tuple[int, int]:
        h, w = size_pair(size)
        m = self.multiple
        for side in (h, w):
            if side < m or side % m:
                lo, hi = max(m, side // m * m), (side // m + 1) * m
                raise InputError(f"size {side} is not reachable by this {self.scales}-scale generator: sides must "
                                 f"be multiples of {m} (e.g. {lo} or {hi})")
        return h, w

    def make_noise(self, batch: int, size: int | tuple[int, int], *, scale: float = 1.0,
                   device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> list[Tensor]:
        """z_i ~ U(0, 1)·scale of shape (batch, noise_channels, H/2^i, W/2^i), finest first."""
        h, w = self.check_size(size)
        return [torch.rand(batch, self.noise_channels, h >> i, w >> i, device=device, generator=generator) * scale
                for i in range(self.scales)]

    def forward(self, noise: list[Tensor], content: Tensor | None = None) -> Tensor:
        if len(noise) != self.scales:
            raise ValueError(f"expected {self.scales} noise tensors, got {len(noise)}")
        if (content is not None) != bool(self.content_channels):
            raise ValueError("content image given to an unconditional generator or missing for a conditional one")

        def inputs(i: int) -> Tensor:
            if content is None:
                return noise[i]
            y = F.avg_pool2d(content, 2 ** i) if i else content
            return torch.cat([y, noise[i]], 1) if self.noise_channels else y

        x = self.branches[-1](inputs(self.scales - 1))
        for level in range(1, self.scales):
            i = self.scales - 1 - level
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            branch = self.branch_norms[i](self.branches[i](inputs(i)))
            x = self.joins[level - 1](torch.cat([self.join_norms[level - 1](x), branch], 1))
        return torch.sigmoid(self.to_rgb(x))


class TextureNet(MultiScaleGenerator):
    """Texture network of §2.3.2: K = 5 noise scales, channels 8 → 40, circular padding."""

    def __init__(self, *, scales: int = 5, channels: int = 8, noise_channels: int = 3,
                 normalization: str = "batch", pad: str = "circular") -> None:
        super().__init__(scales=scales, channels=channels, noise_channels=noise_channels, content_channels=0,
                         normalization=normalization, pad=pad)
        self.config.pop("content_channels")


class StylisationNet(MultiScaleGenerator):
    """Stylisation network of §2.3.3: K = 6 scales, each fed the pooled content image and noise."""

    conditional = True

    def __init__(self, *, scales: int = 6, channels: int = 8, noise_channels: int = 3,
                 normalization: str = "batch", pad: str = "reflection") -> None:
        super().__init__(scales=scales, channels=channels, noise_channels=noise_channels, content_channels=3,
                         normalization=normalization, pad=pad)
        self.config.pop("content_channels")


class TextureNetV2(Generator):
    """TextureNetV2 of §3.5.1.1: z ∈ R^256 ~ N(0, I) → FC → FC → 4×4 map → fractionally strided convs → RGB;
    with ``stage_noise`` = k > 0 also k channels of N(0, I) noise concatenated to the input of every upsampling
    stage (our addition, see the module docstring)."""

    def __init__(self, *, size: int = 128, noise_dim: int = 256, hidden: int = 256, width: int = 256,
                 min_width: int = 32, normalization: str = "batch", upsample: str = "transposed",
                 stage_noise: int = 0, output_leak: float = 0.0) -> None:
        super().__init__(size=size, noise_dim=noise_dim, hidden=hidden, width=width, min_width=min_width,
                         normalization=normalization, upsample=upsample, stage_noise=stage_noise,
                         output_leak=output_leak)
        if output_leak < 0:
            raise InputError(f"output_leak must be >= 0, got {output_leak}")
        self.output_leak = output_leak
        if upsample not in UPSAMPLERS:
            raise InputError(f"upsample must be one of {', '.join(UPSAMPLERS)}, got {upsample!r}")
        if stage_noise < 0:
            raise InputError(f"stage_noise (noise channels per upsampling stage) must be >= 0, got {stage_noise}")
        ups = math.log2(size / 4) if size >= 4 else -1
        if ups < 0 or ups != int(ups):
            raise InputError(f"TextureNetV2 produces sizes 4·2^n (8, 16, …, 128, 256, …), got {size}")
        self.size, self.noise_dim, self.width, self.stage_noise = size, noise_dim, width, stage_noise
        self.fc = nn.Sequential(nn.Linear(noise_dim, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, width * 16), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        # Where the stage noise enters: the index in body of each stage's convolution (after the nearest-neighbour
        # ×2 of "resize", so the noise is not blown up into 2×2 blocks) and the side of that convolution's input.
        self.noise_entries: list[tuple[int, int]] = []
        c = width
        for i in range(int(ups)):
            c_out = max(min_width, c // 2)
            resize = upsample == "resize"
            self.noise_entries.append((len(layers) + resize, 4 << (i + resize)))
            layers += [*upsampler(c + stage_noise, c_out, upsample), norm(c_out, normalization), nn.ReLU(inplace=True)]
            c = c_out
        layers.append(conv(c, 3, 3, pad="reflection"))
        self.body = nn.Sequential(*layers)
        _xavier(self)

    def check_size(self, size: int | tuple[int, int]) -> tuple[int, int]:
        h, w = size_pair(size)
        if (h, w) != (self.size, self.size):
            raise InputError(f"size {h}x{w} is not reachable by TextureNetV2: its fully connected input layers fix "
                             f"the output at the training size {self.size}x{self.size}")
        return h, w

    def make_noise(self, batch: int, size: int | tuple[int, int], *, scale: float = 1.0,
                   device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> Tensor | list[Tensor]:
        """z ~ N(0, I)·scale of shape (batch, noise_dim); with ``stage_noise`` the list [z, n_1, n_2, …], n_i ~
        N(0, I)·scale of shape (batch, stage_noise, s_i, s_i), s_i the input side of stage i's convolution."""
        self.check_size(size)
        z = torch.randn(batch, self.noise_dim, device=device, generator=generator) * scale
        if not self.stage_noise:
            return z
        return [z] + [torch.randn(batch, self.stage_noise, side, side, device=device, generator=generator) * scale
                      for _, side in self.noise_entries]

    def forward(self, noise: Tensor | list[Tensor], content: Tensor | None = None) -> Tensor:
        if content is not None:
            raise ValueError("TextureNetV2 takes no content image")
        z, *maps = noise if self.stage_noise else [noise]
        if len(maps) != (len(self.noise_entries) if self.stage_noise else 0):
            raise ValueError(f"expected z and {len(self.noise_entries)} stage noise maps, got {len(maps)} maps")
        h = self.fc(z).view(z.shape[0], self.width, 4, 4)
        starts = {index: n for (index, _), n in zip(self.noise_entries, maps)}
        for i, layer in enumerate(self.body):
            h = layer(torch.cat([h, starts[i]], 1) if i in starts else h)
        return leaky_sigmoid(h, self.output_leak)


class _Residual(nn.Module):
    def __init__(self, c: int, normalization: str) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3, pad="reflection"), norm(c, normalization), nn.ReLU(inplace=True),
                                  conv(c, c, 3, pad="reflection"), norm(c, normalization))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class StyleNet(Generator):
    """StyleNet (Johnson et al. 2016 transformer) with instance ("instance") or batch ("batch") normalisation."""

    conditional = True

    def __init__(self, *, width: int = 32, res_blocks: int = 5, noise_channels: int = 3,
                 normalization: str = "instance", upsample: str = "transposed", content_skip: bool = False) -> None:
        super().__init__(width=width, res_blocks=res_blocks, noise_channels=noise_channels,
                         normalization=normalization, upsample=upsample, content_skip=content_skip)
        self.content_skip = content_skip
        if upsample not in UPSAMPLERS:
            raise InputError(f"upsample must be one of {', '.join(UPSAMPLERS)}, got {upsample!r}")
        self.noise_channels = noise_channels
        w = width

        def cna(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
            return [conv(cin, cout, k, stride, pad="reflection"), norm(cout, normalization), nn.ReLU(inplace=True)]

        def up(cin: int, cout: int) -> list[nn.Module]:
            if upsample == "transposed":  # Johnson et al.'s 3×3 kernel, stride 2
                layers = [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)]
            else:
                layers = upsampler(cin, cout, upsample)
            return [*layers, norm(cout, normalization), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *cna(3 + noise_channels, w, 9), *cna(w, 2 * w, 3, 2), *cna(2 * w, 4 * w, 3, 2),
            *[_Residual(4 * w, normalization) for _ in range(res_blocks)],
            *up(4 * w, 2 * w), *up(2 * w, w), conv(w, 3, 9, pad="reflection"))
        _xavier(self)

    multiple = 4  # output sides must be multiples of this (two stride-2 stages)

    def check_size(self, size: int | tuple[int, int]) -> tuple[int, int]:
        h, w = size_pair(size)
        for side in (h, w):
            if side < 8 or side % 4:
                raise InputError(f"size {side} is not reachable by StyleNet: sides must be multiples of 4 and at "
                                 f"least 8 (two stride-2 stages)")
        return h, w

    def make_noise(self, batch: int, size: int | tuple[int, int], *, scale: float = 1.0,
                   device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
        h, w = self.check_size(size)
        return torch.randn(batch, self.noise_channels, h, w, device=device, generator=generator) * scale

    def forward(self, noise: Tensor, content: Tensor | None = None) -> Tensor:
        if content is None:
            raise ValueError("StyleNet needs a content image")
        out = self.body(torch.cat([content, noise], 1) if self.noise_channels else content)
        if self.content_skip:
            out = out + torch.logit(content.clamp(0, 1), eps=1e-3)
        return torch.sigmoid(out)


GENERATORS: dict[str, type[Generator]] = {
    "texture_net": TextureNet,
    "stylisation_net": StylisationNet,
    "texture_net_v2": TextureNetV2,
    "style_net": StyleNet,
}


def build_generator(arch: str, **config) -> Generator:
    """Build a generator by name (``texture_net``, ``stylisation_net``, ``texture_net_v2``, ``style_net``)."""
    if arch not in GENERATORS:
        raise InputError(f"unknown generator architecture {arch!r}; valid: {', '.join(GENERATORS)}")
    try:
        return GENERATORS[arch](**config)
    except TypeError as exc:
        raise InputError(f"bad options for generator {arch!r}: {exc}") from None
