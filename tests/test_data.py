"""Image-folder datasets: recursive listing, skipped files, crops and flips, the split by content, the batch stream
shared between processes, and the offline default collection."""

import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run
from netprior.data import BatchStream, ImageFolder, heldout_fraction, list_images, make_default_collection
from netprior.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write(path, size=(40, 30), seed=0, mode="RGB", fmt=None):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path, format=fmt)
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "imgs"
    for i in range(12):
        write(root / f"sub{i % 3}" / f"a{i}.png", seed=i)
    write(root / "b.jpg", seed=20, fmt="JPEG")
    write(root / "deep" / "er" / "c.webp", seed=21, fmt="WEBP")
    write(root / "grey.png", seed=22, mode="L")
    (root / "notes.txt").write_text("not an image")
    write(root / ".hidden" / "x.png", seed=23)
    return root


def test_lists_images_recursively_skipping_hidden_and_other_files(folder):
    names = sorted(p.name for p in list_images(folder))
    assert names == sorted([f"a{i}.png" for i in range(12)] + ["b.jpg", "c.webp", "grey.png"])


def test_corrupt_and_too_small_files_are_skipped_and_counted(folder):
    (folder / "broken.png").write_bytes((folder / "sub0" / "a0.png").read_bytes()[:60])
    (folder / "fake.jpg").write_bytes(b"hello")
    write(folder / "tiny.png", size=(20, 20), seed=30)
    with pytest.warns(UserWarning) as caught:
        ds = ImageFolder(folder, 24, split="all")
    found = sorted(re.search(r"skipped (\d+ of \d+) files \(([^;]+);", str(w.message)).groups() for w in caught
                   if "skipped" in str(w.message))
    assert found == [("1 of 18", "smaller than the 24 px crop"), ("2 of 18", "unreadable")]
    assert len(ds) == 15
    assert ds.describe()["skipped"] == {"unreadable": 2, "too_small": 1}
    assert sorted(p.split("/")[-1] for p in ds.skipped["unreadable"]) == ["broken.png", "fake.jpg"]


def test_centre_crop_grey_and_resize(folder):
    ds = ImageFolder(folder / "sub0", 24, split="all", crop="center", flip=False)
    x = ds[0]
    a = np.asarray(Image.open(ds.entries[0].path), dtype=np.float32) / 255
    assert x.shape == (3, 24, 24)
    assert torch.allclose(x, torch.from_numpy(a[3:27, 8:32]).permute(2, 0, 1))
    grey = ImageFolder(folder / "sub0", 24, split="all", crop="center", flip=False, grey=True)[0]
    luma = (a * np.array([0.299, 0.587, 0.114], dtype=np.float32)).sum(2)[3:27, 8:32]
    assert grey.shape == (1, 24, 24) and np.allclose(grey[0].numpy(), luma, atol=1 / 255)
    big = ImageFolder(folder / "sub0", 16, split="all", resize=60, crop="center")
    assert big[0].shape == (3, 16, 16)
    with Image.open(big.entries[0].path) as im:
        assert big._resized(*im.size) == (80, 60)


def test_random_crops_and_flips_are_seeded_by_epoch_and_index(folder):
    ds = ImageFolder(folder / "sub1", 16, split="all", seed=3)
    same = ImageFolder(folder / "sub1", 16, split="all", seed=3)
    assert torch.equal(ds[(2, 1)], same[(2, 1)])  # another instance (another worker/process) draws the same
    epochs = torch.stack([ds[(e, 1)] for e in range(8)])
    assert len({t.numpy().tobytes() for t in epochs}) > 4  # new crops/flips each epoch
    centre = ImageFolder(folder / "sub1", 16, split="all", crop="center", flip=True, seed=3)
    plain = ImageFolder(folder / "sub1", 16, split="all", crop="center", flip=False)[1]
    views = {centre[(e, 1)].numpy().tobytes() for e in range(12)}
    assert views == {plain.numpy().tobytes(), torch.flip(plain, [-1]).numpy().tobytes()}  # mirrored or not


def test_split_depends_on_content_only(folder, tmp_path):
    train = ImageFolder(folder, 24, split="train", heldout=0.3)
    held = ImageFolder(folder, 24, split="heldout", heldout=0.3)
    assert len(train) + len(held) == 15 and len(held) > 0 and len(train) > 0
    held_bytes = {e.path.read_bytes() for e in held.entries}
    assert not held_bytes & {e.path.read_bytes() for e in train.entries}
    moved = tmp_path / "moved"  # renamed and regrouped: the same files are held out
    for i, p in enumerate(list_images(folder)):
        dest = moved / f"x{i % 2}" / f"{100 - i}{p.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    shutil.copy(held.entries[0].path, moved / f"dup{held.entries[0].path.suffix}")
    held2 = ImageFolder(moved, 24, split="heldout", heldout=0.3)
    assert {e.path.read_bytes() for e in held2.entries} == held_bytes  # the duplicate joined its twin
    assert len(held2) == len(held) + 1
    assert held.entries[0].key == heldout_fraction(held.entries[0].path.read_bytes()) < 0.3


