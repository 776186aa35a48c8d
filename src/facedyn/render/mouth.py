"""The mouth interior: where the target mouth opens wider than the source's, take it from the
driving frame, colour-matched to the source and feathered into the lips."""

from __future__ import annotations

import cv2
import numpy as np

from facedyn.geometry.pose import umeyama
from facedyn.tracking import topology as T

OPEN_MARGIN = 0.04  # opening (gap / mouth width) beyond the source's before the driver's interior shows
FULL_AFTER = 0.10  # ... fully shown this much further


def interior_alpha(target: np.ndarray, source_opening: float) -> float:
    """How much of the driver's mouth interior to show (0..1) for target landmarks (478, 2+)."""
    extra = float(T.mouth_opening(target)) - source_opening - OPEN_MARGIN
    return float(np.clip(extra / FULL_AFTER, 0.0, 1.0))


def paste_interior(
    out: np.ndarray,
    target: np.ndarray,
    driving: np.ndarray,
    driving_points: np.ndarray,
    gain: np.ndarray,
    alpha: float,
) -> None:
    """Blend the driving frame's mouth interior into `out` in place.

    Args:
        out: (H, W, 3) uint8 frame being composed.
        target: (478, 2+) target landmarks in `out` pixels.
        driving: (h, w, 3) uint8 driving frame; driving_points: (478, 2+) its landmarks.
        gain: (3,) per-channel colour gain (source skin / driver skin).
        alpha: overall opacity 0..1.
    """
    dst = target[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
    src = driving_points[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
    rot, shift, scale = umeyama(src, dst)
    H, W = out.shape[:2]
    pad = 3
    x0, y0 = np.maximum(np.floor(dst.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(dst.max(0)).astype(int) + pad, [W - 1, H - 1])
    if x1 <= x0 or y1 <= y0:
        return
    roi_w, roi_h = x1 - x0 + 1, y1 - y0 + 1
    m_roi = np.column_stack([scale * rot, shift - (x0, y0)])  # driving frame -> ROI pixels
    patch = cv2.warpAffine(driving, m_roi, (roi_w, roi_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    patch = np.clip(patch.astype(np.float32) * gain, 0, 255)
    mask = np.zeros((roi_h, roi_w), np.float32)
    cv2.fillPoly(mask, [np.round(dst - [x0, y0]).astype(np.int32)], 1.0)
    feather = max(1.0, 0.03 * float(np.ptp(dst[:, 0])))
    mask = cv2.GaussianBlur(mask, (0, 0), feather) * mask * alpha  # soft inside the lips, never over them
    region = out[y0: y1 + 1, x0: x1 + 1].astype(np.float32)
    out[y0: y1 + 1, x0: x1 + 1] = (region + (patch - region) * mask[..., None]).astype(np.uint8)
