"""Residual generator without down-sampling (the "ResNet" of thesis Fig. 7.8 / DIP reference ``resnet.py``):

    h0 = act(conv3(z));  h_{k+1} = h_k + BN(conv3(act(BN(conv3(h_k)))));  x = sigmoid(conv3(BN(conv3(h_K))))."""

from __future__ import annotations

from torch import nn

from .layers import act, conv, norm


class _Residual(nn.Module):
    def __init__(self, c: int, pad: str, normalization: str, activation: str):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3, pad=pad, bias=False), norm(c, normalization), act(activation),
                                  conv(c, c, 3, pad=pad, bias=False), norm(c, normalization))

    def forward(self, x):
        return x + self.body(x)


def resnet(in_channels: int = 32, out_channels: int = 3, *, blocks: int = 8, channels: int = 32,
           pad: str = "reflection", normalization: str = "batch", activation: str = "LeakyReLU",
           sigmoid: bool = True) -> nn.Sequential:
    """Build the residual generator (full resolution throughout; ``blocks`` residual blocks of ``channels``)."""
    layers: list[nn.Module] = [conv(in_channels, channels, 3, pad=pad), act(activation)]
    layers += [_Residual(channels, pad, normalization, activation) for _ in range(blocks)]
    layers += [conv(channels, channels, 3, pad=pad), norm(channels, normalization),
               conv(channels, out_channels, 3, pad=pad)]
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)