@pytest.mark.parametrize("case", ["empty", "non-images", "too-small", "no-folder"])
def test_bad_folders_are_refused_with_one_line(tmp_path, case):
    root = tmp_path / "d"
    root.mkdir()
    if case == "non-images":
        (root / "a.png").write_bytes(b"nope")
        (root / "b.txt").write_text("x")
    if case == "too-small":
        write(root / "s.png", size=(10, 12))
    with pytest.warns(UserWarning) if case in ("non-images", "too-small") else _nothing():
        with pytest.raises(InputError) as e:
            ImageFolder(root if case != "no-folder" else tmp_path / "missing", 16)
    assert "\n" not in str(e.value)
    assert {"empty": "no images found", "non-images": "none could be decoded", "too-small": "16x16",
            "no-folder": "no such folder"}[case] in str(e.value)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_batch_stream_shares_global_batches_between_processes_and_resumes(folder):
    ds = ImageFolder(folder, 16, split="all", seed=1)  # 15 images
    single = BatchStream(ds, 4, seed=5)
    ranks = [BatchStream(ds, 2, rank=r, world=2, seed=5) for r in range(2)]
    assert single.per_epoch == ranks[0].per_epoch == 3
    key = lambda t: sorted(x.numpy().tobytes() for x in t)
    for _ in range(7):  # across the epoch boundary
        assert key(next(single)) == key(torch.cat([next(r) for r in ranks]))
    resumed = BatchStream(ds, 4, seed=5)
    resumed.seek(5)
    fresh = BatchStream(ds, 4, seed=5)
    for _ in range(5):
        next(fresh)
    assert torch.equal(next(resumed), next(fresh)) and resumed.epoch == 2
    with pytest.raises(InputError, match="larger than the training set"):
        BatchStream(ds, 16)


def test_batch_stream_leaves_the_global_rng_alone(folder):
    """Starting an epoch draws nothing from the global RNG, which train.py seeds per iteration for the losses: a
    resumed run starts its epoch at another iteration than an uninterrupted one and must see the same draws."""
    stream = BatchStream(ImageFolder(folder, 16, split="all", seed=1), 4, seed=5)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for _ in range(4):  # two epoch starts
        next(stream)
    assert torch.equal(torch.rand(3), expected)


def test_default_collection_is_generated_offline(tmp_path):
    root = tmp_path / "coll"
    m = make_default_collection(root, size=32, counts={"photos": 13, "textures": 3, "faces": 2}, progress=False)
    files = sorted(p.relative_to(root).as_posix() for p in list_images(root))
    assert files == sorted(f["file"] for f in m["files"]) and len(files) == 18
    assert {f.split("/")[0] for f in files} == {"photos", "textures", "faces"}
    assert {f["source"] for f in m["files"]} >= {"skimage.data.astronaut", "skimage.data.gravel",
                                                 "dcgan-faces G(z), z ~ N(0, I)"}
    sizes = {Image.open(root / f).size for f in files}
    assert sizes == {(32, 32)}
    face = np.asarray(Image.open(root / "faces" / "dcgan-0000.png"), dtype=np.float32)
    assert face.std() > 10  # a picture, not a flat tile
    assert json.loads((root / "manifest.json").read_text())["counts"]["faces"] == 2
    ds = ImageFolder(root, 32, split="all")
    assert len(ds) == 18
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        make_default_collection(tmp_path / "other", counts={"photos": 1, "textures": 0, "faces": 0}, progress=False)


def test_worker_processes_give_the_same_batches(folder):
    ds = ImageFolder(folder, 16, split="all", seed=2)
    plain, workers = BatchStream(ds, 4, seed=1), BatchStream(ds, 4, seed=1, workers=2)
    for _ in range(4):  # across an epoch boundary (3 batches per epoch)
        assert torch.equal(next(plain), next(workers))


def test_make_default_command(monkeypatch, capsys, tmp_path):
    out = tmp_path / "c"
    code, stdout, err = run(monkeypatch, capsys, "data", "make-default", "-o", out, "--photos", "2", "--textures",
                            "1", "--faces", "0", "--size", "32", "-q")
    assert code in (0, None), err
    assert "wrote 3 images" in stdout and len(list_images(out)) == 3
    code, _, err = run(monkeypatch, capsys, "data", "make-default", "-o", out, "--size", "8", "-q")
    assert code == 2 and ">= 16" in err
