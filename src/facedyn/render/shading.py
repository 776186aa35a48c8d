"""Fold shading: a warp moves the photo's pixels but draws no folds, so lowered brows or a
broad smile look pasted on. Two things are drawn where the motion compresses the skin:

- a soft shadow between the brows and the mouth (between and under lowered brows, between a
  raised cheek and the mouth, beside a wrinkled nose), as a fold's shadow darkens it;
- creases on the forehead and the glabella: thin dark lines across the direction of squeeze
  (raised brows line the forehead, brows drawn together line the glabella vertically). An
  even shadow there reads as a smudge; lines do not. Elsewhere (around the mouth, on the chin,
  under the brows) evenly spaced lines read as stubble or stripes, so the shadow stays alone.

Creases are laid out in the source's head frame, so they stay on the skin as it moves."""

from __future__ import annotations

import cv2
import numpy as np

from facedyn.geometry import regions
from facedyn.geometry.folds import signed_areas, sizable
from facedyn.tracking import topology as T

DEAD_ZONE = 0.12  # log area ratio of compression that shows nothing (tracking noise, speech)
FULL = 0.45  # ... and that shows the darkest shadow
DEPTH = 0.25  # share of brightness the darkest shadow takes away (green channel)
SOFTNESS = 0.012  # blur of the shadow map, in face heights
ZONE_FADE = 0.03  # the shaded band's edges (brow tops, mouth corners) fade over this, face heights
CREASE_SQUEEZE = (0.15, 0.5)  # -log of the stretch along the squeeze axis: no crease .. darkest
CREASE_DEPTH = 0.18  # share of brightness the middle of the darkest crease takes away
CREASE_SPACING = 0.04  # distance between neighbouring creases, face heights
CREASE_SHARPNESS = 3  # power of the raised cosine: a crease is about a third of the spacing wide


