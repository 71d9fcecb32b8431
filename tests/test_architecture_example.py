"""docs/architecture.md's worked example: the code block is the file docs/examples/tv_denoise.py, and that one
file is a working method (presets registered, a Run returned, the noise actually reduced)."""

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from netprior.config import presets_for
from netprior.metrics import psnr
from netprior.operators import GaussianNoise

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "tv_denoise.py"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_document_shows_the_example_file_verbatim():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert EXAMPLE.read_text() in blocks


def test_the_one_file_method_runs_and_denoises(photo64):
    spec = importlib.util.spec_from_file_location("tv_denoise", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    y = GaussianNoise(25).simulate(photo64, torch.Generator().manual_seed(0))
    run = module.tv_denoise(y, reference=photo64)
    assert run.metrics["psnr"] > psnr(y, photo64) + 3.0  # 20.4 → 26.2 dB
    assert set(run.config["objective"]) == {"data", "tv"} and run.config["parametrization"] == "Pixels"
    assert run.result.history["tv"][-1] < run.result.history["tv"][0]
    assert "rof" in presets_for("tv-denoise")
