"""Vectorised triangle rasterisation into a backward map (target pixel -> source pixel)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np


def backward_map(
    dst: np.ndarray,
    src: np.ndarray,
    triangles: np.ndarray,
    depth: np.ndarray,
    size: tuple[int, int],
    step: int = 2,
    exact: Sequence[tuple[int, int, int, int]] = (),
    backdrop: int | None = None,
    backdrop_step: int = 8,
) -> np.ndarray:
    """Per-pixel source coordinates for a triangle mesh moved from `src` to `dst`: one
    `BackwardMapper(src, triangles, backdrop, backdrop_step)(dst, depth, size, step, exact)`
    (see there for the arguments). Use a BackwardMapper to map one source mesh many times."""
    return BackwardMapper(src, triangles, backdrop, backdrop_step)(dst, depth, size, step, exact)


class BackwardMapper:
    """Backward maps (target pixel -> source pixel) of one source triangle mesh, for any
    number of target positions of its vertices (a renderer's frames).

    Every target pixel takes the front-most triangle covering it (smallest depth) and the
    barycentric combination of that triangle's source vertices. The map is rasterised on a
    grid `step` times coarser than the output and resized (it is piecewise linear, so little
    is lost), all with array operations: no loop over triangles or pixels. Where the map
    jumps (two lips or lids that meet: between them the source's opening is squeezed to
    nothing) resizing would blend across the jump and smear the opening over the seam, so the
    `exact` boxes are rasterised at every pixel. A smooth backdrop that lies behind every other
    triangle (the control mesh's grid) is rasterised on a still coarser grid first, and the
    rest over it: most of the image is backdrop, and a smooth map loses nothing coarser.
    What depends on the source alone (each triangle's source corner and edges) is computed
    once, here.

    Args:
        src: (V, 2) float source vertex positions, pixels (x right, y down).
        triangles: (T, 3) int vertex indices.
        backdrop: index of the first backdrop triangle: `triangles[backdrop:]` lie behind all
            the others whatever their depth; None: no backdrop.
        backdrop_step: the backdrop's grid step in pixels (used as at least `step`).

    Raises:
        ValueError: `src` not (V, 2), or `backdrop` outside 0..T.
    """

    def __init__(self, src: np.ndarray, triangles: np.ndarray, backdrop: int | None = None, backdrop_step: int = 8) -> None:
        if src.ndim != 2 or src.shape[1] != 2:
            raise ValueError(f"expected (V, 2) src, got {src.shape}")
        if backdrop is not None and not 0 <= backdrop <= len(triangles):
            raise ValueError(f"backdrop must be in 0..{len(triangles)}, got {backdrop}")
        self.triangles = np.ascontiguousarray(triangles)
        self._vertices = len(src)
        self._frames = _source_frames(src, self.triangles)
        self._backdrop, self._backdrop_step = backdrop, backdrop_step

    def __call__(self, dst: np.ndarray, depth: np.ndarray, size: tuple[int, int], step: int = 2,
                 exact: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
        """The backward map for target vertex positions.

        Args:
            dst: (V, 2) float target vertex positions, pixels (x right, y down).
            depth: (T,) float per-triangle depth; smaller is nearer the camera.
            size: (height, width) of the output map.
            step: grid step in pixels (1 = exact, 2..4 faster).
            exact: (x0, y0, x1, y1) output boxes (x1, y1 exclusive) mapped at every pixel.

        Returns:
            (height, width, 2) float32 map of source (x, y) for cv2.remap; pixels covered by no
            triangle map to themselves.

        Raises:
            ValueError: `dst` not the shape of the source's vertices.
        """
        if dst.shape != (self._vertices, 2):
            raise ValueError(f"expected (V, 2) dst and src, got {dst.shape} and {(self._vertices, 2)}")
        h, w = size
        triangles, frames, split = self.triangles, self._frames, self._backdrop
        rank = _ranks(depth, split)
        if split is None:
            grid = _rasterize(dst, frames, triangles, rank, size, step)
        else:
            coarse = max(step, self._backdrop_step)
            behind = _rasterize(dst, frames[split:], triangles[split:], rank[split:], size, coarse)
            under = _resample_grid(behind, coarse, step, size)
            grid = _rasterize(dst, frames[:split], triangles[:split], rank[:split], size, step, under=under)
        if step > 1:
            grid = cv2.resize(grid, (grid.shape[1] * step, grid.shape[0] * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
        if len(exact):
            a, b, c = dst[triangles[:, 0]], dst[triangles[:, 1]], dst[triangles[:, 2]]
            lo, hi = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
        for x0, y0, x1, y1 in exact:
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 > x0 and y1 > y0:
                near = np.flatnonzero((hi[:, 0] >= x0 - 1) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0 - 1) & (lo[:, 1] <= y1))
                grid[y0:y1, x0:x1] = _rasterize(dst - (x0, y0), frames[near], triangles[near], rank[near],
                                                (y1 - y0, x1 - x0), 1, origin=(x0, y0))
        return grid


def _ranks(depth: np.ndarray, backdrop: int | None) -> np.ndarray:
    """(T,) int32 front-to-back order of the triangles (ties: the lower index in front), the
    backdrop's (`depth[backdrop:]`) all behind the rest. Two small sorts are faster than one."""
    parts = [depth] if backdrop is None else [depth[:backdrop], depth[backdrop:]]
    rank = np.empty(len(depth), dtype=np.int32)
    start = 0
    for part in parts:
        rank[start + np.argsort(part, kind="stable")] = np.arange(start, start + len(part), dtype=np.int32)
        start += len(part)
    return rank


def _rasterize(dst: np.ndarray, frames: np.ndarray, triangles: np.ndarray, rank: np.ndarray, size: tuple[int, int],
               step: int, origin: tuple[int, int] = (0, 0), under: np.ndarray | None = None) -> np.ndarray:
    """(ceil(h / step), ceil(w / step), 2) float32 source coordinates at the grid points (the
    centres of step x step blocks) for `triangles` with their source `frames` (_source_frames);
    uncovered points keep `under`'s values (drawn into), else the identity (`origin` is where
    `dst`'s (0, 0) lies in the output)."""
    h, w = size
    gh, gw = -(-h // step), -(-w // step)
    # Grid point (i, j) is at the centre of a step x step block of output pixels.
    g = (dst + 0.5) / step - 0.5
    a, b, c = g[triangles[:, 0]], g[triangles[:, 1]], g[triangles[:, 2]]
    lo = np.maximum(np.ceil(np.minimum(np.minimum(a, b), c)), 0).astype(np.int32)
    box = np.minimum(np.floor(np.maximum(np.maximum(a, b), c)), [gw - 1, gh - 1]).astype(np.int32) - lo + 1
    bary, ok = _barycentric_coefficients(a, b, c)
    # Triangles over some grid point (a small box sees few) that are not degenerate.
    tri = np.flatnonzero((box[:, 0] > 0) & (box[:, 1] > 0) & ok)
    counts = box[tri, 0] * box[tri, 1]

    # Candidate (triangle, grid point) pairs from each triangle's bounding box.
    cand = np.repeat(tri.astype(np.int32), counts)
    k = np.arange(len(cand), dtype=np.int32) - np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
    width = box[cand, 0]
    corner = np.take(lo, cand, axis=0)
    x = corner[:, 0] + k % width
    y = corner[:, 1] + k // width
    coef = np.take(bary, cand, axis=0)  # (n, 6): l1 and l2 as affine functions of (x, y)
    xf, yf = x.astype(np.float32), y.astype(np.float32)
    l1 = coef[:, 0] * xf + coef[:, 1] * yf + coef[:, 2]
    l2 = coef[:, 3] * xf + coef[:, 4] * yf + coef[:, 5]
    inside = np.flatnonzero((l1 >= -1e-4) & (l2 >= -1e-4) & (l1 + l2 <= 1.0001))
    cand, pix, l1, l2 = cand[inside], (y * gw + x)[inside], l1[inside], l2[inside]

    # Depth test: the front-most triangle (lowest rank) wins each grid point.
    zbuf = np.full(gh * gw, np.iinfo(np.int32).max, dtype=np.int32)
    cand_rank = rank[cand]
    np.minimum.at(zbuf, pix, cand_rank)
    win = np.flatnonzero(cand_rank == zbuf[pix])
    cand, pix, l1, l2 = cand[win], pix[win], l1[win], l2[win]

    # The source point: the same barycentric combination of the source corners.
    frame = np.take(frames, cand, axis=0)  # (n, 6): corner a, edges a->b, a->c
    grid = _identity_grid(gh, gw, step) + np.float32(origin) if under is None else under
    flat = grid.reshape(-1, 2)
    flat[pix, 0] = frame[:, 0] + l1 * frame[:, 2] + l2 * frame[:, 4]
    flat[pix, 1] = frame[:, 1] + l1 * frame[:, 3] + l2 * frame[:, 5]
    return grid


def _barycentric_coefficients(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 6) float32 [l1 = c0*x + c1*y + c2, l2 = c3*x + c4*y + c5] of triangles with
    corners a, b, c (each (T, 2); l1 weighs b, l2 weighs c), and (T,) non-degenerate."""
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-9
    inv = np.where(ok, 1.0 / np.where(ok, den, 1.0), 0.0)
    c0, c1 = v1[:, 1] * inv, -v1[:, 0] * inv
    c3, c4 = -v0[:, 1] * inv, v0[:, 0] * inv
    coef = np.stack([c0, c1, -(c0 * a[:, 0] + c1 * a[:, 1]), c3, c4, -(c3 * a[:, 0] + c4 * a[:, 1])], axis=1)
    return coef.astype(np.float32), ok


def _source_frames(src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 6) float32 per triangle: its first source corner, and the edges from it to the
    second and third (a point with barycentric l1, l2 is corner + l1 edge1 + l2 edge2)."""
    s = src.astype(np.float32)
    a = s[triangles[:, 0]]
    return np.concatenate([a, s[triangles[:, 1]] - a, s[triangles[:, 2]] - a], axis=1)


def _resample_grid(coarse: np.ndarray, coarse_step: int, step: int, size: tuple[int, int]) -> np.ndarray:
    """A grid map of step `coarse_step` bilinearly resampled at the points of step `step`."""
    h, w = size
    return cv2.remap(coarse, *_coarse_coordinates((-(-h // step), -(-w // step)), step, coarse_step), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=8)
def _coarse_coordinates(shape: tuple[int, int], step: int, coarse_step: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 maps: where each point of a step grid lies in a coarse_step grid's indices."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    to_coarse = np.float32(step / coarse_step)
    offset = np.float32(0.5 * step / coarse_step - 0.5)
    return xs * to_coarse + offset, ys * to_coarse + offset


@lru_cache(maxsize=8)
def _identity_grid(gh: int, gw: int, step: int) -> np.ndarray:
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    return np.stack([(xs + 0.5) * step - 0.5, (ys + 0.5) * step - 0.5], axis=-1)


def polygon_coverage(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 0..1 how much of each pixel a polygon covers (anti-aliased edge).

    Args:
        polygon: (K, 2) float vertices in pixels (x right, y down); size: (h, w).
    """
    mask = np.zeros(size, np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 8).astype(np.int32)], 1.0, cv2.LINE_AA, shift=3)
    return mask


def contour_y(contour: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a corner-to-corner contour ((K, 2) x, y) at each x of `xs`, held at its ends."""
    order = np.argsort(contour[:, 0])
    return np.interp(xs, contour[order, 0], contour[order, 1])
