"""A synthetic articulated body: ten capsules on an OpenPose BODY_25 skeleton, with a known surface
parameterisation (UV per part) and a known texture, posed by smooth random joint-angle motions.

Skeleton (world: y up, the body faces +z, metres): the root MidHip; the spine to the Neck; the head (Nose); two
arms Shoulder → Elbow → Wrist and two legs Hip → Knee → Ankle.  Forward kinematics: every joint carries a frame
F (rotation); a child joint sits at x_child = x_parent + F_parent · offset and its frame is F_parent · R_local(θ)
with the joint angles θ of :data:`DOFS`.  Joints 15–24 of BODY_25 (eyes, ears, feet) are not modelled (confidence
0).

Parts (n = 10; the thesis uses DensePose's 24): torso, head, upper arms, forearms, thighs, shins.  Each is a
capsule of radius r around a segment of length L in the frame of its joint (limbs are chunkier than a
person's, so that they are a few pixels wide at 64²); a surface point is addressed by
(u, v) ∈ [0, 1]²: u the angle around the axis (u = ½ in front, the seam at the back), v the arc length along the
meridian from the bottom pole to the top pole divided by L + πr, so the texture is stretched about uniformly.

Motions: angle_i(t) = c_i + Σ_{m=1..3} (a_i / 2) sin(2π f_{i,m} t + φ_{i,m}) with frequencies f in [0.08, 0.5] Hz
and phases drawn from the motion's seed (clamped to each joint's range), sampled at ``fps``: smooth, and different
seeds give different (held-out) motions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .bones import BODY25_JOINTS

J = {name: i for i, name in enumerate(BODY25_JOINTS)}

# name: (centre, amplitude, lower, upper) in radians
DOFS = {
    "root_yaw": (0.0, 0.35, -0.6, 0.6), "root_lean": (0.0, 0.06, -0.2, 0.2),
    "spine_flex": (0.05, 0.2, -0.3, 0.5), "spine_side": (0.0, 0.15, -0.3, 0.3), "spine_twist": (0.0, 0.3, -0.5, 0.5),
    "head_nod": (0.0, 0.3, -0.5, 0.5), "head_turn": (0.0, 0.5, -0.8, 0.8),
    "rshoulder_abd": (0.5, 0.6, -0.1, 1.6), "rshoulder_flex": (0.0, 0.9, -1.0, 1.6), "relbow": (0.7, 0.6, 0.0, 2.3),
    "lshoulder_abd": (0.5, 0.6, -0.1, 1.6), "lshoulder_flex": (0.0, 0.9, -1.0, 1.6), "lelbow": (0.7, 0.6, 0.0, 2.3),
    "rhip_flex": (0.1, 0.5, -0.5, 1.2), "rhip_abd": (0.1, 0.15, -0.1, 0.5), "rknee": (0.3, 0.3, 0.0, 1.8),
    "lhip_flex": (0.1, 0.5, -0.5, 1.2), "lhip_abd": (0.1, 0.15, -0.1, 0.5), "lknee": (0.3, 0.3, 0.0, 1.8),
}
ROOT = (0.0, 0.95, 0.0)


@dataclass(frozen=True)
class Part:
    name: str
    joint: str            # the joint whose frame carries the capsule
    start: tuple          # the capsule axis starts at x_joint + F · start
    down: bool            # the axis points along −y of the frame (limbs) instead of +y
    length: float
    radius: float


PARTS = (
    Part("torso", "MidHip_spine", (0.0, 0.0, 0.0), False, 0.52, 0.16),
    Part("head", "Neck_head", (0.0, 0.13, 0.0), False, 0.09, 0.11),
    Part("right_upper_arm", "RShoulder", (0.0, 0.0, 0.0), True, 0.28, 0.07),
    Part("right_forearm", "RElbow", (0.0, 0.0, 0.0), True, 0.26, 0.06),
    Part("left_upper_arm", "LShoulder", (0.0, 0.0, 0.0), True, 0.28, 0.07),
    Part("left_forearm", "LElbow", (0.0, 0.0, 0.0), True, 0.26, 0.06),
    Part("right_thigh", "RHip", (0.0, 0.0, 0.0), True, 0.42, 0.09),
    Part("right_shin", "RKnee", (0.0, 0.0, 0.0), True, 0.40, 0.07),
    Part("left_thigh", "LHip", (0.0, 0.0, 0.0), True, 0.42, 0.09),
    Part("left_shin", "LKnee", (0.0, 0.0, 0.0), True, 0.40, 0.07),
)


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def forward_kinematics(angles: dict[str, float]) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Joint angles → (25, 3) world joints (unmodelled ones at 0) and the frames {name: (origin, rotation)} that
    carry the parts."""
    a = angles
    x = np.zeros((len(BODY25_JOINTS), 3))
    frames: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    f_root = _ry(a["root_yaw"]) @ _rx(a["root_lean"])
    x[J["MidHip"]] = ROOT
    f_spine = f_root @ _rz(a["spine_side"]) @ _rx(-a["spine_flex"]) @ _ry(a["spine_twist"])
    frames["MidHip_spine"] = (x[J["MidHip"]], f_spine)
    x[J["Neck"]] = x[J["MidHip"]] + f_spine @ (0.0, 0.55, 0.0)
    f_head = f_spine @ _ry(a["head_turn"]) @ _rx(-a["head_nod"])
    frames["Neck_head"] = (x[J["Neck"]], f_head)
    x[J["Nose"]] = x[J["Neck"]] + f_head @ (0.0, 0.17, 0.10)
    for side, sign in (("R", -1.0), ("L", 1.0)):
        s = side.lower()
        x[J[f"{side}Shoulder"]] = x[J["Neck"]] + f_spine @ (sign * 0.21, -0.04, 0.0)
        f_sh = f_spine @ _rz(sign * a[f"{s}shoulder_abd"]) @ _rx(-a[f"{s}shoulder_flex"])
        frames[f"{side}Shoulder"] = (x[J[f"{side}Shoulder"]], f_sh)
        x[J[f"{side}Elbow"]] = x[J[f"{side}Shoulder"]] + f_sh @ (0.0, -0.28, 0.0)
        f_el = f_sh @ _rx(-a[f"{s}elbow"])
        frames[f"{side}Elbow"] = (x[J[f"{side}Elbow"]], f_el)
        x[J[f"{side}Wrist"]] = x[J[f"{side}Elbow"]] + f_el @ (0.0, -0.26, 0.0)
        x[J[f"{side}Hip"]] = x[J["MidHip"]] + f_root @ (sign * 0.10, -0.05, 0.0)
        f_hip = f_root @ _rz(sign * a[f"{s}hip_abd"]) @ _rx(-a[f"{s}hip_flex"])
        frames[f"{side}Hip"] = (x[J[f"{side}Hip"]], f_hip)
        x[J[f"{side}Knee"]] = x[J[f"{side}Hip"]] + f_hip @ (0.0, -0.42, 0.0)
        f_kn = f_hip @ _rx(a[f"{s}knee"])
        frames[f"{side}Knee"] = (x[J[f"{side}Knee"]], f_kn)
        x[J[f"{side}Ankle"]] = x[J[f"{side}Knee"]] + f_kn @ (0.0, -0.40, 0.0)
    return x, frames


