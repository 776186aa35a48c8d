"""Baselines the evaluation runs beside facedyn on the same frames."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facedyn.geometry.pose import umeyama
from facedyn.render.control_mesh import border_points
from facedyn.render.rasterize import backward_map

BORDER_POINTS = 8  # fixed points per image side, so the background stays put


class LandmarkWarp:
    """The landmark-based approach that 3D dynamics is meant to beat: a plain 2D piecewise-
    affine warp (Delaunay over the landmarks and fixed border points) that moves the source's
    landmarks to the driver's absolute 2D landmarks. No pose, no depth, no occlusion, no
    mouth interior; the driver's face shape comes along (identity leak).

    Args:
        image: (H, W, 3) uint8 RGB source.
        landmarks: (478, 2+) source landmarks in `image` pixels.
        driver_reference: (478, 2+) the driver's landmarks in its reference frame. One
            similarity transform, fitted from these to the source's, carries every driver
            frame into the source's pixels (None: the driver is already in them).
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, driver_reference: np.ndarray | None = None) -> None:
        self.image = image
        h, w = image.shape[:2]
        self._border = border_points(h, w, BORDER_POINTS)
        self._src = np.vstack([landmarks[:, :2], self._border])
        self._triangles = Delaunay(self._src).simplices
        self._align = umeyama(driver_reference[:, :2], landmarks[:, :2]) if driver_reference is not None else None

    def __call__(self, driver_points: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 frame for (478, 2+) driver landmarks in the driver's pixels."""
        target = driver_points[:, :2]
        if self._align is not None:
            rot, t, s = self._align
            target = s * target @ rot.T + t
        dst = np.vstack([target, self._border])
        warp = backward_map(dst, self._src, self._triangles, np.zeros(len(self._triangles)), self.image.shape[:2], step=2)
        return cv2.remap(self.image, warp, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

