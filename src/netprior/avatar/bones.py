"""The pose input of a neural avatar: the OpenPose BODY_25 skeleton and its "bone" rasterisation (thesis §6.3.2).

A pose is given per frame as keypoints (J, 4) = (u, v, z, confidence): pixel position, camera depth (metres) and a
detection confidence (0 = missing).  The input stack B has one channel per skeleton segment (bone) (a, b): the
pixels whose centre p lies within ``radius`` pixels of the projected segment get the depth linearly interpolated
between the joints,

    B^j[p] = z_a + t (z_b − z_a),   t = clamp(⟨p − p_a, p_b − p_a⟩ / |p_b − p_a|², 0, 1),  if |p − p_a − t (p_b − p_a)| ≤ radius,

and 0 elsewhere (also for a bone with a missing joint).  Depth is taken in metres, as the thesis does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .camera import Camera

BODY25_JOINTS = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
                 "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe",
                 "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
# OpenPose's POSE_BODY_25_PAIRS_RENDER: the 24 segments of the skeleton.
BODY25_BONES = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13),
                (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22),
                (22, 23), (11, 24))


def keypoints_from_world(joints: Tensor, confidence: Tensor, camera: Camera) -> Tensor:
    """(J, 3) world joints and (J,) confidences → (J, 4) keypoints (u, v, z, c) in ``camera``; joints behind the
    camera get confidence 0."""
    p = camera.project(camera.to_camera(joints.float()))
    c = confidence.float() * (p[:, 2] > 1e-3)
    return torch.cat([torch.nan_to_num(p), c[:, None]], 1)


def rasterise_bones(keypoints: Tensor, bones: tuple[tuple[int, int], ...] | list, height: int, width: int, *,
                    radius: float = 1.0) -> Tensor:
    """(J, 4) keypoints → (len(bones), H, W) bone maps (see the module docstring)."""
    kp = keypoints.float()
    a = kp[[i for i, _ in bones]]
    b = kp[[j for _, j in bones]]
    ys = torch.arange(height, dtype=torch.float32) + 0.5
    xs = torch.arange(width, dtype=torch.float32) + 0.5
    px, py = xs[None, None, :], ys[None, :, None]
    ax, ay, az = (a[:, k, None, None] for k in range(3))
    dx, dy, dz = ((b[:, k] - a[:, k])[:, None, None] for k in range(3))
    length2 = (dx * dx + dy * dy).clamp(min=1e-9)
    t = (((px - ax) * dx + (py - ay) * dy) / length2).clamp(0, 1)
    dist2 = (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2
    present = ((a[:, 3] > 0) & (b[:, 3] > 0))[:, None, None]
    return torch.where((dist2 <= radius * radius) & present, az + t * dz, torch.zeros(()))
