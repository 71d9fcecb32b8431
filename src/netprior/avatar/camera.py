"""Pinhole cameras: world → camera → pixel coordinates, look-at placement, and the JSON form used on disk.

A camera maps a world point X to camera coordinates x_c = R X + t (x right, y down, z forward, metres) and to the
pixel (u, v) = (f_x x/z + c_x, f_y y/z + c_y); pixel (i, j) (row, column) covers [j, j+1) × [i, i+1), so its centre
is at (j + ½, i + ½).  On disk a camera is ``{"K": 3×3, "R": 3×3, "t": [3], "width": W, "height": H}``; a file may
hold one camera or a ``{name: camera}`` dictionary.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import InputError


@dataclass(frozen=True)
class Camera:
    K: Tensor       # (3, 3) intrinsics
    R: Tensor       # (3, 3) world → camera rotation
    t: Tensor       # (3,) world → camera translation
    width: int
    height: int

    def to_camera(self, points: Tensor) -> Tensor:
        """(…, 3) world points → camera coordinates R X + t."""
        return points @ self.R.T.to(points) + self.t.to(points)

    def project(self, points_cam: Tensor) -> Tensor:
        """(…, 3) camera coordinates → (…, 3) pixel (u, v) and depth z."""
        k = self.K.to(points_cam)
        z = points_cam[..., 2]
        u = k[0, 0] * points_cam[..., 0] / z + k[0, 2]
        v = k[1, 1] * points_cam[..., 1] / z + k[1, 2]
        return torch.stack([u, v, z], -1)

    def to_json(self) -> dict:
        return {"K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist(), "width": self.width,
                "height": self.height}

    @staticmethod
    def from_json(d: dict, what: str = "camera") -> Camera:
        try:
            cam = Camera(torch.tensor(d["K"], dtype=torch.float32), torch.tensor(d["R"], dtype=torch.float32),
                         torch.tensor(d["t"], dtype=torch.float32), int(d["width"]), int(d["height"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{what}: not a camera (needs K 3×3, R 3×3, t [3], width, height): "
                             f"{str(exc).splitlines()[0][:120]}") from None
        if cam.K.shape != (3, 3) or cam.R.shape != (3, 3) or cam.t.shape != (3,) or min(cam.width, cam.height) < 1:
            raise InputError(f"{what}: K and R must be 3×3, t of length 3, width and height positive")
        if not bool(torch.isfinite(cam.K).all() & torch.isfinite(cam.R).all() & torch.isfinite(cam.t).all()):
            raise InputError(f"{what}: camera values must be finite numbers")
        return cam


def look_at(eye: tuple[float, float, float], target: tuple[float, float, float], *, size: int,
            focal: float) -> Camera:
    """A camera at ``eye`` looking at ``target`` with world y up (image y down), square ``size`` pixels and focal
    length ``focal`` in pixels."""
    eye_t, tgt = torch.tensor(eye, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)
    fwd = tgt - eye_t
    fwd = fwd / fwd.norm()
    right = torch.linalg.cross(fwd, torch.tensor([0.0, 1.0, 0.0]))
    right = right / right.norm()
    down = torch.linalg.cross(fwd, right)
    R = torch.stack([right, down, fwd])
    K = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]])
    return Camera(K, R, -R @ eye_t, size, size)


def ring(count: int, *, radius: float, height: float, target: tuple[float, float, float], size: int,
         focal: float, offset_deg: float = 0.0) -> list[Camera]:
    """``count`` cameras evenly spaced in azimuth (starting at ``offset_deg``, 0° = in front of the body, +z)
    on a circle of ``radius`` at ``height``, all looking at ``target``."""
    cams = []
    for i in range(count):
        a = math.radians(offset_deg + 360.0 * i / count)
        cams.append(look_at((radius * math.sin(a), height, radius * math.cos(a)), target, size=size, focal=focal))
    return cams


def read_cameras(path: str | Path) -> dict[str, Camera]:
    """The cameras of a JSON file: one camera (named after the file) or a ``{name: camera}`` dictionary."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such camera file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON camera file ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a camera object or a {{name: camera}} object")
    if "K" in data:
        return {path.stem: Camera.from_json(data, str(path))}
    return {str(k): Camera.from_json(v, f"{path}: camera {k!r}") if isinstance(v, dict) else
            Camera.from_json({}, f"{path}: camera {k!r}") for k, v in data.items()}
