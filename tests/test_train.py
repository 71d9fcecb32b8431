"""Loop 2 (netprior.train): exact resume, accumulation and two-process DDP equal to one process, per-player
schedules, a DCGAN that learns its data's colours, and the `netprior train dcgan` command."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ddp_worker import run as ddp_run
from helpers import run
from PIL import Image

from netprior.data import ImageFolder
from netprior.dcgan_model import load_generator
from netprior.errors import InputError
from netprior.recipes.dcgan import DCGANConfig, generate, players, train_dcgan
from netprior.statefile import load_state, save_state
from netprior.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(size=16, nz=8, width=8, batch=8)


@pytest.fixture(scope="module")
def coll(tmp_path_factory):
    """40 noisy orange 20×20 images: a distribution whose mean colour is far from a fresh generator's grey."""
    root = tmp_path_factory.mktemp("coll")
    rng = np.random.default_rng(0)
    for i in range(40):
        a = np.clip(np.array([230, 120, 20]) + rng.normal(0, 20, (20, 20, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(root / f"{i:02d}.png")
    return root


def weights(nets):
    return {f"{n}.{k}": v.detach().clone() for n, m in nets.items() for k, v in m.state_dict().items()}


def assert_same(a, b, atol=0.0):
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst <= atol, worst


def test_resume_continues_exactly(coll, tmp_path):
    cfg = DCGANConfig(**TINY, iters=6, g_steps=2, r1=1.0, r1_every=2, accum=2, seed=1)
    data = ImageFolder(coll, 16, seed=1)
    straight = train_dcgan(data, cfg, device="cpu", progress=False, log=tmp_path / "a.jsonl")
    ckpt = tmp_path / "ck.safetensors"
    half = DCGANConfig(**{**cfg.__dict__, "iters": 3})
    train_dcgan(data, half, device="cpu", progress=False, checkpoint=ckpt, log=tmp_path / "b.jsonl")
    resumed = train_dcgan(data, cfg, device="cpu", progress=False, checkpoint=ckpt, log=tmp_path / "b.jsonl")
    assert resumed.result.iterations == 6
    assert_same(weights(straight.result.nets), weights(resumed.result.nets))
    assert_same(weights(straight.result.ema), weights(resumed.result.ema))
    assert not torch.equal(straight.generator.main[0].weight, players(cfg)[1].net.main[0].weight)  # it moved
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [x["iteration"] for x in lines] == [3, 6] and "D/penalty" in lines[0] and "G/loss" in lines[1]
    assert load_state(ckpt, kind="training-checkpoint", version=1)["iteration"] == 6


def test_mismatched_checkpoints_are_refused(coll, tmp_path):
    data = ImageFolder(coll, 16)
    ckpt = tmp_path / "ck.safetensors"
    train_dcgan(data, DCGANConfig(**TINY, iters=1), device="cpu", progress=False, checkpoint=ckpt)
    with pytest.raises(InputError, match="belongs to other networks"):
        train_dcgan(data, DCGANConfig(**{**TINY, "width": 4}, iters=2), device="cpu", progress=False,
                    checkpoint=ckpt)
    other = save_state(tmp_path / "solver.safetensors", {"step": 1}, kind="solver-checkpoint", version=2)
    with pytest.raises(InputError, match="solver-checkpoint file"):
        train_dcgan(data, DCGANConfig(**TINY, iters=2), device="cpu", progress=False, checkpoint=other)


def test_accumulation_gives_the_full_batch_step(coll):
    data = ImageFolder(coll, 16, seed=2)
    runs = [train_dcgan(data, DCGANConfig(**TINY, iters=3, accum=a, norm="none", seed=2), device="cpu",
                        progress=False).result for a in (1, 2, 4)]
    assert_same(weights(runs[0].nets), weights(runs[1].nets), atol=1e-6)
    assert_same(weights(runs[0].nets), weights(runs[2].nets), atol=1e-6)
    assert runs[2].images == runs[0].images == 24


def test_penalty_hook_changes_the_critic(coll):
    data = ImageFolder(coll, 16, seed=4)
    runs = {r1: train_dcgan(data, DCGANConfig(**TINY, iters=2, r1=r1, r1_every=1, seed=4), device="cpu",
                            progress=False).result for r1 in (0.0, 10.0)}
    assert runs[10.0].history["D/penalty"][-1] > 0 and "D/penalty" not in runs[0.0].history
    d0, d1 = runs[0.0].nets["D"].main[0].weight, runs[10.0].nets["D"].main[0].weight
    assert not torch.allclose(d0, d1)
    g0, g1 = runs[0.0].nets["G"].main[0].weight, runs[10.0].nets["G"].main[0].weight
    assert not torch.equal(g0, g1)  # G's second step already sees the other critic


def test_schedules_lr_and_step_counts(coll, tmp_path):
    cfg = DCGANConfig(**TINY, iters=5, seed=0)
    d, g = players(cfg)
    d.every, g.steps = 2, 3
    g.lr_schedule = lambda t: 1.0 / t
    r = train([d, g], ImageFolder(coll, 16), iters=5, batch=8, device="cpu", progress=False, log_every=1,
              log=tmp_path / "log.jsonl")
    assert r.images == 3 * 8  # only D draws real images: iterations 1, 3, 5
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [x["G/lr"] for x in lines] == pytest.approx([2e-4 / t for t in range(1, 6)])
    assert "D/loss" in lines[0] and "D/loss" not in lines[1]
    assert r.history["iteration"] == [1, 2, 3, 4, 5]


def test_dcgan_learns_the_colour_of_its_data(coll):
    data = ImageFolder(coll, 16, seed=0)
    real_mean = torch.stack([data[i] for i in range(len(data))]).mean(dim=(0, 2, 3))
    cfg = DCGANConfig(**TINY, iters=60, lr=2e-3, ema=None, seed=0)
    before = (generate(players(cfg)[1].net, 32).mean(dim=(0, 2, 3)) - real_mean).abs()
    run_ = train_dcgan(data, cfg, device="cpu", progress=False)
    after = (generate(run_.generator, 32).mean(dim=(0, 2, 3)) - real_mean).abs()
    assert before[0] > 0.3 and before[2] > 0.3  # grey start, orange data
    assert after[0] < 0.7 * before[0] and after[2] < 0.7 * before[2] and after[1] < 0.05, (before, after)


def test_two_processes_equal_one_process(coll, tmp_path, monkeypatch):
    """Two processes with torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT, LOCAL_RANK): this test
    process is rank 0, a subprocess rank 1 (one interpreter start less than `torchrun --nproc_per_node 2`)."""
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    dist_env = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
    env = {**os.environ, **dist_env, "RANK": "1", "LOCAL_RANK": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    rank1 = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ddp_worker.py")), str(coll), str(two),
                              "3", "8", "2"], env=env, stderr=subprocess.PIPE, text=True)
    with monkeypatch.context() as m:
        for k, v in {**dist_env, "RANK": "0", "LOCAL_RANK": "0"}.items():
            m.setenv(k, v)
        ddp_run(str(coll), str(two), 3, 8, 2)
    assert rank1.wait(timeout=120) == 0, rank1.stderr.read()[-3000:]
    assert not torch.distributed.is_initialized()
    ddp_run(str(coll), str(one), 3, 8, 2)
    a, b = load_state(one, kind="test-weights"), load_state(two, kind="test-weights")
    assert (a.pop("world"), b.pop("world")) == (1, 2)
    flat = lambda s: {f"{n}.{k}": v for n, sd in s.items() for k, v in sd.items()}  # noqa: E731
    assert_same(flat(a), flat(b), atol=1e-6)


def test_cli_trains_and_writes_its_files(monkeypatch, capsys, coll, tmp_path):
    out = tmp_path / "o" / "g.safetensors"
    code, stdout, err = run(monkeypatch, capsys, "train", "dcgan", "--data", coll, "--size", "16", "--width", "8",
                            "--nz", "8", "--batch", "8", "--iters", "4", "--sample-every", "2", "-o", out, "-q",
                            "--device", "cpu", "--seed", "4")
    assert code in (0, None), err
    for suffix in (".json", ".samples.png", ".report.png", ".log.jsonl"):
        assert out.with_suffix("").with_suffix(suffix).exists() if suffix != ".json" else out.with_suffix(suffix)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["iterations"] == 4 and meta["config"]["seed"] == 4 and meta["config"]["data"]["images"] > 30
    g = load_generator(out)
    assert g(torch.zeros(2, 8)).shape == (2, 3, 16, 16)
    assert Image.open(out.with_suffix("").with_suffix(".samples.png")).size == (128 + 18, 128 + 18)


def test_cli_bad_inputs_exit_2(monkeypatch, capsys, coll, tmp_path):
    empty, junk, small = tmp_path / "empty", tmp_path / "junk", tmp_path / "small"
    for d in (empty, junk, small):
        d.mkdir()
    (junk / "a.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(small / "s.png")
    base = ["train", "dcgan", "--size", "16", "--width", "8", "--nz", "8", "--iters", "1", "-q", "--device", "cpu",
            "-o", tmp_path / "g.safetensors"]
    ck = tmp_path / "ck.safetensors"
    assert run(monkeypatch, capsys, *base, "--data", coll, "--batch", "8", "--checkpoint", ck)[0] in (0, None)
    cases = {"no images found": ["--data", empty], "none could be decoded": ["--data", junk],
             "16x16": ["--data", small], "larger than the training set": ["--data", coll, "--batch", "64"],
             "belongs to other networks": ["--data", coll, "--batch", "8", "--width", "4", "--checkpoint", ck]}
    for message, args in cases.items():
        code, _, err = run(monkeypatch, capsys, *base, *args)
        assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err, (message, err)