class FoldShader:
    """Darkens compressed skin of one source face.

    Args:
        source_head: (478, 3) float source landmarks in its pose-free head frame.
        source_px: (478, 2+) the same landmarks in the pixels of the image the warp samples.
        skin_rgb: (3,) float mean RGB of the source's skin; the shadow keeps its hue (a warm shadow
            on warm skin, a grey one on a black-and-white photo).
        strength: 0 (off) .. 1 (full DEPTH).
    """

    def __init__(self, source_head: np.ndarray, source_px: np.ndarray, skin_rgb: np.ndarray,
                 strength: float = 1.0) -> None:
        skin = sizable(signed_areas(source_head))
        weight = np.where(skin, _shadow_zone(source_head), 0.0)
        self._shaded = np.flatnonzero(weight > 0)  # only these can darken: the per-frame normals skip the rest
        self._shaded_weight = weight[self._shaded]
        self._shaded_triangles = T.face_triangles()[self._shaded]
        self._rest_normals = _normals(source_head, self._shaded_triangles)
        self._rest_lengths = np.maximum(np.linalg.norm(self._rest_normals, axis=1), 1e-12)
        crease_weight = np.where(skin, _crease_zone(source_head), 0.0)
        self._creased = np.flatnonzero(crease_weight > 0)  # only these can crease: the per-frame SVD skips the rest
        self._crease_weight = crease_weight[self._creased]
        tris = T.face_triangles()[self._creased]
        edges = source_head[tris[:, 1:], :2] - source_head[tris[:, :1], :2]  # (K, 2, 2) rows are edges
        self._rest_inverse = np.linalg.pinv(edges)
        # Pixel -> head frame, for laying creases out on the skin, with the origin between the
        # brows so that the glabella's pair of creases is centred on the midline.
        design = np.column_stack([source_px[:, :2], np.ones(len(source_px))])
        to_head = np.linalg.lstsq(design, source_head[:, :2], rcond=None)[0]
        self._px_linear = to_head[:2].astype(np.float32)
        self._px_offset = (to_head[2] - source_head[[55, 285], :2].mean(axis=0)).astype(np.float32)
        self.strength = strength
        tint = np.sqrt(np.mean(skin_rgb) / np.maximum(skin_rgb, 1.0))  # darken the weaker channels more
        self._tint = (tint / tint[1]).astype(np.float32)  # DEPTH is the green channel's

    def compression(self, target_head: np.ndarray) -> np.ndarray:
        """(T,) 0..1 shadow per surface triangle for target landmarks (478, 3) in the head frame."""
        # 3D areas and normals, not the front view's: a steep triangle (the side of the nose, the
        # cheek by the ear) changes its projected area, or turns edge-on, with the slightest
        # turn of the photo's head, which shaded one side only.
        normals = _normals(target_head, self._shaded_triangles)
        ratio = np.linalg.norm(normals, axis=1) / self._rest_lengths
        ratio[np.sum(normals * self._rest_normals, axis=1) <= 0] = 1e-3  # turned over: fully squeezed
        squeeze = -np.log(np.clip(ratio, 1e-3, None))
        dark = np.zeros(len(T.face_triangles()))
        dark[self._shaded] = self._shaded_weight * np.clip((squeeze - DEAD_ZONE) / (FULL - DEAD_ZONE), 0, 1)
        return dark

    def squeeze(self, target_head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crease strength (T,) 0..1 and squeeze axis (T, 2) unit vectors in the source head
        frame, per surface triangle, for target landmarks (478, 3) in the head frame."""
        tris = T.face_triangles()[self._creased]
        edges = target_head[tris[:, 1:], :2] - target_head[tris[:, :1], :2]
        # Rows are edges, so the deformation acts from the right: edges_t = edges_r @ M.
        deformation = self._rest_inverse @ edges
        stretch, axis = _least_stretch(deformation)
        det = deformation[:, 0, 0] * deformation[:, 1, 1] - deformation[:, 0, 1] * deformation[:, 1, 0]
        least = np.where(det > 0, stretch, 1e-3)  # turned over: fully squeezed
        low, high = CREASE_SQUEEZE
        amount = np.zeros(len(T.face_triangles()))
        amount[self._creased] = self._crease_weight * np.clip((-np.log(np.clip(least, 1e-3, None)) - low) / (high - low), 0, 1)
        axes = np.zeros((len(amount), 2))
        axes[self._creased] = axis
        return amount, axes

    def shade(self, out: np.ndarray, target_px: np.ndarray, target_head: np.ndarray, face_height: float,
              warp: np.ndarray) -> None:
        """Darken `out` in place where the target compresses the skin.

        Args:
            out: (H, W, 3) uint8 frame being composed.
            target_px: (478, 2+) target landmarks in `out` pixels.
            target_head: (478, 3) the same in the head frame.
            face_height: face height in `out` pixels (sets the shadow's softness).
            warp: (H, W, 2) float32 backward map of `out`: the source pixel each pixel shows.
        """
        if self.strength <= 0:
            return
        dark = self.compression(target_head)
        creases, axes = self.squeeze(target_head)
        shown = (dark > 0) | (creases > 0)
        if not shown.any():
            return
        tris = T.face_triangles()[shown]
        pts = target_px[:, :2]
        sigma = max(1.0, SOFTNESS * face_height)
        pad = int(3 * sigma) + 1
        h, w = out.shape[:2]
        x0, y0 = np.maximum(np.floor(pts[tris].reshape(-1, 2).min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(pts[tris].reshape(-1, 2).max(0)).astype(int) + pad, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        # Per triangle: shadow, crease strength, and the squeeze axis as a tensor (sign-free, so
        # that neighbouring axes average instead of cancelling).
        ax, ay = axes[shown, 0], axes[shown, 1]
        s = creases[shown]
        values = np.column_stack([dark[shown], s * ax * ax, s * ax * ay, s * ay * ay])
        maps = np.zeros((y1 - y0, x1 - x0, 4), np.float32)
        corners = np.round((pts[tris] - (x0, y0)) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
        for corner, value in zip(corners, values.tolist(), strict=True):
            cv2.fillConvexPoly(maps, corner, value, lineType=cv2.LINE_AA, shift=2)
        maps = cv2.GaussianBlur(maps, (0, 0), sigma)
        darkness = DEPTH * np.clip(maps[..., 0], 0, 1)
        if s.any():
            darkness += CREASE_DEPTH * self._crease_lines(maps, warp[y0:y1, x0:x1])
        np.clip(darkness, 0, 0.9, out=darkness)
        darkness *= self.strength
        keep = np.multiply(darkness[..., None], self._tint)  # in place from here: these are the largest arrays
        np.subtract(1.0, keep, out=keep)
        keep *= out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = keep.astype(np.uint8)

    def _crease_lines(self, maps: np.ndarray, warp: np.ndarray) -> np.ndarray:
        """(h, w) 0..1 crease darkness from blurred axis tensors `maps` (h, w, 4; channels 1..3)
        and the source pixels `warp` (h, w, 2) the region shows."""
        out = np.zeros(maps.shape[:2], np.float32)
        lined = maps[..., 1] + maps[..., 3] > 1e-3  # the tensor's trace is the blurred crease strength
        xx, xy, yy = maps[lined, 1], maps[lined, 2], maps[lined, 3]
        angle = 0.5 * np.arctan2(2 * xy, xx - yy)
        head = warp[lined] @ self._px_linear + self._px_offset
        along = head[:, 0] * np.cos(angle) + head[:, 1] * np.sin(angle)
        # Offset by half a spacing: the glabella's two creases sit either side of the midline.
        profile = (0.5 + 0.5 * np.cos(2 * np.pi * (along / CREASE_SPACING + 0.5))) ** CREASE_SHARPNESS
        out[lined] = np.clip(xx + yy, 0, 1) * profile
        return out


def _normals(head: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(K, 3) normals of triangles `tris` (K, 3) of `head` (478, 3), as long as twice their area."""
    a = head[tris[:, 0]]
    u, v = head[tris[:, 1]] - a, head[tris[:, 2]] - a
    # np.cross, written out: it is several times slower on many small vectors.
    return np.column_stack([u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1], u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
                            u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]])


