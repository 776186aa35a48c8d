"""The control mesh: the face's own surface in front of a smooth grid for everything else.

Outside the face (hair, ears, the back of the head, neck, shoulders, background) a regular
grid of points moves as one smooth field: each point is lifted onto a head proxy (an
ellipsoid fitted behind the face mesh) and follows the head's rigid 3D motion by a weight
that is 1 on the head and falls smoothly to 0 away from it; the neck and shoulders follow a
fraction of it; the face outline's expression (a dropping jaw) spreads onto its surroundings.
A regular grid with smooth weights cannot spike or tear the way sparse triangles between
points that move by very different amounts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.spatial import Delaunay

from facedyn.geometry.pose import HeadPose
from facedyn.tracking import topology as T

GRID_CELLS = 32  # grid cells along the working image's longer side
HEAD_FALLOFF = (1.0, 2.0)  # the head weight falls from 1 to 0 between these ellipse radii
NECK_FOLLOW = 0.35  # how much of the head's motion the neck just below the chin follows
NECK_REACH = 1.5  # face heights below the chin over which the neck's following fades out
HEAD_DEPTH = 0.45  # face heights: the proxy's depth radius (deeper turns hair more, but sinks a quiff on nods)
SPREAD = 0.12  # face heights: how far the face outline's expression spreads beyond it
OUTER_DEPTH = 10.0  # face heights: far more than a face is deep
IRIS_DEPTH = 1.5  # face heights: irises lie behind the lids, in front of the rest of the eye opening
INTERIOR_DEPTH = 3.0  # face heights: openings (eyes, mouth) and gaps lie behind the face surface


@dataclass(frozen=True)
class HeadProxy:
    """An ellipsoid for the skull and hair in the head frame (face height about 1; x right,
    y down, z away from the camera): centre (3,) and radii (3,)."""

    centre: np.ndarray
    radii: np.ndarray

    def lift(self, points: np.ndarray, pose: HeadPose) -> tuple[np.ndarray, np.ndarray]:
        """Lift image points onto the proxy's visible side.

        Args:
            points: (N, 2) image pixels; pose: the head pose in those pixels.

        Returns:
            ((N, 3) head-frame points: where the camera's ray through each point meets the
            ellipsoid first, or, for a ray that misses it, the ray's point nearest the centre
            (continuous across the outline); (N,) each ray's least normalised distance from
            the centre: < 1 on the head's outline, growing outside it).
        """
        start = pose.to_head_frame(np.column_stack([points, np.full(len(points), pose.translation[2])]))
        ray = pose.rotation.T @ np.array([0.0, 0.0, 1.0])  # the camera's viewing direction, head frame
        a, d = (start - self.centre) / self.radii, ray / self.radii
        # |a + l d|^2 = 1: a quadratic in l; its least value is at l0 = -a.d / d.d.
        dd = float(d @ d)
        ad = a @ d
        l0 = -ad / dd
        least = np.einsum("ij,ij->i", a, a) - ad ** 2 / dd
        root = np.sqrt(np.maximum(1.0 - least, 0.0) / dd)
        lifted = start + (l0 - root)[:, None] * ray
        return lifted, np.sqrt(np.maximum(least, 0.0))


def fit_head_proxy(head: np.ndarray) -> HeadProxy:
    """The head proxy of a pose-free face mesh ((478, 3), head frame): as wide as the face
    outline plus the temples, from the chin to a crown above the forehead, as deep as a head
    (about 1.2 face heights from forehead to back), its front at the forehead."""
    oval = head[T.FACE_OVAL]
    width = float(np.ptp(oval[:, 0]))
    top, chin = float(oval[:, 1].min()), float(oval[:, 1].max())
    crown = top - 0.35 * (chin - top)
    radii = np.array([0.6 * width, (chin - crown) / 2, HEAD_DEPTH])
    front = float(head[[10, 151, 9], 2].mean())
    centre = np.array([float(oval[:, 0].mean()), (chin + crown) / 2, front + radii[2]])
    return HeadProxy(centre, radii)


@dataclass(frozen=True)
class ControlMesh:
    """Control points and triangles, built once from the source.

    points: (V, 2) float64 source positions in working pixels; the first 478 are the face
        mesh, the rest a regular grid over the image.
    head_points: (V, 3) float64 positions in the source's head frame (face: its own mesh;
        grid: lifted onto the head proxy).
    follow: (G,) float how much each grid point follows the head's rigid motion (0..1).
    spread: (G, K) float how the face outline's expression offsets (its K = len(FACE_OVAL)
        vertices' departure from rigid motion) move each grid point.
    triangles: (T, 3) int: the face mesh's own surface triangles, the iris discs, Delaunay
        triangles of the face (eye and mouth openings), then the grid's.
    depth_bias: (T,) float added to each triangle's depth (face heights): the face surface in
        front, its openings behind it, the grid behind everything, the less it follows the
        head the further back.
    """

    points: np.ndarray
    head_points: np.ndarray
    follow: np.ndarray
    spread: np.ndarray
    triangles: np.ndarray
    depth_bias: np.ndarray

    @cached_property
    def _corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The triangles' first, second and third vertex indices, each (T,) contiguous."""
        return tuple(np.ascontiguousarray(self.triangles[:, i]) for i in range(3))

    @cached_property
    def _spreading(self) -> np.ndarray:
        """Indices of the grid points the outline's expression moves (most rows of `spread` are 0)."""
        return np.flatnonzero(np.abs(self.spread).sum(axis=1) > 0)

    @cached_property
    def backdrop(self) -> int:
        """Index of the first grid triangle: the grid comes last and lies behind the rest."""
        return len(self.triangles) - int((self.triangles >= T.N_VERTICES).all(axis=1).sum())

    def move(self, target_face: np.ndarray, target_pose: HeadPose, source_pose: HeadPose) -> tuple[np.ndarray, np.ndarray]:
        """Target positions of all control points and per-triangle depth.

        Args:
            target_face: (478, 3) target face landmarks in working pixels.
            target_pose: the target head pose; source_pose: the source's.

        Returns:
            ((V, 2) target points in pixels, (T,) depth, smaller nearer).
        """
        n = T.N_VERTICES
        grid = self.points[n:]
        rigid = target_pose.to_image(self.head_points[n:])
        outline = target_face[T.FACE_OVAL, :2] - target_pose.to_image(self.head_points[T.FACE_OVAL])[:, :2]
        moved = np.empty_like(self.points)
        moved[:n] = target_face[:, :2]
        moved[n:] = grid + self.follow[:, None] * (rigid[:, :2] - grid)
        spreading = self._spreading
        moved[n + spreading] += self.spread[spreading] @ outline
        z = np.empty(len(self.points))
        z[:n] = target_face[:, 2]
        # Grid depth: the proxy's where it follows the head, the source's far plane where not.
        far = source_pose.translation[2] + source_pose.scale
        z[n:] = far + self.follow * (rigid[:, 2] - far)
        a, b, c = self._corners
        depth = (z[a] + z[b] + z[c]) / 3 + self.depth_bias * source_pose.scale
        return moved, depth


