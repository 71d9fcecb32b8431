"""The DIP encoder–decoder with skip connections ("skip", thesis §7 and supplementary material), and the
hourglass without skips (the same network with every skip width set to 0).

For scale i (0 = finest) with widths n_d[i], n_u[i], n_s[i]:

    skip_i  = act(BN(conv_{k_s}(h_i → n_s[i])))                         (absent when n_s[i] = 0)
    down_i  = act(BN(conv_{k_d}(act(BN(conv_{k_d, stride 2}(h_i → n_d[i]))) → n_d[i])))
    deep_i  = up×2(scale_{i+1}(down_i))   (or up×2(down_i) at the coarsest scale)
    out_i   = [act(BN(conv_1(·)))]∘act(BN(conv_{k_u}(BN(concat(skip_i, deep_i)) → n_u[i])))

and the image is sigmoid(conv_1(out_0 → C_out)).
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from .layers import Concat, act, conv, norm


def _as_list(v, n: int, what: str) -> list[int]:
    v = [v] * n if isinstance(v, int) else list(v)
    if len(v) != n:
        raise ValueError(f"{what} must have one entry per scale ({n}), got {len(v)}")
    return v


def skip(in_channels: int = 32, out_channels: int = 3, *,
         channels_down: Sequence[int] = (128,) * 5, channels_up: Sequence[int] | None = None,
         channels_skip: Sequence[int] | int = 4, kernel_down: int = 3, kernel_up: int = 3, kernel_skip: int = 1,
         upsample: str | Sequence[str] = "bilinear", downsample: str = "stride", pad: str = "reflection",
         activation: str = "LeakyReLU", normalization: str = "batch", need_1x1_up: bool = True,
         sigmoid: bool = True, bias: bool = True) -> nn.Sequential:
    """Build the "skip" network; ``channels_skip=0`` gives the hourglass (see :func:`hourglass`).
    ``upsample`` is one mode for all scales or a list, finest scale first."""
    scales = len(channels_down)
    n_d = list(channels_down)
    n_u = _as_list(channels_up if channels_up is not None else n_d, scales, "channels_up")
    n_s = _as_list(channels_skip, scales, "channels_skip")
    modes = [upsample] * scales if isinstance(upsample, str) else list(upsample)
    if len(modes) != scales or any(m not in ("nearest", "bilinear") for m in modes):
        raise ValueError(f"upsample must be 'nearest'/'bilinear' or one such mode per scale, got {upsample!r}")

    def up(i: int) -> nn.Module:
        return nn.Upsample(scale_factor=2, mode=modes[i], **({"align_corners": False} if modes[i] == "bilinear" else {}))

    def level(i: int, cin: int) -> nn.Sequential:
        deeper = nn.Sequential(
            conv(cin, n_d[i], kernel_down, 2, bias=bias, pad=pad, downsample=downsample), norm(n_d[i], normalization),
            act(activation),
            conv(n_d[i], n_d[i], kernel_down, bias=bias, pad=pad), norm(n_d[i], normalization), act(activation),
        )
        if i + 1 < scales:
            deeper.append(level(i + 1, n_d[i]))
        deeper.append(up(i))
        k = n_u[i + 1] if i + 1 < scales else n_d[i]
        if n_s[i]:
            skip_branch = nn.Sequential(conv(cin, n_s[i], kernel_skip, bias=bias, pad=pad),
                                        norm(n_s[i], normalization), act(activation))
            body: nn.Module = Concat(skip_branch, deeper)
        else:
            body = deeper
        block = nn.Sequential(body, norm(n_s[i] + k, normalization),
                              conv(n_s[i] + k, n_u[i], kernel_up, bias=bias, pad=pad), norm(n_u[i], normalization),
                              act(activation))
        if need_1x1_up:
            block.extend([conv(n_u[i], n_u[i], 1, bias=bias, pad=pad), norm(n_u[i], normalization), act(activation)])
        return block

    net = nn.Sequential(level(0, in_channels), conv(n_u[0], out_channels, 1, bias=bias, pad=pad))
    if sigmoid:
        net.append(nn.Sigmoid())
    return net


def hourglass(in_channels: int = 32, out_channels: int = 3, **kwargs) -> nn.Sequential:
    """Encoder–decoder without skip connections (thesis Fig. 7.8 "hourglass")."""
    kwargs["channels_skip"] = 0
    return skip(in_channels, out_channels, **kwargs)
