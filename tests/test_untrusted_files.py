"""Files a colleague, a download or a crash could produce: none runs code, each gives one line and exit 2."""

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netprior.errors import NetpriorError
from netprior.io import load_image, load_mask, save_image
from netprior.statefile import load_state, save_state
from netprior.weightfile import load_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _RunsCommand:
    """Unpickling this runs ``touch MARKER`` (the classic malicious pickle)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _short_str(s: str) -> bytes:
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def _protocol4_call(module: str, name: str, arg: str) -> bytes:
    """A hand-written protocol-4 pickle that calls module.name(arg); dotted names (``os.system`` inside
    ``torch.serialization``) reach callables through any module that imports them."""
    return b"\x80\x04" + _short_str(module) + _short_str(name) + b"\x93" + _short_str(arg) + b"\x85R."


def _crafted_files(folder: Path, marker: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {"zip": folder / "evil-zip.pt", "through-torch": folder / "evil-torch.pt",
             "posix": folder / "evil-posix.pt"}
    torch.save({"state_dict": {"w": torch.zeros(2)}, "config": _RunsCommand(marker)}, files["zip"])
    files["through-torch"].write_bytes(_protocol4_call("torch.serialization", "os.system", f"touch {marker}"))
    files["posix"].write_bytes(_protocol4_call("posix", "system", f"touch {marker}"))
    return files


def test_crafted_pickles_never_run_through_any_load_path(tmp_path, monkeypatch, capsys, photo64_png):
    marker = tmp_path / "PWNED"
    files = _crafted_files(tmp_path / "files", marker)
    for kind, evil in files.items():
        commands = {
            "checkpoint": ("restore", "denoise", photo64_png, "-o", tmp_path / "o.png", "--iters", "2",
                           "--checkpoint", evil, "-q"),
            "pggan weights": ("gan", "invert", photo64_png, "-o", tmp_path / "g.png", "--generator", "pggan",
                              "--weights", evil, "-q"),
            "texture model": ("texture", "sample", evil, "-o", tmp_path / "t.png"),
            "style model": ("style", "apply", evil, photo64_png, "-o", tmp_path / "s.png"),
        }
        for path_name, args in commands.items():
            code, _, err = run(monkeypatch, capsys, *args)
            assert not marker.exists(), f"{kind} pickle ran code through the {path_name} path"
            assert code == 2, (kind, path_name, err)
            assert err.count("\n") == 1 and str(evil) in err, (kind, path_name, err)
    # The foreign-weights reader names the refused global before calling anything.
    for evil, name in ((files["zip"], "posix.system"), (files["through-torch"], "torch.serialization.os.system")):
        with pytest.raises(NetpriorError, match=f"refused: the file names the global {name}"):
            load_weights(evil, "pggan")
    assert not marker.exists()


def test_old_pickle_checkpoints_are_refused_with_a_version_message(tmp_path, monkeypatch, capsys, photo64_png):
    old = tmp_path / "old.ckpt"
    torch.save({"fingerprint": "x", "step": 1}, old)  # what netprior 0.1 wrote
    code, _, err = run(monkeypatch, capsys, "restore", "denoise", photo64_png, "-o", tmp_path / "o.png",
                       "--iters", "2", "--checkpoint", old, "-q")
    assert code == 2 and "unsupported checkpoint version" in err and err.count("\n") == 1
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"sixteen bytes!!!")
    code, _, err = run(monkeypatch, capsys, "restore", "denoise", photo64_png, "-o", tmp_path / "o.png",
                       "--iters", "2", "--checkpoint", junk, "-q")
    assert code == 2 and "not a checkpoint" in err and err.count("\n") == 1


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width×height 1-bit pixels, with a few bytes of data (a decompression bomb is
    this plus a long run of compressible zeros)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_decompression_bombs_and_bad_image_files_give_one_line(tmp_path, monkeypatch, capsys):
    bomb = _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    code, _, err = run(monkeypatch, capsys, "restore", "denoise", bomb, "-o", tmp_path / "o.png", "-q")
    assert code == 2 and err.count("\n") == 1
    assert "900 megapixels" in err and "--max-side" in err
    big = _png_header_only(tmp_path / "big.png", 10000, 10000)  # under Pillow's own guard, over --max-side 1024
    code, _, err = run(monkeypatch, capsys, "restore", "denoise", big, "-o", tmp_path / "o.png", "-q")
    assert code == 2 and "10000x10000 exceeds --max-side 1024" in err
    with pytest.raises(NetpriorError, match="100 megapixels, above the 89-megapixel limit"):
        load_image(big)  # no --max-side: the hard limit still refuses it before decoding
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    name = os.fsdecode(b"caf\xe9-\xff.png")  # not UTF-8: the error line must still print
    (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    for bad, message in (("empty.png", "empty"), ("folder.png", "is a folder"), ("missing.png", "no such file"),
                         (name, "unreadable image")):
        code, _, err = run(monkeypatch, capsys, "restore", "denoise", tmp_path / bad, "-o", tmp_path / "o.png",
                           "-q")
        assert code == 2 and message in err and err.count("\n") == 1, (bad, err)


def _valid_files(tmp_path: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    save_image(img, tmp_path / "a.png")
    from PIL import Image

    Image.fromarray(img).save(tmp_path / "a.jpg", quality=80)
    Image.fromarray(img).save(tmp_path / "a.webp")
    save_state(tmp_path / "a.ckpt", {"w": torch.randn(3, 4), "step": 3, "betas": (0.9, 0.99)},
               kind="solver-checkpoint", version=2)
    torch.save({"netG": {"w": torch.randn(3)}}, tmp_path / "a.pt")
    return {p.suffix: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".png", ".jpg", ".webp", ".ckpt",
                                                                                 ".pt")}


def _readers(path: Path):
    return (lambda: load_image(path), lambda: load_mask(path, threshold=0.5),
            lambda: load_state(path, kind="solver-checkpoint", version=2), lambda: load_weights(path, "pggan"))


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    return _valid_files(tmp_path_factory.mktemp("valid"))


@settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_readers_never_trace_back_on_random_bytes_or_truncations(tmp_path, valid_files, data):
    """Fuzz: random bytes, truncated valid files and valid files with flipped bytes through every reader: each
    either reads or raises the one-line NetpriorError, within the deadline (no hang, no traceback)."""
    suffix = data.draw(st.sampled_from(sorted(valid_files)))
    valid = valid_files[suffix]
    how = data.draw(st.sampled_from(["random", "truncate", "flip"]))
    if how == "random":
        content = data.draw(st.binary(max_size=600))
    elif how == "truncate":
        content = valid[:data.draw(st.integers(0, len(valid) - 1))]
    else:
        i = data.draw(st.integers(0, len(valid) - 1))
        content = valid[:i] + bytes([valid[i] ^ data.draw(st.integers(1, 255))]) + valid[i + 1:]
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    for read in _readers(path):
        try:
            read()
        except NetpriorError as exc:
            assert "\n" not in str(exc)


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, photo64_png):
    """Kill a run (SIGKILL) at a moment after its first checkpoint (step 100), rerun the same command: the
    checkpoint loads, the output is never half-written, and the result equals an uninterrupted run's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "netprior.cli", "restore", "fit", str(photo64_png), "--preset", "jpeg",
           "--iters", "250", "-q"]
    straight = tmp_path / "straight.png"
    subprocess.run(cli + ["-o", str(straight)], env=env, check=True, capture_output=True)
    out, ckpt = tmp_path / "resumed.png", tmp_path / "run.ckpt"
    proc = subprocess.Popen(cli + ["-o", str(out), "--checkpoint", str(ckpt)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(float(np.random.default_rng().uniform(0, 0.3)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run ended before its first checkpoint"
    load_state(ckpt, kind="solver-checkpoint", version=2)  # loadable whenever the kill came
    if out.exists():  # finished before the kill: then it must be complete
        load_image(out)
    subprocess.run(cli + ["-o", str(out), "--checkpoint", str(ckpt)], env=env, check=True, capture_output=True)
    assert np.array_equal(np.asarray(load_image(out)), np.asarray(load_image(straight)))


def test_bad_biggan_folders_give_one_line(tmp_path, monkeypatch, capsys, photo64_png):
    from netprior.generators.biggan import random_biggan

    g, state = random_biggan()
    torch.save(state, tmp_path / "pytorch_model.bin")
    for config, message in ((b"[1, 2]", "holds an object"), (b"\xff\xfe{", "not a readable BigGAN config"),
                            (b'{"layers": 5}', "does not describe a BigGAN")):
        (tmp_path / "config.json").write_bytes(config)
        code, _, err = run(monkeypatch, capsys, "gan", "invert", photo64_png, "-o", tmp_path / "g.png",
                           "--generator", "biggan", "--weights", tmp_path, "-q")
        assert code == 2 and message in err and err.count("\n") == 1, err
