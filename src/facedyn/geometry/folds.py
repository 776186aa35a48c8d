"""Fold removal: a deformed mesh whose surface triangles turned over (a brow pushed past the
skin above it, a lip dropped past the one below) renders as a tear. `unfold` smooths the
displacement locally until every triangle faces the way it does at rest."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import sparse

from facedyn.tracking import topology as T


@lru_cache(maxsize=1)
def _neighbours() -> tuple[np.ndarray, sparse.csr_matrix]:
    """(E, 2) int edges of the mesh surface, both directions, and the (478, 478) sparse
    operator that averages each vertex's neighbours."""
    tris = T.face_triangles()
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0)
    counts = np.bincount(edges[:, 0], minlength=T.N_VERTICES)
    weights = 1.0 / np.maximum(counts, 1)[edges[:, 0]]
    mean = sparse.csr_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(T.N_VERTICES, T.N_VERTICES))
    return edges, mean


@lru_cache(maxsize=1)
def _corners() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The surface triangles' first, second and third corners, (T,) int each."""
    tris = T.face_triangles()
    return tuple(np.ascontiguousarray(tris[:, j]) for j in range(3))


def signed_areas(shape: np.ndarray) -> np.ndarray:
    """(T,) twice the signed xy area of each surface triangle of `shape` (478, 2+)."""
    return _twice_areas(shape, *_corners())


