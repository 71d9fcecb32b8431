"""Image collections on disk: a folder of images as a training set, split deterministically, with augmentations.

* Files: every ``.png``, ``.jpg``/``.jpeg`` and ``.webp`` under the root, recursively (hidden folders skipped), in
  sorted order.  Each file is decoded once when the collection is scanned; files that do not decode (corrupt,
  truncated, not an image) and files smaller than the crop are skipped and counted, with one warning naming how
  many and the first of them (``ImageFolder.skipped`` lists them all).  Nothing usable left → InputError.
* Split: a file is held out when the first 8 bytes of the SHA-1 of its *content*, read as a fraction of 2⁶⁴, are
  below ``heldout`` — the split does not depend on file names, folder layout, order or the machine, a file keeps
  its side when others are added, and duplicates of one image always land on the same side (no leakage).
* Sample i: decode at 8 bits per sample (16-bit files are reduced by Pillow) → grey (Pillow's ITU-R 601 luma,
  one channel) or colour (three channels; grey files replicated; alpha dropped) →
  optional resize of the shorter side to ``resize`` (antialiased, Pillow's bicubic) → square crop of ``size``
  (random position or centre) → optional horizontal flip with probability ½ → float tensor (C, size, size) in
  [0, 1].  The random choices come from a generator seeded by (seed, epoch, i), so a sample is the same whatever
  DataLoader worker or process draws it, and a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import InputError
from ..io import _open

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
SPLITS = ("train", "heldout", "all")
CROPS = ("random", "center")


def list_images(root: str | os.PathLike) -> list[Path]:
    """Image files (by extension) under ``root``, recursively, sorted; hidden files and folders are skipped."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: is a file, expected a folder of images")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if not f.startswith(".") and f.lower().endswith(EXTENSIONS)]
    return sorted(found)


def heldout_fraction(content: bytes) -> float:
    """The split key of a file: the first 8 bytes of SHA-1(content) as a number in [0, 1)."""
    return int.from_bytes(hashlib.sha1(content).digest()[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Entry:
    path: Path
    width: int
    height: int
    key: float  # heldout_fraction of the file's bytes


class ImageFolder(Dataset):
    """The images of a folder as (C, size, size) tensors in [0, 1]; see the module docstring for every rule.

    ``split`` is ``"train"`` (key ≥ ``heldout``), ``"heldout"`` (key < ``heldout``) or ``"all"``.  Index with an
    int (epoch 0) or with ``(epoch, i)``, as :class:`~netprior.data.loader.EpochSampler` does."""

    def __init__(self, root: str | os.PathLike, size: int = 64, *, split: str = "train", heldout: float = 0.1,
                 crop: str = "random", resize: int | None = None, flip: bool = True, grey: bool = False,
                 seed: int = 0):
        if split not in SPLITS:
            raise InputError(f"split must be one of {SPLITS}, got {split!r}")
        if crop not in CROPS:
            raise InputError(f"crop must be random or center, got {crop!r}")
        if size < 1 or (resize is not None and resize < size):
            raise InputError(f"the crop size must be >= 1 and --resize >= the crop size, got {size} and {resize}")
        if not 0.0 <= heldout < 1.0:
            raise InputError(f"the held-out fraction must be in [0, 1), got {heldout}")
        self.root, self.size, self.split, self.heldout = Path(root), size, split, heldout
        self.crop, self.resize, self.flip, self.grey, self.seed = crop, resize, flip, grey, seed
        files = list_images(self.root)
        if not files:
            raise InputError(f"{self.root}: no images found (looked for {', '.join(EXTENSIONS)} recursively)")
        entries, self.skipped = [], {"unreadable": [], "too_small": []}
        for path in files:
            try:
                with _open(path) as img:
                    w, h = img.size
            except InputError:
                self.skipped["unreadable"].append(str(path))
                continue
            if min(self._resized(w, h)) < size:
                self.skipped["too_small"].append(str(path))
                continue
            entries.append(Entry(path, w, h, heldout_fraction(path.read_bytes())))
        for why, paths in self.skipped.items():
            if paths:
                what = "unreadable" if why == "unreadable" else f"smaller than the {size} px crop"
                warnings.warn(f"{self.root}: skipped {len(paths)} of {len(files)} files ({what}; first: "
                              f"{paths[0]})", stacklevel=2)
        if not entries:
            reason = (f"none is at least {size}x{size} pixels (use --resize or a smaller --size)"
                      if self.skipped["too_small"] else "none could be decoded")
            raise InputError(f"{self.root}: {len(files)} image files but {reason}")
        self.found = len(files)
        self.entries = [e for e in entries if split == "all" or (e.key < heldout) == (split == "heldout")]
        if not self.entries:
            raise InputError(f"{self.root}: the {split} split is empty ({len(entries)} usable images, held-out "
                             f"fraction {heldout}); add images or change the fraction")

    def _resized(self, w: int, h: int) -> tuple[int, int]:
        if self.resize is None:
            return w, h
        s = self.resize / min(w, h)
        return max(self.resize, round(w * s)), max(self.resize, round(h * s))

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3

    def __len__(self) -> int:
        return len(self.entries)

    def describe(self) -> dict:
        return {"root": str(self.root), "split": self.split, "images": len(self), "files_found": self.found,
                "skipped": {k: len(v) for k, v in self.skipped.items()}, "size": self.size, "crop": self.crop,
                "resize": self.resize, "flip": self.flip, "grey": self.grey, "heldout_fraction": self.heldout}

    def __getitem__(self, key: int | tuple[int, int]) -> torch.Tensor:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        e = self.entries[i]
        rng = np.random.default_rng([self.seed, epoch, i])
        with _open(e.path) as img:
            img = img.convert("L" if self.grey else "RGB")
            if self.resize is not None:
                img = img.resize(self._resized(*img.size), Image.Resampling.BICUBIC, reducing_gap=3.0)
            arr = np.asarray(img, dtype=np.float32) / 255.0
        arr = arr[..., None] if arr.ndim == 2 else arr
        h, w = arr.shape[:2]
        if self.crop == "random":
            top, left = int(rng.integers(0, h - self.size + 1)), int(rng.integers(0, w - self.size + 1))
        else:
            top, left = (h - self.size) // 2, (w - self.size) // 2
        arr = arr[top:top + self.size, left:left + self.size]
        if self.flip and rng.random() < 0.5:
            arr = arr[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