def build_control_mesh(face: np.ndarray, pose: HeadPose, size: tuple[int, int]) -> ControlMesh:
    """Build the control mesh for a source face.

    Args:
        face: (478, 3) source landmarks in working pixels.
        pose: the source head pose.
        size: (height, width) of the working image.
    """
    head = pose.to_head_frame(face)
    grid, grid_triangles = _grid(size)
    proxy = fit_head_proxy(head)
    lifted, reach = proxy.lift(grid, pose)
    flat = pose.to_head_frame(np.column_stack([grid, np.full(len(grid), pose.translation[2])]))
    spread = _outline_spread(flat, head)
    lifted = _meet_outline(lifted, spread, proxy, head, pose)
    follow = np.maximum(_falloff(reach, *HEAD_FALLOFF), _neck_follow(flat, head))
    # The image's edge stays put, so the map covers every pixel.
    edge = (grid[:, 0] < 0) | (grid[:, 1] < 0) | (grid[:, 0] > size[1] - 1) | (grid[:, 1] > size[0] - 1)
    follow[edge] = 0.0
    spread[edge] = 0.0
    n = T.N_VERTICES
    points = np.concatenate([face[:, :2], grid])
    head_points = np.concatenate([head, lifted])
    # The face uses its own 3D surface topology, so parts hidden in the photo unfold in order
    # when the head turns; Delaunay triangles of the face fill its openings behind it.
    surface = T.face_triangles()
    irises = _iris_discs()
    openings = Delaunay(face[:, :2]).simplices.astype(np.int64)
    grid_triangles = grid_triangles + n
    triangles = np.concatenate([surface, irises, openings, grid_triangles])
    bias = np.concatenate([np.zeros(len(surface)), np.full(len(irises), IRIS_DEPTH), np.full(len(openings), INTERIOR_DEPTH),
                           OUTER_DEPTH + 1.0 - follow[grid_triangles - n].min(axis=1)])
    return ControlMesh(points, head_points, follow, spread, triangles, bias)


