"""The synthetic avatar data set: the capsule body of :mod:`.body` rendered by the z-buffer rasteriser of
:mod:`.rasterise` from a ring of cameras, written in the layout that :mod:`.dataset` reads for real data.

Per frame and camera: the image (texture × shading on black), the foreground mask, the OpenPose keypoints (3D in
world coordinates + their 2D projection), and the ground-truth surface maps — part index (0 = background, k + 1 =
part k) and UV (R = u, G = v, 8 bits) — that take the place of DensePose for pre-training (§6.3.5).

Shading: colour = albedo · (1 − s + s · max(0, ⟨n, l⟩)) with a fixed world light l from above-front and the
interpolated surface normal n; s = ``shading`` (0: pure albedo, which the textured avatar can represent exactly).

Cameras: ``train_cameras`` on a ring at 1.3 m height (``cam00`` … in front at 0°), of which the 6-camera subset
takes 6 evenly spaced ones (cam00, cam03, cam05, cam08, cam11, cam13 of 16); ``heldout_cameras`` at 0.8 m,
evenly spaced from half-way between cam00 and cam01 (with 16 and 4 cameras each lies half-way between two training
azimuths); and ``novel_cameras.json`` (a ring of 8 views at 1.9 m, from 10°) for figures.  The training motion and
the held-out motion are different random motions (seeds ``seed`` and ``seed + 1``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..io import save_image, write_json
from .body import (
    PARTS,
    joint_confidence,
    make_textures,
    motion,
    pose_body,
    texture_lookup,
)
from .bones import keypoints_from_world
from .camera import Camera, ring
from .dataset import write_openpose
from .rasterise import rasterise

LIGHT = np.array([0.3, 0.8, 0.6]) / np.linalg.norm([0.3, 0.8, 0.6])
TARGET = (0.0, 1.0, 0.0)


@dataclass
class SyntheticConfig:
    size: int = 64
    train_cameras: int = 16
    heldout_cameras: int = 4
    train_frames: int = 60
    test_frames: int = 24
    texture_size: int = 64
    shading: float = 0.25
    fps: float = 10.0
    seed: int = 0


def camera_sets(size: int, train: int, heldout: int) -> dict[str, list[Camera]]:
    focal, radius = 1.75 * size, 3.6
    return {"train": ring(train, radius=radius, height=1.3, target=TARGET, size=size, focal=focal),
            "heldout": ring(heldout, radius=radius, height=0.8, target=TARGET, size=size, focal=focal,
                            offset_deg=180.0 / train),
            "novel": ring(8, radius=radius, height=1.9, target=TARGET, size=size, focal=focal, offset_deg=10.0)}


def six_of(names: list[str], k: int = 6) -> list[str]:
    """``k`` of the training cameras, evenly spaced around the ring."""
    return [names[round(i * len(names) / k)] for i in range(min(k, len(names)))]


def render_frame(angles: dict[str, float], camera: Camera, textures: Tensor, *, shading: float = 0.25) -> dict:
    """Render the body in pose ``angles`` from ``camera``: image (3, H, W), mask (H, W) bool, part (H, W) long
    (−1 = background), uv (2, H, W), depth (H, W), keypoints (25, 4)."""
    body = pose_body(angles)
    cam_verts = camera.to_camera(body.verts)
    frags = rasterise(camera.project(cam_verts), body.faces, camera.height, camera.width)
    h, w = camera.height, camera.width
    mask = frags.mask
    face = frags.face.clamp(min=0)
    part = torch.where(mask, body.part[body.faces[face, 0]], torch.full_like(face, -1))
    uv = frags.interpolate(body.faces, body.uv)                       # (H, W, 2)
    normal = frags.interpolate(body.faces, body.normals)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    sel = mask.view(-1)
    image = torch.zeros(h * w, 3)
    albedo = texture_lookup(textures, part.view(-1)[sel], uv.view(-1, 2)[sel])
    lambert = (normal.view(-1, 3)[sel] @ torch.tensor(LIGHT, dtype=torch.float32)).clamp(min=0)
    image[sel] = albedo * (1 - shading + shading * lambert[:, None])
    kp = keypoints_from_world(body.joints, torch.tensor(joint_confidence()), camera)
    return {"image": image.T.reshape(3, h, w), "mask": mask, "part": part, "uv": uv.permute(2, 0, 1) * mask,
            "depth": frags.depth, "keypoints": kp, "joints": body.joints}


def write_frame(root: Path, cam: str, name: str, frame: dict, joints: Tensor) -> None:
    d = root / cam
    save_image(frame["image"], d / "images" / f"{name}.png")
    save_image(frame["mask"].float()[None], d / "masks" / f"{name}.png")
    save_image(((frame["part"] + 1).numpy().astype(np.uint8)), d / "parts" / f"{name}.png")
    save_image(torch.cat([frame["uv"], torch.zeros(1, *frame["uv"].shape[1:])]), d / "uv" / f"{name}.png")
    write_openpose(d / "keypoints" / f"{name}_keypoints.json", joints_3d=joints, keypoints_2d=frame["keypoints"],
                   confidence=torch.tensor(joint_confidence()))


def make_synthetic(root: str | Path, cfg: SyntheticConfig | None = None, *, progress: bool = True) -> dict:
    """Write the synthetic data set into ``root`` (see the module docstring); returns its ``split.json``."""
    from tqdm.auto import tqdm

    cfg = cfg or SyntheticConfig()
    root = Path(root)
    textures = make_textures(cfg.texture_size, cfg.seed)
    cams = camera_sets(cfg.size, cfg.train_cameras, cfg.heldout_cameras)
    names = {"train": [f"cam{i:02d}" for i in range(cfg.train_cameras)],
             "heldout": [f"heldout{i:02d}" for i in range(cfg.heldout_cameras)],
             "novel": [f"novel{i:02d}" for i in range(8)]}
    motions = {"train": motion(cfg.seed, cfg.train_frames, cfg.fps), "test": motion(cfg.seed + 1, cfg.test_frames,
                                                                                      cfg.fps)}
    jobs = [(c, cam, m, i) for c, cam in zip(names["train"], cams["train"]) for m in ("train", "test")
            for i in range(len(motions[m]))]
    jobs += [(c, cam, "test", i) for c, cam in zip(names["heldout"], cams["heldout"]) for i in range(cfg.test_frames)]
    for c, cam, m, i in tqdm(jobs, desc="rendering", disable=not progress, leave=False):
        frame = render_frame(motions[m][i], cam, textures, shading=cfg.shading)
        write_frame(root, c, f"{m}_{i:04d}", frame, frame["joints"])
    write_json({n: c.to_json() for k in ("train", "heldout") for n, c in zip(names[k], cams[k])},
               root / "cameras.json")
    write_json({n: c.to_json() for n, c in zip(names["novel"], cams["novel"])}, root / "novel_cameras.json")
    save_image(textures.permute(1, 2, 0, 3).reshape(3, cfg.texture_size, -1), root / "textures.png")
    split = {"format": "netprior-avatar-synthetic", "config": asdict(cfg), "parts": [p.name for p in PARTS],
             "train_cameras": names["train"], "train_cameras_6": six_of(names["train"]),
             "heldout_cameras": names["heldout"], "train_frames": "train_*", "test_frames": "test_*",
             "images": len(jobs)}
    write_json(split, root / "split.json")
    return split

