import numpy as np
import pytest
import torch
from skimage import data

from netprior.backbones import get_backbone
from netprior.io import from_numpy, save_image


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


@pytest.fixture
def photo64_png(tmp_path, photo64):
    """``photo64`` written as an 8-bit PNG file, for the CLI tests."""
    return save_image(photo64, tmp_path / "photo.png")


@pytest.fixture(scope="session")
def lite0():
    """The offline EfficientNet-Lite0 classifier (frozen, eval mode), built once for the whole session."""
    return get_backbone("lite0")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for modules of small tensors (``pytestmark = pytest.mark.usefixtures(...)``): on a
    shared 2-core machine two spinning OpenMP threads cost up to 15× the CPU time of one there (measured: a Lite0
    step at 64 px took 3.5 s against 0.22 s under load); the previous setting is restored after the module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
