"""``netprior gradcam`` and ``netprior invert-features``: files written, and bad input answered with one clear
line and exit status 2."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from helpers import run

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: see conftest.py


@pytest.fixture
def img(photo64_png):
    return photo64_png


@pytest.fixture
def cat(tmp_path):
    p = tmp_path / "cat.png"
    Image.fromarray(data.chelsea()[::2, ::2]).save(p)
    return p


def test_gradcam_prints_top5_and_writes_overlay_and_sidecar(monkeypatch, capsys, tmp_path, cat):
    out = tmp_path / "cam.png"
    code, stdout, _ = run(monkeypatch, capsys, "gradcam", cat, "-o", out)
    assert code == 0, stdout
    lines = stdout.splitlines()
    assert lines[0].startswith("1.  285 Egyptian cat") and lines[4].startswith("5.")
    probs = [float(line.split()[-1]) for line in lines[:5]]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0
    assert Image.open(out).size == Image.open(cat).size
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["class"] == 285 and meta["config"]["class_source"] == "top-1"
    assert meta["config"]["classified_size"][0] == 224 and len(meta["metrics"]["top"]) == 5
    assert meta["inputs"]["image"]["sha256"]


def test_gradcam_of_a_chosen_class_differs(monkeypatch, capsys, tmp_path, cat):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(monkeypatch, capsys, "gradcam", cat, "-o", a, "--layer", "stage6")[0] == 0
    code, stdout, _ = run(monkeypatch, capsys, "gradcam", cat, "-o", b, "--layer", "stage6", "--class", "967")
    assert code == 0 and "class 967 'espresso'" in stdout
    meta = json.loads(b.with_suffix(".json").read_text())
    assert meta["config"]["class"] == 967 and meta["metrics"]["class_probability"] < 0.01
    assert not np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


@pytest.mark.parametrize("args, message", [
    (["--layer", "pool"], "spatial"),
    (["--layer", "conv5_3"], "valid layers: stem"),
    (["--class", "1000"], "class must be an index in [0, 999]"),
    (["--backbone", "vgg"], "available: lite0"),
])
def test_gradcam_bad_input_exits_2(monkeypatch, capsys, tmp_path, img, args, message):
    code, _, err = run(monkeypatch, capsys, "gradcam", img, "-o", tmp_path / "o.png", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_invert_features_one_layer_writes_preimage_and_sidecar(monkeypatch, capsys, tmp_path, img):
    out = tmp_path / "pre.png"
    code, stdout, _ = run(monkeypatch, capsys, "invert-features", img, "--layer", "stage2", "--prior", "dip",
                          "--iters", "3", "-o", out, "--quiet", "--report", "--seed", "3")
    assert code == 0, stdout
    assert "relative feature error" in stdout and out.with_suffix(".report.png").exists()
    assert np.asarray(Image.open(out)).shape == (64, 64, 3)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["config"]["prior"] == "dip" and meta["config"]["layer"] == "stage2" and meta["steps"] == 3
    assert meta["config"]["seed"] == 3 and 0 < meta["metrics"]["relative_feature_error"]
    assert meta["final"]["data"] > 0


def test_invert_features_grid_writes_figure_table_and_sidecar(monkeypatch, capsys, tmp_path, img):
    out = tmp_path / "grid.png"
    code, stdout, _ = run(monkeypatch, capsys, "invert-features", img, "--layers", "stem,stage3", "--iters", "2",
                          "--longer-side", "48", "-o", out, "--quiet")
    assert code == 0, stdout
    assert out.exists() and Image.open(out).size[0] > Image.open(out).size[1]  # 3 columns, 2 rows
    md = out.with_suffix(".md").read_text()
    assert "| tv |" in md and "| dip |" in md and "stage3" in md
    meta = json.loads(out.with_suffix(".json").read_text())
    assert [(r["prior"], r["layer"]) for r in meta["table"]] == [("tv", "stem"), ("tv", "stage3"),
                                                                   ("dip", "stem"), ("dip", "stage3")]
    assert meta["image_size"] == [48, 48] and meta["config"]["priors"] == ["tv", "dip"]
    assert f"{meta['table'][3]['relative_feature_error']:.3f}" in md


def test_grey_input_is_replicated_to_rgb(monkeypatch, capsys, tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(data.camera()[200:264, 200:264]).save(grey)
    out = tmp_path / "g.png"
    code, stdout, err = run(monkeypatch, capsys, "invert-features", grey, "--layer", "stem", "--iters", "2",
                            "-o", out, "--quiet")
    assert code == 0 and "grey" in err
    assert np.asarray(Image.open(out)).shape == (64, 64, 3)


@pytest.mark.parametrize("args, message", [
    (["--layer", "stem", "--backbone", "lenet"], "unknown backbone 'lenet'; available: lite0"),
    (["--layer", "fc7"], "valid layers: stem, block0"),
    (["--layers", "stem,stage2,stem"], "requested more than once: stem"),
    (["--layers", "stem,,head"], "empty layer name"),
    (["--layer", "stem", "--layers", "head"], "exactly one of --layer"),
    ([], "exactly one of --layer"),
    (["--layer", "stem", "--prior", "both"], "--prior both draws the grid"),
    (["--layer", "stem", "--prior", "gan"], "unknown prior 'gan'"),
    (["--layer", "head", "--longer-side", "16"], "smaller than the receptive cell of layer(s) head (stride 32 px)"),
    (["--layer", "stem", "--max-side", "32"], "exceeds --max-side 32"),
    (["--layer", "stem", "--tv-weight", "-1"], "weights must be >= 0"),
])
def test_invert_features_bad_input_exits_2(monkeypatch, capsys, tmp_path, img, args, message):
    code, _, err = run(monkeypatch, capsys, "invert-features", img, "-o", tmp_path / "o.png", "--iters", "1",
                       "--quiet", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_weights_and_overwriting_the_input_exit_2(monkeypatch, capsys, tmp_path, img):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "empty-hub"))
    try:
        code, _, err = run(monkeypatch, capsys, "invert-features", img, "--layer", "conv1", "--backbone",
                           "alexnet", "-o", tmp_path / "o.png")
    finally:
        torch.hub.set_dir(old)
    assert code == 2 and "not available offline" in err and "alexnet" in err
    code, _, err = run(monkeypatch, capsys, "invert-features", img, "--layer", "stem", "-o", img)
    assert code == 2 and "is an input file" in err