def _least_stretch(deformation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least singular value (K,) of each (K, 2, 2) matrix D and its axis (K, 2): the unit
    eigenvector of D D^T for the least eigenvalue (the right singular vector of D^T; its sign
    is arbitrary). Closed form: a batched SVD is slow on many 2 x 2 matrices."""
    d = deformation
    p = d[:, 0, 0] ** 2 + d[:, 0, 1] ** 2
    q = d[:, 0, 0] * d[:, 1, 0] + d[:, 0, 1] * d[:, 1, 1]
    r = d[:, 1, 0] ** 2 + d[:, 1, 1] ** 2
    least = 0.5 * (p + r) - np.hypot(0.5 * (p - r), q)
    major = 0.5 * np.arctan2(2.0 * q, p - r)  # the axis of the largest eigenvalue
    return np.sqrt(np.maximum(least, 0.0)), np.column_stack([-np.sin(major), np.cos(major)])


def _triangle_centres(head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y (T,) of the surface triangles' centres of `head` (478, 3)."""
    centres = head[T.face_triangles(), :2].mean(axis=1)
    return centres[:, 0], centres[:, 1]


def _shadow_zone(head: np.ndarray) -> np.ndarray:
    """(T,) 0..1 where the soft shadow may show, from rest landmarks (478, 3) in the head
    frame: the band from the brow tops to the mouth corners, less the skin between the nose
    and the upper lip (a raised upper lip squeezes it, but a shadow there reads as a
    moustache), each edge fading over ZONE_FADE."""
    x, y = _triangle_centres(head)
    top = head[regions.BROWS, 1].min()
    bottom = head[[61, 291], 1].mean()
    band = np.clip((y - top) / ZONE_FADE, 0, 1) * np.clip((bottom - y) / ZONE_FADE + 1, 0, 1)
    half_mouth = 0.5 * abs(head[291, 0] - head[61, 0])
    upper_lip = (np.clip((half_mouth - np.abs(x - head[T.NOSE_TIP, 0])) / ZONE_FADE + 0.5, 0, 1)
                 * np.clip((y - head[2, 1]) / ZONE_FADE + 0.5, 0, 1))  # below the base of the nose (2)
    return band * (1.0 - upper_lip)


def _crease_zone(head: np.ndarray) -> np.ndarray:
    """(T,) 0..1 where creases may show, from rest landmarks (478, 3) in the head frame: the
    forehead above the brows, and the glabella between the inner brow ends down to the top
    of the eyes, fading over ZONE_FADE."""
    x, y = _triangle_centres(head)
    forehead = np.clip((head[regions.BROWS, 1].min() - y) / ZONE_FADE + 0.5, 0, 1)
    inner = np.abs(head[[55, 285], 0] - head[T.NOSE_TIP, 0]).mean()
    eyes_top = head[regions.EYELIDS, 1].min()
    glabella = (np.clip((inner - np.abs(x - head[T.NOSE_TIP, 0])) / ZONE_FADE + 0.5, 0, 1)
                * np.clip((eyes_top - y) / ZONE_FADE + 0.5, 0, 1))
    return np.maximum(forehead, glabella)
