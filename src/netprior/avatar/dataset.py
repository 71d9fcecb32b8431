"""Avatar training data on disk — frames, foreground masks and OpenPose keypoints — as packed training samples.

Layout (real data and the synthetic set of :mod:`.synthetic` alike)::

    DIR/cameras.json                         optional {name: camera} (:mod:`.camera`), needed for 3D keypoints
    DIR/<camera>/images/<frame>.png|jpg      the frames (one camera: DIR/images/… directly, camera name ".")
    DIR/<camera>/masks/<frame>.png           foreground masks (> 0.5 = person)
    DIR/<camera>/keypoints/<frame>_keypoints.json   OpenPose output: people[0].pose_keypoints_3d (world, metres,
                                             4 values per joint) or pose_keypoints_2d (pixels, 3 values per joint;
                                             the depth is then ``depth``, fixed)
    DIR/<camera>/parts/<frame>.png, uv/<frame>.png   optional ground-truth surface maps (part index + 1; R = u,
                                             G = v) used to pre-train the textured avatar (§6.3.5)
    DIR/split.json                           optional default selection (``train_cameras``, ``train_frames``)

The skeleton is OpenPose BODY_25 (25 joints); the bones used are the BODY_25 segments whose two joints are
detected in at least one selected frame.  The ground-truth image is the frame with the background blacked out
(Ī ⊙ M̄, as the thesis trains on).  A sample is one packed tensor (C, H, W) so that the training loop
(:mod:`netprior.train`, which moves one tensor per batch) can carry it: channels [bones | RGB | mask | part | U, V]
(part = −1 where unknown, n for the background); :func:`unpack` splits a batch.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InputError
from ..io import load_image, write_json
from .bones import BODY25_BONES, BODY25_JOINTS, keypoints_from_world, rasterise_bones
from .camera import Camera, read_cameras

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def write_openpose(path: str | Path, *, joints_3d: Tensor | None, keypoints_2d: Tensor,
                   confidence: Tensor) -> Path:
    """One OpenPose keypoint file (format 1.3, one person): pose_keypoints_2d (u, v, c) and, when given,
    pose_keypoints_3d (x, y, z, c) in world coordinates."""
    person = {"person_id": [-1], "pose_keypoints_2d": torch.cat([keypoints_2d[:, :2], confidence[:, None]], 1)
              .flatten().tolist()}
    if joints_3d is not None:
        person["pose_keypoints_3d"] = torch.cat([joints_3d, confidence[:, None]], 1).flatten().tolist()
    return write_json({"version": 1.3, "people": [person]}, path)


def read_openpose(path: str | Path) -> tuple[str, Tensor]:
    """The first person of an OpenPose keypoint file: ("3d", (25, 4) x y z c) or ("2d", (25, 3) u v c)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        person = data["people"][0]
    except FileNotFoundError:
        raise InputError(f"{path}: no such keypoint file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{path}: not an OpenPose keypoint file with a person "
                         f"({str(exc).splitlines()[0][:100] or type(exc).__name__})") from None
    for key, kind, width in (("pose_keypoints_3d", "3d", 4), ("pose_keypoints_2d", "2d", 3)):
        values = person.get(key) if isinstance(person, dict) else None
        if values:
            try:
                t = torch.tensor(values, dtype=torch.float32)
            except (TypeError, ValueError):
                raise InputError(f"{path}: {key} must be a list of numbers") from None
            if t.numel() != len(BODY25_JOINTS) * width or not bool(torch.isfinite(t).all()):
                raise InputError(f"{path}: {key} must hold {len(BODY25_JOINTS)} BODY_25 joints × {width} finite "
                                 f"numbers, got {t.numel()} values")
            return kind, t.view(len(BODY25_JOINTS), width)
    raise InputError(f"{path}: the person has neither pose_keypoints_3d nor pose_keypoints_2d")


def pose_keypoints(kind: str, values: Tensor, camera: Camera | None, depth: float, what: str) -> Tensor:
    """OpenPose keypoints → (25, 4) pixel keypoints (u, v, z, c) in ``camera``."""
    if kind == "3d":
        if camera is None:
            raise InputError(f"{what}: 3D keypoints need the camera: add cameras.json to the data folder")
        return keypoints_from_world(values[:, :3], values[:, 3], camera)
    return torch.cat([values[:, :2], torch.full((len(values), 1), float(depth)), values[:, 2:]], 1)


@dataclass(frozen=True)
class Frame:
    camera: str
    name: str
    image: Path
    mask: Path
    keypoints: Tensor        # (25, 4) u v z c
    parts: Path | None
    uv: Path | None


def _cameras_of(root: Path) -> list[str]:
    if (root / "images").is_dir():
        return ["."]
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and (d / "images").is_dir())


def unpack(batch: Tensor, bones: int) -> dict[str, Tensor]:
    """Split packed samples (B, C, H, W) into bones, image, mask, part (long) and uv."""
    return {"bones": batch[:, :bones], "image": batch[:, bones:bones + 3], "mask": batch[:, bones + 3:bones + 4],
            "part": batch[:, bones + 4].round().long(), "uv": batch[:, bones + 5:bones + 7]}