def _meet_outline(lifted: np.ndarray, spread: np.ndarray, proxy: HeadProxy, head: np.ndarray,
                  pose: HeadPose) -> np.ndarray:
    """Grid points near the face outline moved along their rays to the outline's own depth,
    so the skin and hair just outside the face turn with it (no gap opens at its edge), and
    further out onto the proxy."""
    outline = head[T.FACE_OVAL]
    on_proxy, _ = proxy.lift(pose.to_image(outline)[:, :2], pose)
    ray = pose.rotation.T @ np.array([0.0, 0.0, 1.0])
    along = spread @ ((outline[:, 2] - on_proxy[:, 2]) / ray[2])
    return lifted + along[:, None] * ray


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """((G, 2) points of a regular grid reaching just outside an image of (height, width),
    (2 per cell, 3) int its triangles)."""
    h, w = size
    step = max(h, w) / GRID_CELLS
    nx, ny = int(np.ceil((w + 8) / step)) + 1, int(np.ceil((h + 8) / step)) + 1
    xs, ys = np.linspace(-4.0, w + 3.0, nx), np.linspace(-4.0, h + 3.0, ny)
    gx, gy = np.meshgrid(xs, ys)
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    triangles = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)]).astype(np.int64)
    return np.column_stack([gx.ravel(), gy.ravel()]), triangles


def _falloff(x: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """1 up to `inner`, a smoothstep down to 0 at `outer`."""
    t = np.clip((outer - x) / (outer - inner), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _neck_follow(flat: np.ndarray, head: np.ndarray) -> np.ndarray:
    """(G,) how much each point below the chin follows the head: NECK_FOLLOW just under it,
    fading out over NECK_REACH face heights down and a face width to each side."""
    oval = head[T.FACE_OVAL]
    chin, width = float(oval[:, 1].max()), float(np.ptp(oval[:, 0]))
    below = flat[:, 1] - chin
    down = _falloff(below, 0.0, NECK_REACH) * (below > -0.5)
    side = _falloff(np.abs(flat[:, 0] - oval[:, 0].mean()), 0.5 * width, 1.5 * width)
    return NECK_FOLLOW * down * side


def _outline_spread(flat: np.ndarray, head: np.ndarray) -> np.ndarray:
    """(G, K) weights spreading the K face-outline vertices' expression offsets onto the grid:
    an inverse-distance blend of the nearest outline vertices, fading out SPREAD face heights
    away from the outline (inside the face the surface covers the grid anyway)."""
    oval = head[T.FACE_OVAL, :2]
    dist = np.linalg.norm(flat[:, None, :2] - oval[None], axis=2)  # (G, K)
    weights = np.exp(-((dist - dist.min(axis=1, keepdims=True)) / (0.5 * SPREAD)) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights * _falloff(dist.min(axis=1), 0.0, 2.0 * SPREAD)[:, None]


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
