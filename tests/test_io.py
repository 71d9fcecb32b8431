import numpy as np
import pytest
import torch
from PIL import Image

from netprior.errors import InputError, ResourceError
from netprior.io import (check_output_path, check_size, load_image, load_image_and_alpha, load_mask, save_image,
                         validate_mask)


@pytest.fixture
def rgb():
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:120, 200:230])


@pytest.mark.parametrize("fmt,ext,tol", [("PNG", "png", 0), ("TIFF", "tif", 0), ("WEBP", "webp", 0),
                                         ("JPEG", "jpg", 6)])
def test_formats_round_trip(tmp_path, rgb, fmt, ext, tol):
    p = tmp_path / f"a.{ext}"
    Image.fromarray(rgb).save(p, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    x = load_image(p)
    assert x.shape == (1, 3, 20, 30) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    err = np.abs(x[0].permute(1, 2, 0).numpy() * 255 - rgb).mean()
    assert err <= tol


def test_sixteen_bit_grey_png_keeps_precision(tmp_path):
    a = (np.arange(40 * 50).reshape(40, 50) * 31 % 65536).astype(np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    x = load_image(p, mode="L")
    assert x.shape == (1, 1, 40, 50)
    assert np.allclose(x[0, 0].numpy() * 65535, a, atol=0.5)
    assert load_image(p).shape == (1, 3, 40, 50)  # grey replicated to RGB


def test_sixteen_bit_rgb_tiff(tmp_path):
    import tifffile

    a = np.random.default_rng(1).integers(0, 65536, (8, 9, 3), dtype=np.uint16)
    p = tmp_path / "c16.tif"
    tifffile.imwrite(p, a)
    x = load_image(p)
    assert np.allclose(x[0].permute(1, 2, 0).numpy() * 65535, a, atol=0.5)


def test_modes_are_converted_explicitly(tmp_path, rgb):
    Image.fromarray(rgb).convert("L").save(tmp_path / "l.png")
    lx = load_image(tmp_path / "l.png")
    assert torch.equal(lx[:, 0], lx[:, 1]) and torch.equal(lx[:, 1], lx[:, 2])
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (1, 3, 20, 30)
    rgba = np.dstack([rgb, np.where(np.arange(30) < 15, 255, 0).astype(np.uint8)[None].repeat(20, 0)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    x, alpha = load_image_and_alpha(tmp_path / "a.png")
    assert np.allclose(x[0].permute(1, 2, 0).numpy() * 255, rgb, atol=0.5)  # alpha dropped, colours kept
    assert alpha.shape == (1, 1, 20, 30) and alpha[..., :15].min() == 1 and alpha[..., 15:].max() == 0
    grey = load_image(tmp_path / "a.png", mode="L")
    assert grey.shape == (1, 1, 20, 30)


def test_missing_empty_corrupt_truncated(tmp_path, rgb):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(tmp_path / "empty.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="not an image"):
        load_image(tmp_path / "junk.png")
    Image.fromarray(rgb).resize((300, 200)).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        load_image(tmp_path / "trunc.jpg")
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    with pytest.raises(InputError, match="at least 2x2"):
        load_image(tmp_path / "one.png")


def test_masks(tmp_path):
    m = np.full((10, 12), 255, np.uint8)
    m[2:5, 3:7] = 0
    Image.fromarray(m).save(tmp_path / "m.png")
    t = load_mask(tmp_path / "m.png", (10, 12))
    assert t.shape == (1, 1, 10, 12) and t.sum() == 120 - 12
    with pytest.raises(InputError, match="same size"):
        load_mask(tmp_path / "m.png", (10, 13))
    m[0, 0] = 128
    Image.fromarray(m).save(tmp_path / "grey.png")
    with pytest.raises(InputError, match="not binary"):
        load_mask(tmp_path / "grey.png", (10, 12))
    t = load_mask(tmp_path / "grey.png", (10, 12), threshold=0.6)
    assert t[0, 0, 0, 0] == 0 and set(t.unique().tolist()) == {0.0, 1.0}
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(InputError, match="all black"):
        load_mask(tmp_path / "black.png")
    with pytest.raises(InputError, match="threshold"):
        validate_mask(torch.ones(1, 1, 3, 3), threshold=1.5)


def test_save_is_atomic_and_refuses_inputs(tmp_path, rgb):
    p = tmp_path / "sub" / "out.png"
    save_image(torch.rand(1, 3, 8, 8), p)
    assert p.exists() and [f.name for f in p.parent.iterdir()] == ["out.png"]
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    with pytest.raises(InputError, match="is an input"):
        check_output_path(src, [src])
    with pytest.raises(InputError, match="PNG"):
        check_output_path(tmp_path / "x.jpg", [src])
    with pytest.raises(ResourceError, match="--max-side"):
        check_size(3000, 2000, 1024, bytes_per_pixel=12000)