class AvatarFolder(Dataset):
    """Frames of ``cameras`` (default: split.json's ``train_cameras``, else all) whose name matches ``frames``
    (a glob; default split.json's ``train_frames``, else ``*``) as packed samples; see the module docstring.
    ``bones`` fixes the bone list (a trained model's); otherwise it is found from the keypoints."""

    def __init__(self, root: str | os.PathLike, *, cameras: list[str] | None = None, frames: str | None = None,
                 parts: int = 10, depth: float = 3.0, bone_radius: float = 1.0,
                 bones: list[tuple[int, int]] | None = None, max_side: int = 1024):
        self.root = root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: no such data folder")
        split = {}
        if (root / "split.json").is_file():
            try:
                split = json.loads((root / "split.json").read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"{root / 'split.json'}: not readable JSON ({str(exc)[:100]})") from None
        available = _cameras_of(root)
        if not available:
            raise InputError(f"{root}: no images/ folder (one camera) nor <camera>/images/ folders found")
        cameras = cameras or split.get("train_cameras") or available
        missing = [c for c in cameras if c not in available]
        if missing:
            raise InputError(f"{root}: no camera folder {missing[0]!r} (available: {', '.join(available[:20])})")
        self.pattern = frames or split.get("train_frames") or "*"
        cams = read_cameras(root / "cameras.json") if (root / "cameras.json").is_file() else {}
        self.parts, self.depth, self.bone_radius = parts, depth, bone_radius
        self.frames: list[Frame] = []
        for c in cameras:
            d = root / c
            for img in sorted(p for p in (d / "images").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
                if not fnmatch.fnmatch(img.stem, self.pattern):
                    continue
                mask = next((m for m in (d / "masks" / (img.stem + e) for e in IMAGE_EXTENSIONS) if m.is_file()),
                            None)
                if mask is None:
                    raise InputError(f"{img}: no mask {d / 'masks' / (img.stem + '.png')}")
                kind, values = read_openpose(d / "keypoints" / f"{img.stem}_keypoints.json")
                kp = pose_keypoints(kind, values, cams.get(c), depth, str(img))
                surf = [d / "parts" / f"{img.stem}.png", d / "uv" / f"{img.stem}.png"]
                has = all(p.is_file() for p in surf)
                self.frames.append(Frame(c, img.stem, img, mask, kp, surf[0] if has else None,
                                         surf[1] if has else None))
        if not self.frames:
            raise InputError(f"{root}: no frames match {self.pattern!r} in camera(s) {', '.join(cameras[:10])}")
        first = load_image(self.frames[0].image, max_side=max_side)
        self.height, self.width = first.shape[-2:]
        if self.height % 16 or self.width % 16:
            raise InputError(f"{self.frames[0].image}: frames must have sides that are multiples of 16 (the network "
                             f"halves them 4 times), got {self.width}×{self.height}")
        self.max_side = max_side
        self.cameras = cameras
        if bones is None:
            seen = torch.stack([f.keypoints[:, 3] > 0 for f in self.frames]).any(0)
            bones = [b for b in BODY25_BONES if seen[b[0]] and seen[b[1]]]
        self.bones = [tuple(b) for b in bones]
        if not self.bones:
            raise InputError(f"{root}: no bone has both joints detected in any frame")
        self.has_surface = all(f.parts is not None for f in self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def channels(self) -> int:
        return len(self.bones) + 7

    def bone_maps(self, keypoints: Tensor) -> Tensor:
        return rasterise_bones(keypoints, self.bones, self.height, self.width, radius=self.bone_radius)

    def _load(self, path: Path, mode: str = "RGB") -> Tensor:
        x = load_image(path, mode, max_side=self.max_side)[0]
        if tuple(x.shape[-2:]) != (self.height, self.width):
            raise InputError(f"{path}: {x.shape[-1]}×{x.shape[-2]}, the other frames are {self.width}×{self.height}")
        return x

    def __getitem__(self, index) -> Tensor:
        i = index[1] if isinstance(index, tuple) else index
        f = self.frames[i]
        mask = (self._load(f.mask, "L") > 0.5).float()
        image = self._load(f.image) * mask
        part = torch.full((1, self.height, self.width), -1.0)
        uv = torch.zeros(2, self.height, self.width)
        if f.parts is not None:
            label = (self._load(f.parts, "L") * 255).round() - 1
            part = torch.where(label < 0, torch.tensor(float(self.parts)), label)
            uv = self._load(f.uv)[:2]
        return torch.cat([self.bone_maps(f.keypoints), image, mask, part, uv])

    def describe(self) -> dict:
        return {"root": str(self.root), "cameras": self.cameras, "frames": self.pattern, "images": len(self),
                "size": [self.height, self.width], "bones": [list(b) for b in self.bones],
                "surface_maps": self.has_surface}
