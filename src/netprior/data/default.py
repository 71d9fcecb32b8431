"""The built-in offline collection: made on this machine from what installs with netprior, never shipped.

Three sub-folders of ``size`` × ``size`` PNGs (64 by default) and a ``manifest.json`` (source of every file,
seed, counts, versions):

* ``photos/`` — random square crops of the photographs bundled with scikit-image (``skimage.data``: astronaut,
  camera, chelsea, coffee, coins, Hubble deep field, immunohistochemistry, moon, both motorcycle stereo views,
  retina, rocket), side drawn log-uniformly between ``size`` and the photo's shorter side, resized with
  antialiasing, grey photos kept grey (one channel);
* ``textures/`` — crops of scikit-image's brick, grass and gravel textures, drawn the same way;
* ``faces/`` — 64 × 64 samples G(z), z ~ N(0, I), of the DCGAN face generator of ``gan-face-generate``
  (``netprior.generators``, "dcgan-faces"; synthetic faces, no real person's photo), resized when ``size`` ≠ 64.

The skimage images are public domain or CC-licensed (see skimage/data/README.txt of the installed package); they
are read from the installed package, so nothing is downloaded.  Everything is drawn from ``seed``: the same seed
and versions give the same files.  Debian wallpaper photos are not used (they need apt and root).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "hubble_deep_field", "immunohistochemistry", "moon",
          "motorcycle_left", "motorcycle_right", "retina", "rocket")
TEXTURES = ("brick", "grass", "gravel")
COUNTS = {"photos": 600, "textures": 200, "faces": 600}
MANIFEST = "manifest.json"


def default_root() -> Path:
    """Where ``netprior data make-default`` writes when no folder is given: $NETPRIOR_CACHE or
    $XDG_CACHE_HOME/netprior (~/.cache/netprior), sub-folder ``default-collection``."""
    base = os.environ.get("NETPRIOR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
        "netprior"
    return Path(base) / "default-collection"


def skimage_image(name: str) -> np.ndarray:
    """A bundled scikit-image picture as uint8 (H, W) or (H, W, 3) (alpha dropped)."""
    from skimage import data

    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        a = left if name.endswith("left") else right
    else:
        a = getattr(data, name)()
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = (255 * (a.astype(np.float64) - a.min()) / max(1e-12, float(a.max() - a.min()))).astype(np.uint8)
    return a[..., :3] if a.ndim == 3 else a


def random_crops(image: np.ndarray, count: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` square crops, side log-uniform in [size, shorter side], each resized to ``size`` (antialiased)."""
    from PIL import Image

    h, w = image.shape[:2]
    short = min(h, w)
    if short < size:
        raise InputError(f"a {w}x{h} picture cannot give {size} px crops")
    out = []
    for _ in range(count):
        side = int(round(np.exp(rng.uniform(np.log(size), np.log(short)))))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(image[top:top + side, left:left + side])
        out.append(np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)))
    return out


def _spread(total: int, names: tuple[str, ...]) -> dict[str, int]:
    return {n: total // len(names) + (i < total % len(names)) for i, n in enumerate(names)}


def make_default_collection(root: str | os.PathLike | None = None, *, size: int = 64, seed: int = 0,
                            counts: dict[str, int] | None = None, progress: bool = True,
                            device: str = "cpu") -> dict:
    """Write the collection into ``root`` (default :func:`default_root`) and return its manifest.

    ``counts`` maps ``photos``/``textures``/``faces`` to how many images to write (defaults in ``COUNTS``; 0 skips
    a part).  Refuses a non-empty ``root`` that is not a collection written by this function."""
    from tqdm.auto import tqdm

    from ..generators import get_generator
    from ..io import save_image, write_json
    from ..report import versions

    root = Path(root) if root is not None else default_root()
    if size < 16:
        raise InputError(f"the collection's image size must be >= 16, got {size}")
    counts = {**COUNTS, **(counts or {})}
    if set(counts) != set(COUNTS) or any(v < 0 for v in counts.values()):
        raise InputError(f"counts are given for {sorted(COUNTS)} and must be >= 0, got {counts}")
    if root.exists() and any(root.iterdir()) and not (root / MANIFEST).exists():
        raise InputError(f"{root}: the folder is not empty and holds no {MANIFEST}; choose an empty or new folder")
    rng = np.random.default_rng(seed)
    files: list[dict] = []
    bar = tqdm(total=sum(counts.values()), desc="default collection", disable=not progress, leave=False)
    for part, names in (("photos", PHOTOS), ("textures", TEXTURES)):
        for name, n in _spread(counts[part], names).items():
            for k, crop in enumerate(random_crops(skimage_image(name), n, size, rng)):
                rel = f"{part}/{name}-{k:04d}.png"
                save_image(crop, root / rel)
                files.append({"file": rel, "source": f"skimage.data.{name}"})
                bar.update(1)
    if counts["faces"]:
        g = get_generator("dcgan-faces", device=device)
        gen = torch.Generator().manual_seed(seed)
        done = 0
        with torch.no_grad():
            while done < counts["faces"]:
                z = g.prior.sample(min(64, counts["faces"] - done), gen)
                x = g(z.to(g.device)).cpu()
                if size != x.shape[-1]:
                    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
                for im in x.clamp(0, 1):
                    rel = f"faces/dcgan-{done:04d}.png"
                    save_image(im, root / rel)
                    files.append({"file": rel, "source": "dcgan-faces G(z), z ~ N(0, I)"})
                    done += 1
                    bar.update(1)
    bar.close()
    manifest = {"kind": "netprior-default-collection", "size": size, "seed": seed, "counts": counts,
                "versions": versions(), "files": files}
    write_json(manifest, root / MANIFEST)
    return manifest
