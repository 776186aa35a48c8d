"""Head pose from the face mesh: a similarity fit of the mesh's rigid part to a template."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Template:
    """The frontal head frame that every mesh is fitted to.

    shape: (478, 3) float64 mean face in head-frame units (face height about 1), x to the
        person's left (image right), y down, z away from the camera, centred on its rigid part.
    rigid: (K,) int indices of vertices that move little with expression (forehead, nose,
        temples, upper cheeks); the pose is fitted on these.
    """

    shape: np.ndarray
    rigid: np.ndarray


@lru_cache(maxsize=1)
def template() -> Template:
    """The template shipped in facedyn/data/head_template.npz (made by tools/make_template.py)."""
    with resources.files("facedyn.data").joinpath("head_template.npz").open("rb") as f:
        data = np.load(f, allow_pickle=False)
        return Template(data["shape"].astype(np.float64), data["rigid"].astype(np.int64))


@dataclass(frozen=True)
class HeadPose:
    """Where a head is: points = scale * rotation @ head_frame_point + translation.

    rotation: (3, 3) float64, head frame -> camera frame (x right, y down, z away).
    translation: (3,) float64, image pixels (z is relative depth).
    scale: pixels per head-frame unit (about the face height in pixels).
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: float

    def to_head_frame(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) image points -> head-frame points (pose removed)."""
        return (points - self.translation) @ self.rotation / self.scale

    def to_image(self, head_points: np.ndarray) -> np.ndarray:
        """(..., 3) head-frame points -> image points."""
        return self.scale * head_points @ self.rotation.T + self.translation

    @property
    def angles(self) -> np.ndarray:
        """(yaw, pitch, roll) in degrees; yaw > 0 turns the face towards the image's left,
        pitch > 0 tilts it up, roll > 0 tilts it clockwise in the image."""
        return rotation_to_angles(self.rotation)


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares similarity dst ~ s * R @ src + t (Umeyama 1991).

    Args:
        src, dst: (N, D) float arrays of corresponding points, N >= D.

    Returns:
        (R (D, D) proper rotation, t (D,), s float).
    """
    if src.shape != dst.shape or src.ndim != 2:
        raise ValueError(f"expected two (N, D) arrays of one shape, got {src.shape} and {dst.shape}")
    # Written for small N (the landmark driver and the pose fit call it many times a frame): sums, not
    # mean/var, and a sign flip instead of a diagonal matrix.
    n = len(src)
    mu_s, mu_d = src.sum(0) / n, dst.sum(0) / n
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / n)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection: turn the weakest axis back
        u[:, -1], sig[-1] = -u[:, -1], -sig[-1]
    rot = u @ vt
    scale = float(sig.sum() * n / np.einsum("ij,ij->", a, a)) if with_scale else 1.0
    return rot, mu_d - scale * rot @ mu_s, scale


def fit_head_pose(points: np.ndarray, tmpl: Template | None = None) -> HeadPose:
    """Head pose of one mesh.

    Args:
        points: (478, 3) landmarks in pixels (see FaceTracker).

    Returns:
        The HeadPose mapping the template's head frame onto `points`.
    """
    if points.shape != (478, 3):
        raise ValueError(f"expected (478, 3) landmarks, got {points.shape}")
    tmpl = tmpl or template()
    rot, t, s = umeyama(tmpl.shape[tmpl.rigid], points[tmpl.rigid])
    return HeadPose(rot, t, s)


def angles_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Degrees -> (3, 3) rotation, in the convention of HeadPose.angles."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def rotation_to_angles(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (yaw, pitch, roll) degrees; inverse of angles_to_rotation."""
    yaw = np.arcsin(np.clip(-rot[2, 0], -1, 1))
    pitch = np.arctan2(-rot[2, 1], rot[2, 2])
    roll = np.arctan2(rot[1, 0], rot[0, 0])
    return np.degrees([yaw, pitch, roll])


def scale_rotation(rot: np.ndarray, factor: float) -> np.ndarray:
    """The rotation about the same axis by `factor` times the angle (axis-angle scaling)."""
    import cv2

    vec, _ = cv2.Rodrigues(np.asarray(rot, dtype=np.float64))
    out, _ = cv2.Rodrigues(vec * factor)
    return out
