"""`netprior demo`: the first thing a newcomer runs writes every file it promises, a readable comparison, and says
where to look first."""

import json

from PIL import Image

from helpers import run


def test_demo_writes_its_files_and_a_readable_comparison(monkeypatch, capsys, tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = run(monkeypatch, capsys, "demo", "-o", out, "--iters", "3", "--device", "cpu", "-q")
    assert code == 0, err
    for name in ("noisy.png", "denoised.png", "denoised.json", "denoised.report.png", "comparison.png"):
        assert (out / name).exists(), name
    width, height = Image.open(out / "comparison.png").size
    assert width >= 3 * 250 and height >= 250  # three panels, each drawn large, not 3 x 96 px
    meta = json.loads((out / "denoised.json").read_text())
    assert meta["steps"] == 3 and meta["demo"]["sigma255"] == 25 and meta["config"]["preset"]["name"] == "denoise-sure"
    assert "did not fire within 3 steps" in stdout and stdout.strip().splitlines()[-1].startswith("open ")
