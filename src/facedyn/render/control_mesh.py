"""The control mesh: face vertices, a head/hair ring, neck/shoulder points and fixed borders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay

from facedyn.geometry.pose import HeadPose
from facedyn.tracking import topology as T

# (scale of the face oval around the face centre, how much the points follow the head,
#  whether each point hangs on its face-outline point rather than only on the head pose)
RINGS = ((1.35, 1.0, True), (1.9, 0.6, False))
NECK_FOLLOW = 0.3
OUTER_DEPTH = 10.0  # face heights: far more than a face is deep
IRIS_DEPTH = 1.5  # face heights: irises lie behind the lids, in front of the rest of the eye opening
INTERIOR_DEPTH = 3.0  # face heights: Delaunay fill (eye and mouth openings, gaps) lies behind the face surface


@dataclass(frozen=True)
class ControlMesh:
    """Control points and triangles, built once from the source.

    points: (V, 2) float64 source positions in working pixels; the first 478 are the face mesh.
    head_points: (V, 3) float64 positions in the source's head frame (for the non-face points).
    follow: (V,) float how much each non-face point follows the head's rigid motion (0..1).
    anchor: (V,) int a face vertex the point hangs on (it keeps its rigidly moved offset
        from that vertex, so hair stays on the face outline), or -1.
    triangles: (T, 3) int: the face mesh's own surface triangles, then Delaunay triangles of
        `points` for everything else (eye and mouth openings, gaps, hair, background).
    depth_bias: (T,) float added to each triangle's depth (face heights): the face surface in
        front, its openings behind it, hair and background behind everything, the less they
        follow the head the further back.
    """

    points: np.ndarray
    head_points: np.ndarray
    follow: np.ndarray
    anchor: np.ndarray
    triangles: np.ndarray
    depth_bias: np.ndarray

    def move(self, target_face: np.ndarray, target_pose: HeadPose, source_pose: HeadPose) -> tuple[np.ndarray, np.ndarray]:
        """Target positions of all control points and per-triangle depth.

        Args:
            target_face: (478, 3) target face landmarks in working pixels.
            target_pose: the target head pose; source_pose: the source's.

        Returns:
            ((V, 2) target points in pixels, (T,) depth, smaller nearer).
        """
        rigid = target_pose.to_image(self.head_points)  # where each point goes if it moved with the head
        moved = self.points + self.follow[:, None] * (rigid[:, :2] - self.points)
        hung = self.anchor >= 0
        base = self.anchor[hung]
        moved[hung] = target_face[base, :2] + rigid[hung, :2] - rigid[base, :2]
        moved[: T.N_VERTICES] = target_face[:, :2]
        z = rigid[:, 2].copy()
        z[: T.N_VERTICES] = target_face[:, 2]
        depth = z[self.triangles].mean(axis=1) + self.depth_bias * source_pose.scale
        return moved, depth


def build_control_mesh(face: np.ndarray, pose: HeadPose, size: tuple[int, int]) -> ControlMesh:
    """Build the control mesh for a source face.

    Args:
        face: (478, 3) source landmarks in working pixels.
        pose: the source head pose.
        size: (height, width) of the working image.
    """
    h, w = size
    head = pose.to_head_frame(face)
    oval = head[T.FACE_OVAL]
    centre = oval.mean(axis=0)
    extra, follow, anchor = [], [], []
    for scale, amount, hang in RINGS:
        ring = centre + (oval - centre) * [scale, scale, 1.0]
        ring[:, 2] = oval[:, 2].mean()  # the head's outline lies about as deep as the face's sides
        extra.append(ring[::2])
        follow += [amount] * len(ring[::2])
        anchor += list(T.FACE_OVAL[::2]) if hang else [-1] * len(ring[::2])
    chin = head[T.CHIN]
    width = np.ptp(oval[:, 0])
    neck = np.array([
        [centre[0] + dx * width, chin[1] + dy, chin[2] + 0.2] for dy in (0.35, 0.8) for dx in (-0.9, -0.4, 0, 0.4, 0.9)
    ])
    extra.append(neck)
    follow += [NECK_FOLLOW] * len(neck)
    anchor += [-1] * len(neck)
    extra_head = np.concatenate(extra)
    extra_img = pose.to_image(extra_head)[:, :2]

    border = border_points(h, w)
    border_head = pose.to_head_frame(np.column_stack([border, np.full(len(border), pose.translation[2] + pose.scale)]))
    points = np.concatenate([face[:, :2], extra_img, border])
    head_points = np.concatenate([head, extra_head, border_head])
    follow_all = np.concatenate([np.zeros(T.N_VERTICES), follow, np.zeros(len(border))])
    anchor_all = np.concatenate([np.full(T.N_VERTICES, -1), anchor, np.full(len(border), -1)]).astype(np.int64)
    # Points outside the image are pulled inside the border so the triangulation stays valid.
    points[T.N_VERTICES:-len(border)] = np.clip(points[T.N_VERTICES:-len(border)], [1, 1], [w - 2, h - 2])
    # The face uses its own 3D surface topology, so parts hidden in the photo unfold in order
    # when the head turns; Delaunay triangles fill the rest and any hole behind the surface.
    surface = T.face_triangles()
    irises = _iris_discs()
    fill = Delaunay(points).simplices.astype(np.int64)
    triangles = np.concatenate([surface, irises, fill])
    bias = np.concatenate([np.zeros(len(surface)), np.full(len(irises), IRIS_DEPTH), _fill_depth(points, fill, follow_all)])
    return ControlMesh(points, head_points, follow_all, anchor_all, triangles, bias)


def border_points(h: int, w: int, per_side: int = 6) -> np.ndarray:
    """Fixed points just outside the image border, so every pixel is covered."""
    t = np.linspace(0, 1, per_side + 1)[:-1]
    x0, y0, x1, y1 = -4.0, -4.0, w + 3.0, h + 3.0
    top = np.column_stack([x0 + t * (x1 - x0), np.full_like(t, y0)])
    right = np.column_stack([np.full_like(t, x1), y0 + t * (y1 - y0)])
    bottom = np.column_stack([x1 - t * (x1 - x0), np.full_like(t, y1)])
    left = np.column_stack([np.full_like(t, x0), y1 - t * (y1 - y0)])
    return np.concatenate([top, right, bottom, left])


def _iris_discs() -> np.ndarray:
    """(8, 3) triangle fans over each iris (centre + 4 rim points): the iris moves as one disc
    over the white of the eye, under the lids, instead of being squeezed at the corners."""
    fans = []
    for iris in (T.RIGHT_IRIS, T.LEFT_IRIS):
        rim = iris[1:]
        fans += [(iris[0], rim[k], rim[(k + 1) % 4]) for k in range(4)]
    return np.array(fans, dtype=np.int64)


def _fill_depth(points: np.ndarray, triangles: np.ndarray, follow: np.ndarray) -> np.ndarray:
    """Depth bias of the Delaunay triangles: all behind the face surface."""
    bias = np.full(len(triangles), INTERIOR_DEPTH)
    # Triangles touching non-face points (hair, neck, background) lie behind every face
    # triangle whatever the pose, and the less they follow the head the further back.
    is_face = np.arange(len(points)) < T.N_VERTICES
    outer = ~is_face[triangles].all(axis=1)
    bias[outer] += OUTER_DEPTH + (1.0 - follow[triangles].min(axis=1)[outer])
    return bias

