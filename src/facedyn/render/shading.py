"""Fold shading: a warp moves the photo's pixels but draws no folds, so lowered brows or a
broad smile look pasted on. Skin that the motion compresses between the brows and the mouth
(between and under lowered brows, between a raised cheek and the mouth, beside a wrinkled
nose) is darkened as a fold's shadow would darken it. The forehead and chin are left alone:
their folds are thin lines, and an even shadow over them reads as a smudge."""

from __future__ import annotations

import cv2
import numpy as np

from facedyn.geometry.folds import signed_areas, sizable
from facedyn.tracking import topology as T

DEAD_ZONE = 0.12  # log area ratio of compression that shows nothing (tracking noise, speech)
FULL = 0.45  # ... and that shows the darkest shadow
DEPTH = 0.25  # share of brightness the darkest shadow takes away (green channel)
SOFTNESS = 0.012  # blur of the shadow map, in face heights
ZONE_FADE = 0.03  # the shaded band's edges (brow tops, mouth corners) fade over this, face heights


class FoldShader:
    """Darkens compressed skin of one source face.

    Args:
        source_head: (478, 3) float source landmarks in its pose-free head frame.
        skin: (3,) float mean RGB of the source's skin; the shadow keeps its hue (a warm shadow
            on warm skin, a grey one on a black-and-white photo).
        strength: 0 (off) .. 1 (full DEPTH).
    """

    def __init__(self, source_head: np.ndarray, skin: np.ndarray, strength: float = 1.0) -> None:
        self._rest = signed_areas(source_head)
        y = source_head[T.face_triangles(), 1].mean(axis=1)
        top = source_head[np.concatenate([T.RIGHT_BROW, T.LEFT_BROW]), 1].min()
        bottom = source_head[[61, 291], 1].mean()
        band = np.clip((y - top) / ZONE_FADE, 0, 1) * np.clip((bottom - y) / ZONE_FADE + 1, 0, 1)
        self._weight = np.where(sizable(self._rest), band, 0.0)
        self.strength = strength
        tint = np.sqrt(np.mean(skin) / np.maximum(skin, 1.0))  # darken the weaker channels more
        self._tint = (tint / tint[1]).astype(np.float32)  # DEPTH is the green channel's

    def compression(self, target_head: np.ndarray) -> np.ndarray:
        """(T,) 0..1 shadow per surface triangle for target landmarks (478, 3) in the head frame."""
        ratio = signed_areas(target_head) / self._rest
        squeeze = -np.log(np.clip(ratio, 1e-3, None))  # a folded-over triangle counts as fully squeezed
        return self._weight * np.clip((squeeze - DEAD_ZONE) / (FULL - DEAD_ZONE), 0, 1)

    def shade(self, out: np.ndarray, target_px: np.ndarray, target_head: np.ndarray, face_height: float) -> None:
        """Darken `out` in place where the target compresses the skin.

        Args:
            out: (H, W, 3) uint8 frame being composed.
            target_px: (478, 2+) target landmarks in `out` pixels.
            target_head: (478, 3) the same in the head frame.
            face_height: face height in `out` pixels (sets the shadow's softness).
        """
        if self.strength <= 0:
            return
        dark = self.compression(target_head)
        if not dark.any():
            return
        tris = T.face_triangles()[dark > 0]
        pts = target_px[:, :2]
        sigma = max(1.0, SOFTNESS * face_height)
        pad = int(3 * sigma) + 1
        h, w = out.shape[:2]
        x0, y0 = np.maximum(np.floor(pts[tris].reshape(-1, 2).min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(pts[tris].reshape(-1, 2).max(0)).astype(int) + pad, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        shadow = np.zeros((y1 - y0, x1 - x0), np.float32)
        for tri, value in zip(tris, dark[dark > 0], strict=True):
            corners = np.round((pts[tri] - (x0, y0)) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
            cv2.fillConvexPoly(shadow, corners, float(value), lineType=cv2.LINE_AA, shift=2)
        shadow = cv2.GaussianBlur(shadow, (0, 0), sigma)
        region = out[y0:y1, x0:x1].astype(np.float32)
        region *= 1.0 - DEPTH * self.strength * np.clip(shadow, 0, 1)[..., None] * self._tint
        out[y0:y1, x0:x1] = region.astype(np.uint8)
