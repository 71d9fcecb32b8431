import numpy as np
import pytest
import torch
from PIL import Image

from netprior.errors import InputError
from netprior.io import to_numpy
from netprior.metrics import psnr
from netprior.operators import JPEG, Compose, Downsample, GaussianNoise, Grayscale, Mask, downsampling_taps


def _pil_down(x: torch.Tensor, t: int) -> np.ndarray:
    a = (to_numpy(x) * 255).round().astype(np.uint8)
    im = Image.fromarray(a).resize((a.shape[1] // t, a.shape[0] // t), Image.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255


@pytest.mark.parametrize("t", [2, 4])
def test_lanczos3_matches_pil(photo64, t):
    x = (photo64 * 255).round() / 255
    ours = to_numpy(Downsample(t, "lanczos3")(x))
    pil = _pil_down(x, t)
    b = 3  # PIL renormalises the kernel at borders, we replicate-pad: compare away from the border
    diff = np.abs(ours[b:-b, b:-b] - pil[b:-b, b:-b])
    # PIL rounds to 8 bits after each of its two passes, so ~0.3 grey levels on average is the floor.
    assert diff.max() < 2.0 / 255 and diff.mean() < 0.5 / 255
    assert np.abs(ours - pil).mean() < 0.6 / 255


def test_lanczos2_close_to_pil_and_paper_kernel(photo64):
    taps, left, right = downsampling_taps(4, "lanczos2")
    assert len(taps) == 16 and left == 6 and right == 6  # the reference's 4t taps, phase 0.5
    assert np.isclose(taps.sum(), 1) and np.allclose(taps, taps[::-1])
    ours = to_numpy(Downsample(4)(photo64))
    assert np.abs(ours - _pil_down(photo64, 4)).mean() < 3 / 255


def test_downsample_is_differentiable_and_linear(photo64):
    d = Downsample(4)
    x = photo64.clone().requires_grad_(True)
    d(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.allclose(d(2 * photo64), 2 * d(photo64), atol=1e-6)
    with pytest.raises(InputError):
        Downsample(2.5)


def test_gaussian_noise_level():
    op = GaussianNoise(25)
    x = torch.full((1, 3, 128, 128), 0.5)
    y = op.simulate(x, torch.Generator().manual_seed(0))
    assert abs((y - x).std().item() * 255 - 25) < 0.5
    assert torch.equal(op(x), x) and op.sigma == pytest.approx(25 / 255)
    y2 = op.simulate(x, torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)


def test_jpeg_simulation(photo64):
    y10 = JPEG(10).simulate(photo64)
    y90 = JPEG(90).simulate(photo64)
    assert psnr(y10, photo64) < psnr(y90, photo64) and psnr(y90, photo64) > 30
    assert torch.equal(JPEG(10)(photo64), photo64)
    with pytest.raises(InputError):
        JPEG(0)


def test_masks_bernoulli_text_blocks():
    g = torch.Generator().manual_seed(0)
    m = Mask.bernoulli((100, 100), 0.3, g)
    assert abs(1 - m.mask.mean().item() - 0.3) < 0.02
    x = torch.rand(1, 3, 100, 100)
    assert torch.equal(m(x), x * m.mask)
    t = Mask.text((64, 96), "hello")
    assert 0.0 < 1 - t.mask.mean().item() < 0.5
    for share in (0.12, 0.25, 0.40):
        b = Mask.blocks((64, 64), share, generator=torch.Generator().manual_seed(1))
        missing = 1 - b.mask.mean().item()
        assert share <= missing <= share + 64 / 4096 + 1e-6


def test_grayscale_and_compose(photo64):
    g = Grayscale()(photo64)
    assert g.shape == (1, 1, 64, 64)
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose(g, (photo64 * w).sum(1, keepdim=True))
    op = Compose(Downsample(2), GaussianNoise(10))
    y = op.simulate(photo64, torch.Generator().manual_seed(0))
    assert y.shape == (1, 3, 32, 32) and op.sigma == pytest.approx(10 / 255)
    assert psnr(y, Downsample(2)(photo64)) < 35
