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
) -> np.ndarray:
    """Per-pixel source coordinates for a triangle mesh moved from `src` to `dst`.

    Every target pixel takes the front-most triangle covering it (smallest depth) and the
    barycentric combination of that triangle's source vertices. The map is rasterised on a
    grid `step` times coarser than the output and resized (it is piecewise linear, so little
    is lost), all with array operations: no loop over triangles or pixels. Where the map
    jumps (two lips or lids that meet: between them the source's opening is squeezed to
    nothing) resizing would blend across the jump and smear the opening over the seam, so the
    `exact` boxes are rasterised at every pixel.

    Args:
        dst: (V, 2) float target vertex positions, pixels (x right, y down).
        src: (V, 2) float source vertex positions, pixels.
        triangles: (T, 3) int vertex indices.
        depth: (T,) float per-triangle depth; smaller is nearer the camera.
        size: (height, width) of the output map.
        step: grid step in pixels (1 = exact, 2..4 faster).
        exact: (x0, y0, x1, y1) output boxes (x1, y1 exclusive) mapped at every pixel.

    Returns:
        (height, width, 2) float32 map of source (x, y) for cv2.remap; pixels covered by no
        triangle map to themselves.
    """
    if dst.shape != src.shape or dst.ndim != 2 or dst.shape[1] != 2:
        raise ValueError(f"expected (V, 2) dst and src, got {dst.shape} and {src.shape}")
    h, w = size
    order = np.argsort(depth, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    grid = _rasterize(dst, src, triangles, rank, size, step)
    if step > 1:
        grid = cv2.resize(grid, (grid.shape[1] * step, grid.shape[0] * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
    if len(exact):
        corners = dst[triangles]  # (T, 3, 2)
        lo, hi = corners.min(axis=1), corners.max(axis=1)
    for x0, y0, x1, y1 in exact:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 > x0 and y1 > y0:
            near = np.flatnonzero((hi[:, 0] >= x0 - 1) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0 - 1) & (lo[:, 1] <= y1))
            grid[y0:y1, x0:x1] = _rasterize(dst - (x0, y0), src, triangles[near], rank[near], (y1 - y0, x1 - x0), 1,
                                            origin=(x0, y0))
    return grid


def _rasterize(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray, rank: np.ndarray, size: tuple[int, int],
               step: int, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(ceil(h / step), ceil(w / step), 2) float32 source coordinates at the grid points (the
    centres of step x step blocks); `origin` is where `dst`'s (0, 0) lies in the output, for
    the identity of uncovered points."""
    h, w = size
    gh, gw = -(-h // step), -(-w // step)
    # Grid point (i, j) is at the centre of a step x step block of output pixels.
    g = (dst + 0.5) / step - 0.5
    a, b, c = g[triangles[:, 0]], g[triangles[:, 1]], g[triangles[:, 2]]
    lo = np.maximum(np.ceil(np.minimum(np.minimum(a, b), c)), 0).astype(np.int32)
    hi = np.minimum(np.floor(np.maximum(np.maximum(a, b), c)), [gw - 1, gh - 1]).astype(np.int32)
    bw, bh = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    seen = np.flatnonzero((bw > 0) & (bh > 0))  # triangles over some grid point (a small box sees few)
    triangles, rank, a, b, c, lo, bw, bh = triangles[seen], rank[seen], a[seen], b[seen], c[seen], lo[seen], bw[seen], bh[seen]
    bary, ok = _barycentric_coefficients(a, b, c)
    tri = np.flatnonzero(ok)
    counts = (bw * bh)[tri]

    # Candidate (triangle, grid point) pairs from each triangle's bounding box.
    cand = np.repeat(tri.astype(np.int32), counts)
    k = np.arange(len(cand), dtype=np.int32) - np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
    width = bw[cand]
    x = lo[cand, 0] + k % width
    y = lo[cand, 1] + k // width
    coef = bary[cand]  # (n, 6): l1 and l2 as affine functions of (x, y)
    xf, yf = x.astype(np.float32), y.astype(np.float32)
    l1 = coef[:, 0] * xf + coef[:, 1] * yf + coef[:, 2]
    l2 = coef[:, 3] * xf + coef[:, 4] * yf + coef[:, 5]
    inside = (l1 >= -1e-4) & (l2 >= -1e-4) & (l1 + l2 <= 1.0001)
    cand, pix = cand[inside], (y * gw + x)[inside]
    xf, yf = xf[inside], yf[inside]

    # Depth test: the front-most triangle (lowest rank) wins each grid point.
    zbuf = np.full(gh * gw, np.iinfo(np.int32).max, dtype=np.int32)
    cand_rank = rank[cand]
    np.minimum.at(zbuf, pix, cand_rank)
    win = cand_rank == zbuf[pix]
    cand, pix, xf, yf = cand[win], pix[win], xf[win], yf[win]

    affine = _grid_to_source(bary, src, triangles)[cand]  # (n, 6)
    grid = _identity_grid(gh, gw, step) + np.float32(origin)
    flat = grid.reshape(-1, 2)
    flat[pix, 0] = affine[:, 0] * xf + affine[:, 1] * yf + affine[:, 2]
    flat[pix, 1] = affine[:, 3] * xf + affine[:, 4] * yf + affine[:, 5]
    return grid


def _barycentric_coefficients(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 6) float32 [l1 = c0*x + c1*y + c2, l2 = c3*x + c4*y + c5] and (T,) non-degenerate."""
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-9
    inv = np.where(ok, 1.0 / np.where(ok, den, 1.0), 0.0)
    c0, c1 = v1[:, 1] * inv, -v1[:, 0] * inv
    c3, c4 = -v0[:, 1] * inv, v0[:, 0] * inv
    coef = np.stack([c0, c1, -(c0 * a[:, 0] + c1 * a[:, 1]), c3, c4, -(c3 * a[:, 0] + c4 * a[:, 1])], axis=1)
    return coef.astype(np.float32), ok


def _grid_to_source(bary: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 6) float32 affine maps from grid (x, y) to source (x, y), one per triangle."""
    sa, sb, sc = src[triangles[:, 0]], src[triangles[:, 1]], src[triangles[:, 2]]
    e1, e2 = (sb - sa)[:, :, None], (sc - sa)[:, :, None]  # (T, 2, 1)
    l1, l2 = bary[:, None, 0:3].astype(np.float64), bary[:, None, 3:6].astype(np.float64)
    m = e1 * l1 + e2 * l2  # (T, 2, 3): src = sa + l1 e1 + l2 e2
    m[:, :, 2] += sa
    return m.reshape(-1, 6).astype(np.float32)


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