def _twice_areas(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(K,) cross(b - a, c - a) in xy for the corner indices a, b, c (K,) into `points` (N, 2+)."""
    x, y = points[:, 0], points[:, 1]  # gathering single coordinates is 3x faster than rows
    ax, ay = x[a], y[a]
    return (x[b] - ax) * (y[c] - ay) - (y[b] - ay) * (x[c] - ax)


def sizable(rest_areas: np.ndarray) -> np.ndarray:
    """(T,) bool: triangles that are not slivers at rest (at least a tenth of the median area).

    Slivers (at the mouth corners and the silhouette) cover next to no pixels and say
    nothing about the skin. rest_areas: (T,) from `signed_areas`.
    """
    size = np.abs(rest_areas)
    return size >= 0.1 * np.median(size)


def folded(shape: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(T,) bool: surface triangles of `shape` turned over (or collapsed) relative to `rest`.

    Both (478, 2+) in the same frame, y down; only x and y count (the view from the front).
    Slivers (see `sizable`) are never counted.
    """
    return _turned(signed_areas(shape), signed_areas(rest))


def _turned(after: np.ndarray, before: np.ndarray, counted: np.ndarray | None = None) -> np.ndarray:
    """Turned-over triangles; `counted` is sizable(before), if known already."""
    return (after * np.sign(before) <= 0.02 * np.abs(before)) & (sizable(before) if counted is None else counted)


def unfold(shape: np.ndarray, rest: np.ndarray, max_iterations: int = 60, pinned: np.ndarray | None = None) -> np.ndarray:
    """`shape` with its folds smoothed out: `Unfolder(rest, pinned)(shape, max_iterations)`
    (see there). Use an Unfolder to unfold many shapes of one rest mesh."""
    return Unfolder(rest, pinned)(shape, max_iterations)


class Unfolder:
    """Smooths the folds out of deformed versions of one rest mesh.

    Each pass moves the displacement (shape - rest) of the vertices of folded triangles, and
    of their neighbours, halfway to the mean displacement of their neighbours, which spreads
    a too-sharp move over more skin; a fold that resists draws in a wider ring. Averaging
    cannot carry a free corner past an edge of two pinned ones, so a folded triangle with two
    pinned corners first gets its free corner put back as high over that edge, for the
    edge's length, as at rest. What depends on the rest mesh alone is computed once.

    Args:
        rest: (478, 3) float the mesh at rest, head frame (y down): its triangles define
            "facing the right way". Copied.
        pinned: vertex indices that keep their move (the lid and lip contours: a blink or a
            closing mouth is the motion itself; the skin around them makes way).
    """

    def __init__(self, rest: np.ndarray, pinned: np.ndarray | None = None) -> None:
        self.rest = np.array(rest)
        self._pinned = pinned
        self._before = signed_areas(self.rest)
        self._counted = sizable(self._before)
        self._pinned_edges: _PinnedEdges | None = None  # built at the first fold: most meshes have none

    def __call__(self, shape: np.ndarray, max_iterations: int = 60) -> np.ndarray:
        """`shape` with its folds smoothed out; a fold-free shape comes back unchanged.

        Args:
            shape: (478, 3) float deformed mesh, in the rest mesh's frame.
            max_iterations: passes at most; the smoothing stops earlier when nothing is folded.

        Returns:
            (478, 3) float array: `shape` itself when nothing is folded, else a new mesh.
        """
        edges, neighbour_mean = _neighbours()
        tris = T.face_triangles()
        rest, pinned = self.rest, self._pinned
        moves = (shape - rest).astype(np.float64)
        for k in range(max_iterations):
            bad = self._turned(rest + moves)
            if pinned is not None and bad.any():
                self._pinned_edges = self._pinned_edges or _PinnedEdges(rest, pinned)
                if self._pinned_edges.lift(rest, moves, bad):
                    bad = self._turned(rest + moves)
            if not bad.any():
                if k == 0:
                    return shape
                break
            touched = np.zeros(T.N_VERTICES, bool)
            touched[tris[bad].ravel()] = True
            for _ in range(1 + k // 15):  # and their neighbours, further out while a fold resists
                touched[edges[touched[edges[:, 0]], 1]] = True
            if pinned is not None:
                touched[pinned] = False
            mean = neighbour_mean @ moves
            moves[touched] = 0.5 * moves[touched] + 0.5 * mean[touched]
        return (rest + moves).astype(shape.dtype)

    def _turned(self, points: np.ndarray) -> np.ndarray:
        return _turned(signed_areas(points), self._before, self._counted)


def _heights(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(K,) signed xy height of corner c over edge ab for corners (K, 3) = (a, b, c), in units of
    the edge's length: cross(b - a, c - a) / |b - a|^2."""
    a, b = corners[:, 0], corners[:, 1]
    edge = points[b, :2] - points[a, :2]
    return _twice_areas(points, a, b, corners[:, 2]) / np.maximum((edge**2).sum(1), 1e-18)


class _PinnedEdges:
    """The triangles with two pinned corners a, b and a free one c (rolled to that order, which
    keeps their orientation), and c's height over ab at rest (`_heights`)."""

    def __init__(self, rest: np.ndarray, pinned: np.ndarray) -> None:
        tris = T.face_triangles()
        is_pinned = np.zeros(T.N_VERTICES, bool)
        is_pinned[pinned] = True
        self.index = np.flatnonzero(is_pinned[tris].sum(1) == 2)
        free_at = np.argmin(is_pinned[tris[self.index]], axis=1)
        roll = (np.arange(3)[None, :] + free_at[:, None] + 1) % 3  # the free corner last
        self.corners = np.take_along_axis(tris[self.index], roll, axis=1)
        self.rest_height = _heights(rest, self.corners)

    def lift(self, rest: np.ndarray, moves: np.ndarray, bad: np.ndarray) -> bool:
        """Put the free corner of each folded triangle (bad: (T,) bool) back at its rest
        height, moving it along the edge's normal in xy; updates `moves` (478, 3) in place.
        Returns whether anything moved."""
        folded = np.flatnonzero(bad[self.index])
        if not len(folded):
            return False
        _, first = np.unique(self.corners[folded, 2], return_index=True)  # a corner of two: one per pass
        folded = folded[first]
        corners = self.corners[folded]
        points = rest + moves
        edge = points[corners[:, 1], :2] - points[corners[:, 0], :2]
        normal = np.stack([-edge[:, 1], edge[:, 0]], axis=1)  # raises the height by 1 per unit
        moves[corners[:, 2], :2] += (self.rest_height[folded] - _heights(points, corners))[:, None] * normal
        return True


OPENINGS = np.concatenate([T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP, T.MOUTH_INNER_LOOP])  # pinned when the renderer unfolds
