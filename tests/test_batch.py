"""`netprior batch`: a folder processed by local worker processes, one output + sidecar per input mirroring the tree,
a manifest in which every input ends up exactly once, a bad file recorded without stopping the batch, a killed
worker's job rerun, and a rerun that skips what is done and retries what failed."""

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from batch_tasks import KILLER, make_folder
from helpers import run
from netprior.batch import LocalExecutor, Task, run_batch
from netprior.batch.manifest import ManifestWriter, read_records
from netprior.cli.batch import IMAGE_SUFFIXES
from netprior.io import save_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GOOD = ["a.png", "sub/b.png", "sub/c.tif"]


def killer_task(tmp_path, **flags):
    return Task(name="restore denoise (dies once)", target=KILLER, input_param="image", suffixes=IMAGE_SUFFIXES,
                flags={"marker": str(tmp_path / "killed"), "iters": 2, "sigma": 25.0, **flags},
                preload=("netprior.recipes.dip",))


def check_exactly_once(out, records):
    """Every good input has exactly one ``done`` record with its files on disk; the corrupt one is ``failed``."""
    done = Counter(r["input"] for r in records if r["status"] == "done")
    assert done == Counter(GOOD)
    for r in records:
        if r["status"] == "done":
            assert all((out / f).is_file() for f in r["files"]) and r["metrics"]["steps"] == 2
            assert r["cpu_seconds"] > 0
    bad = [r for r in records if r["input"] == "bad.png"]
    assert len(bad) == 1 and bad[0]["status"] == "failed" and "\n" not in bad[0]["error"]
    assert bad[0]["error"].startswith(str(out.parent / "in" / "bad.png")) and "not an image" in bad[0]["error"]


def test_local_pool_survives_a_killed_worker_skips_done_and_retries_failed(tmp_path):
    src, out = make_folder(tmp_path / "in"), tmp_path / "out"
    task = killer_task(tmp_path)
    first = run_batch(task, src, out, LocalExecutor(workers=2, threads=1), echo=lambda s: None)
    assert (tmp_path / "killed").exists()  # a worker really died mid-run
    records = read_records(out / "manifest.jsonl")
    check_exactly_once(out, records)
    assert len(first.ran) == 4 and "notes.txt" not in {r["input"] for r in records}
    # the tree is mirrored, .tif becomes .png, and the sidecar is the single-image command's, with real paths
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.png")} == {"a.png", "sub/b.png", "sub/c.png"}
    meta = json.loads((out / "sub" / "c.json").read_text())
    assert meta["inputs"]["image"]["path"] == str((src / "sub" / "c.tif").resolve()) and meta["steps"] == 2
    assert meta["config"]["task"] == "denoise"
    assert "| done | 3 |" in (out / "summary.md").read_text()

    # rerun: the done inputs are skipped, the (now repaired) failed one is retried
    save_image(np.asarray(Image.open(src / "a.png")), src / "bad.png")
    second = run_batch(task, src, out, LocalExecutor(workers=1, threads=1), echo=lambda s: None)
    assert sorted(second.skipped) == sorted(GOOD) and [r["input"] for r in second.ran] == ["bad.png"]
    assert second.state["bad.png"]["status"] == "done"
    # a changed flag changes the config digest: nothing is skipped then
    from netprior.batch.driver import plan

    todo, done, _ = plan(killer_task(tmp_path, seed=1), src, out)
    assert len(todo) == 4 and not done


def test_batch_cli_output_equals_the_single_image_command(monkeypatch, capsys, tmp_path):
    src, out = make_folder(tmp_path / "in"), tmp_path / "out"
    code, stdout, err = run(monkeypatch, capsys, "batch", "restore", "jpeg", src, "-o", out, "--workers", "1",
                            "--iters", "2", "--seed", "3")
    assert code == 1, err  # one input failed
    assert "| done | 3 |" in stdout and "| failed | 1 |" in stdout and "bad.png" in stdout
    single = tmp_path / "single.png"
    assert run(monkeypatch, capsys, "restore", "jpeg", src / "sub" / "b.png", "-o", single, "--iters", "2",
               "--seed", "3", "-q")[0] == 0
    # the same code on the same seed; a worker process rounds a few sums differently (measured: 2 of 12288 values
    # one grey level apart; two fresh CLI processes agree exactly)
    a, b = np.asarray(Image.open(single)).astype(int), np.asarray(Image.open(out / "sub" / "b.png")).astype(int)
    assert np.abs(a - b).max() <= 1 and (a != b).mean() < 0.005


@pytest.mark.parametrize("args, message", [
    (["restore", "denoise", "{missing}", "-o", "{out}"], "not a folder"),
    (["restore", "denoise", "{src}", "-o", "{src}"], "output folder is the input folder"),
    (["restore", "denoise", "{src}", "-o", "{out}", "--workers", "64"], "exceeds"),
    (["restore", "denoise", "{src}", "-o", "{out}", "--gpus-per-task", "1", "--device", "cuda"], "needs --ray"),
    (["texture", "sample", "{src}", "-o", "{out}"], "no input files"),
])
def test_batch_bad_input_exits_2_with_one_line(monkeypatch, capsys, tmp_path, args, message):
    src = tmp_path / "in"
    src.mkdir()
    (src / "x.png").write_bytes(b"")
    paths = {"missing": tmp_path / "nope", "src": src, "out": tmp_path / "out"}
    code, _, err = run(monkeypatch, capsys, "batch", *[a.format(**paths) for a in args])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_manifest_tolerates_a_torn_last_line_and_cuts_it_before_appending(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"input": "a.png", "status": "done"}\n{"input": "b.png", "sta')
    assert read_records(path) == [{"input": "a.png", "status": "done"}]
    with ManifestWriter(path) as m:
        m.append({"input": "b.png", "status": "failed"})
    assert [r["input"] for r in read_records(path)] == ["a.png", "b.png"]
    assert path.read_bytes().count(b"\n") == 2
    with ManifestWriter(path):
        with pytest.raises(Exception, match="another batch"):
            ManifestWriter(path).__enter__()
