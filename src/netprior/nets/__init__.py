"""Networks that are built, not loaded: DIP generators (skip, hourglass, U-Net, ResNet)."""

from .resnet import resnet
from .skip import hourglass, skip
from .unet import UNet

ARCHITECTURES = {"skip": skip, "hourglass": hourglass, "unet": UNet, "resnet": resnet}


def build(arch: str, in_channels: int, out_channels: int = 3, **kwargs):
    """Build a generator by architecture name (``skip``, ``hourglass``, ``unet``, ``resnet``)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](in_channels, out_channels, **kwargs)


__all__ = ["ARCHITECTURES", "UNet", "build", "hourglass", "resnet", "skip"]
