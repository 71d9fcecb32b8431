"""The CLI writes its files and answers bad input with one clear line and exit status 2 (no traceback)."""

import json

import numpy as np
import pytest
from PIL import Image

from helpers import run


@pytest.fixture
def img(photo64_png):
    return photo64_png


def test_denoise_writes_image_sidecar_and_report(monkeypatch, capsys, tmp_path, img):
    out = tmp_path / "res" / "den.png"
    code, stdout, _ = run(monkeypatch, capsys, "restore", "denoise", img, "-o", out, "--iters", "3", "--report",
                          "--quiet", "--reference", img, "--seed", "5")
    assert code == 0, stdout
    assert out.exists() and out.with_suffix(".report.png").exists()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["seed"] == 5 and meta["steps"] == 3 and "psnr" in meta["metrics"]
    assert meta["versions"]["torch"] and meta["inputs"]["image"]["sha256"]
    assert meta["config"]["preset"]["name"] == "denoise-sure" and meta["peak_memory_mb"] > 0


@pytest.mark.parametrize("cmd", [["restore", "jpeg"], ["restore", "super-resolve", "--factor", "2"],
                                 ["restore", "inpaint", "--drop", "0.5"], ["restore", "inpaint", "--text", "hi"],
                                 ["restore", "fit"]])
def test_each_restore_command_writes_its_outputs(monkeypatch, capsys, tmp_path, img, cmd):
    out = tmp_path / "o.png"
    code, stdout, err = run(monkeypatch, capsys, *cmd, img, "-o", out, "--iters", "2", "--quiet")
    assert code == 0, err
    assert out.exists() and out.with_suffix(".json").exists()
    if "super-resolve" in cmd:
        assert Image.open(out).size == (128, 128)


def test_flash_no_flash_and_degrade(monkeypatch, capsys, tmp_path, img):
    noisy = tmp_path / "noisy.png"
    assert run(monkeypatch, capsys, "degrade", img, "-o", noisy, "--noise", "25")[0] == 0
    out = tmp_path / "fnf.png"
    code, _, err = run(monkeypatch, capsys, "restore", "flash-no-flash", img, noisy, "-o", out, "--iters", "2", "-q")
    assert code == 0, err and out.exists()


def test_bad_inputs_exit_2_with_a_message(monkeypatch, capsys, tmp_path, img):
    cases = []
    cases.append((["restore", "denoise", tmp_path / "missing.png"], "no such file"))
    (tmp_path / "trunc.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    cases.append((["restore", "denoise", tmp_path / "trunc.jpg"], "trunc.jpg"))
    cases.append((["restore", "denoise", img, "-o", img], "is an input"))
    cases.append((["restore", "denoise", img, "--max-side", "32"], "--max-side"))
    Image.fromarray(np.zeros((10, 10), np.uint8) + 255).save(tmp_path / "small_mask.png")
    cases.append((["restore", "inpaint", img, "--mask", tmp_path / "small_mask.png"], "same size"))
    grey = np.full((64, 64), 255, np.uint8)
    grey[:5] = 100
    Image.fromarray(grey).save(tmp_path / "grey_mask.png")
    cases.append((["restore", "inpaint", img, "--mask", tmp_path / "grey_mask.png"], "not binary"))
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "black_mask.png")
    cases.append((["restore", "inpaint", img, "--mask", tmp_path / "black_mask.png"], "all black"))
    cases.append((["restore", "inpaint", img], "exactly one of"))
    cases.append((["restore", "super-resolve", img, "--factor", "5"], "factor"))
    cases.append((["restore", "denoise", img, "--preset", "nope"], "unknown preset"))
    cases.append((["restore", "denoise", img, "--device", "cuda:7"], "cuda"))
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    cases.append((["restore", "denoise", tmp_path / "one.png"], "at least 2x2"))
    Image.new("RGB", (20, 20)).save(tmp_path / "tiny.png")
    cases.append((["restore", "denoise", tmp_path / "tiny.png"], "smaller than 32"))
    cases.append((["restore", "inpaint", img, "--drop", "0.5", "--preset", "inpaint-large"], "at least 256 pixels"))
    Image.new("RGB", (32, 32)).save(tmp_path / "p32.png")
    cases.append((["restore", "denoise", tmp_path / "p32.png"], "at least 64 pixels"))
    for args, message in cases:
        code, stdout, err = run(monkeypatch, capsys, *args, "-q", "--iters", "1")
        assert code == 2, (args, stdout, err)
        assert message in err and "Traceback" not in err, (args, err)