def joint_confidence() -> np.ndarray:
    """1 for the 15 modelled BODY_25 joints, 0 for eyes, ears and feet."""
    return (np.arange(len(BODY25_JOINTS)) < 15).astype(np.float64)


def motion(seed: int, frames: int, fps: float = 10.0) -> list[dict[str, float]]:
    """A smooth random motion: ``frames`` joint-angle dictionaries (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    out: list[dict[str, float]] = [{} for _ in range(frames)]
    for name, (c, amp, lo, hi) in DOFS.items():
        f = rng.uniform(0.08, 0.5, 3)
        ph = rng.uniform(0, 2 * math.pi, 3)
        w = rng.dirichlet(np.ones(3))
        values = np.clip(c + amp * (w[:, None] * np.sin(2 * math.pi * f[:, None] * t + ph[:, None])).sum(0) * 1.5,
                         lo, hi)
        for i in range(frames):
            out[i][name] = float(values[i])
    return out


def capsule_grid(length: float, radius: float, around: int = 16, along: int = 14) -> tuple[np.ndarray, np.ndarray,
                                                                                             np.ndarray, np.ndarray]:
    """Capsule along +y from 0 to ``length``: vertices (V, 3), outward normals (V, 3), UV (V, 2) and faces (F, 3) of
    an (around + 1) × (along + 1) grid (the seam column is duplicated so that u runs 0 → 1)."""
    total = length + math.pi * radius
    arc = np.linspace(0.0, total, along + 1)
    s, rho, ny = np.empty_like(arc), np.empty_like(arc), np.empty_like(arc)
    for i, a in enumerate(arc):
        if a < math.pi * radius / 2:                     # bottom cap
            phi = a / radius
            s[i], rho[i], ny[i] = -radius * math.cos(phi), radius * math.sin(phi), -math.cos(phi)
        elif a <= length + math.pi * radius / 2:          # cylinder
            s[i], rho[i], ny[i] = a - math.pi * radius / 2, radius, 0.0
        else:                                            # top cap
            phi = (a - length - math.pi * radius / 2) / radius
            s[i], rho[i], ny[i] = length + radius * math.sin(phi), radius * math.cos(phi), math.sin(phi)
    u = np.linspace(0.0, 1.0, around + 1)
    theta = math.pi + 2 * math.pi * u                    # u = ½ faces +z (the front), the seam at the back
    st, ct = np.sin(theta), np.cos(theta)
    radial = np.sqrt(np.clip(1 - ny ** 2, 0, 1))
    verts = np.stack([rho[:, None] * st[None], np.broadcast_to(s[:, None], (along + 1, around + 1)),
                      rho[:, None] * ct[None]], -1).reshape(-1, 3)
    normals = np.stack([radial[:, None] * st[None], np.broadcast_to(ny[:, None], (along + 1, around + 1)),
                        radial[:, None] * ct[None]], -1).reshape(-1, 3)
    uv = np.stack(np.meshgrid(u, arc / total, indexing="xy"), -1).reshape(-1, 2)
    idx = np.arange((along + 1) * (around + 1)).reshape(along + 1, around + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return verts, normals, uv, faces


@dataclass
class BodyMesh:
    """The posed body: world vertices and normals, UV and part of every vertex, faces, joints."""

    verts: Tensor     # (V, 3)
    normals: Tensor   # (V, 3)
    uv: Tensor        # (V, 2)
    part: Tensor      # (V,) part index
    faces: Tensor     # (F, 3)
    joints: Tensor    # (25, 3)


def pose_body(angles: dict[str, float], *, around: int = 16, along: int = 14) -> BodyMesh:
    """The body mesh in the pose ``angles``."""
    joints, frames = forward_kinematics(angles)
    vs, ns, uvs, ps, fs, base = [], [], [], [], [], 0
    flip = np.diag([-1.0, -1.0, 1.0])                  # a half turn about z: the axis points down
    for k, part in enumerate(PARTS):
        v, n, uv, f = capsule_grid(part.length, part.radius, around, along)
        origin, rot = frames[part.joint]
        local = flip if part.down else np.eye(3)
        m = rot @ local
        vs.append(origin + rot @ np.asarray(part.start) + v @ m.T)
        ns.append(n @ m.T)
        uvs.append(uv)
        ps.append(np.full(len(v), k))
        fs.append(f + base)
        base += len(v)
    cat = lambda xs, dt=torch.float32: torch.tensor(np.concatenate(xs), dtype=dt)
    return BodyMesh(cat(vs), cat(ns), cat(uvs), cat(ps, torch.long), cat(fs, torch.long),
                    torch.tensor(joints, dtype=torch.float32))


def make_textures(size: int, seed: int = 0) -> Tensor:
    """(n, 3, size, size) known part textures in [0, 1] (row = v, column = u): a base colour per part, bands along
    the part, a checker of part-specific frequency, and a marker on the front (u = ½) so that front and back
    differ; the head has two eyes and a mouth in front."""
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size, indexing="xy")
    out = []
    for k, part in enumerate(PARTS):
        hue = (k / len(PARTS) + rng.uniform(-0.03, 0.03)) % 1.0
        base = np.array([0.5 + 0.4 * math.cos(2 * math.pi * (hue + o)) for o in (0.0, 1 / 3, 2 / 3)])
        bands = 0.5 + 0.5 * np.sin(2 * math.pi * rng.integers(2, 5) * v + rng.uniform(0, 6))
        checker = ((np.floor(u * rng.integers(4, 9)) + np.floor(v * rng.integers(3, 7))) % 2)
        tex = base[:, None, None] * (0.55 + 0.3 * bands[None] + 0.15 * checker[None])
        front = ((u - 0.5) ** 2 / 0.01 + (v - 0.55) ** 2 / 0.02) < 1
        if part.name == "head":
            eyes = (((u - 0.44) ** 2 + (v - 0.62) ** 2) < 0.0012) | (((u - 0.56) ** 2 + (v - 0.62) ** 2) < 0.0012)
            mouth = (np.abs(u - 0.5) < 0.05) & (np.abs(v - 0.45) < 0.012)
            tex = np.where((eyes | mouth)[None], 0.05, np.full_like(tex, 1.0) * np.array([0.93, 0.78, 0.65])[:, None, None])
        else:
            marker = np.array([1.0, 1.0, 1.0]) - base * 0.8
            tex = np.where(front[None], marker[:, None, None], tex)
        out.append(np.clip(tex, 0, 1))
    return torch.tensor(np.stack(out), dtype=torch.float32)


def texture_lookup(textures: Tensor, part: Tensor, uv: Tensor) -> Tensor:
    """Bilinear texture lookup, written out (independent of ``grid_sample``): (n, 3, S, S) textures, (N,) part
    indices and (N, 2) UV in [0, 1] → (N, 3); texel (i, j) sits at (u, v) = ((j + ½)/S, (i + ½)/S), clamped at the
    border."""
    s = textures.shape[-1]
    x = (uv[:, 0] * s - 0.5).clamp(0, s - 1)
    y = (uv[:, 1] * s - 0.5).clamp(0, s - 1)
    x0, y0 = x.floor().long().clamp(max=s - 2), y.floor().long().clamp(max=s - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]

    def at(yy, xx):
        return textures[part, :, yy, xx]                # (N, 3)

    return (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy) + at(y0 + 1, x0) * (1 - fx) * fy
            + at(y0 + 1, x0 + 1) * fx * fy)
