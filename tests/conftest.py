import numpy as np
import pytest
import torch
from skimage import data

from netprior.io import from_numpy



def crop(a: np.ndarray, size: int, top: int, left: int) -> torch.Tensor:
    return from_numpy(a[top:top + size, left:left + size])


@pytest.fixture(scope="session")
def photo64() -> torch.Tensor:
    """A 64×64 crop of a real photo (the astronaut's face region, skimage.data)."""
    return crop(data.astronaut(), 64, 60, 190)


@pytest.fixture(scope="session")
def photo64b() -> torch.Tensor:
    """A 64×64 crop of another real photo (coffee cup, skimage.data)."""
    return crop(data.coffee(), 64, 100, 250)
