"""The mouth interior: where the target mouth opens wider than the source's, take it from the
driving frame (colour-matched to the source), or, when there is no driving frame, synthesise
one (cavity shading, upper and lower teeth) in colours taken from the source; either way
feathered into the lips."""

from __future__ import annotations

from dataclasses import dataclass

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
    box = _roi(out, dst)
    if box is None:
        return
    x0, y0, roi_w, roi_h = box
    m_roi = np.column_stack([scale * rot, shift - (x0, y0)])  # driving frame -> ROI pixels
    patch = cv2.warpAffine(driving, m_roi, (roi_w, roi_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    _blend(out, np.clip(patch.astype(np.float32) * gain, 0, 255), dst, box, alpha)


@dataclass(frozen=True)
class InteriorColours:
    """RGB float colours of a synthesised mouth interior, taken from the source photo."""

    cavity: np.ndarray  # (3,) the dark back of the mouth
    teeth: np.ndarray  # (3,) the teeth


def interior_colours(image: np.ndarray, landmarks: np.ndarray) -> InteriorColours:
    """Colours for a synthesised interior from the source's lips and overall brightness.

    Args:
        image: (H, W, 3) uint8 RGB source; landmarks: (478, 2+) its landmarks in pixels.
    """
    h, w = image.shape[:2]
    lips = np.concatenate([T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER])
    xy = np.clip(np.round(landmarks[lips, :2]).astype(int), 0, [w - 1, h - 1])
    lip = image[xy[:, 1], xy[:, 0]].astype(np.float32).mean(0)
    face = landmarks[T.FACE_OVAL, :2]
    x0, y0 = np.clip(face.min(0).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(face.max(0).astype(int), 0, [w - 1, h - 1])
    light = float(np.clip(image[y0: y1 + 1, x0: x1 + 1].mean() / 140.0, 0.55, 1.1))
    teeth = np.array([238.0, 232.0, 218.0]) * light * 0.85 + lip * 0.15  # a trace of the lips' warmth
    return InteriorColours(cavity=lip * 0.22, teeth=np.clip(teeth, 0, 255).astype(np.float32))


def synthesize_interior(out: np.ndarray, target: np.ndarray, colours: InteriorColours, alpha: float) -> None:
    """Draw a mouth interior inside the target's inner lips, in place: a cavity darker towards
    the back, upper teeth hanging from the upper lip across the front of the mouth, lower
    teeth showing a little above the lower lip.

    Args:
        out: (H, W, 3) uint8 frame being composed.
        target: (478, 2+) target landmarks in `out` pixels.
        colours: from `interior_colours`.
        alpha: overall opacity 0..1.
    """
    dst = target[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
    box = _roi(out, dst)
    if box is None:
        return
    x0, y0, roi_w, roi_h = box
    xs, ys = np.meshgrid(np.arange(roi_w, dtype=np.float32) + x0, np.arange(roi_h, dtype=np.float32) + y0)
    left, right = target[61, :2], target[291, :2]
    width = max(float(np.linalg.norm(right - left)), 1.0)
    upper = _lip_curve(target[T.LIPS_INNER_UPPER, :2], xs)
    lower = _lip_curve(target[T.LIPS_INNER_LOWER, :2], xs)
    across = np.abs((xs - (left[0] + right[0]) / 2) / (width / 2))  # 0 centre .. 1 corners
    depth = np.clip((ys - upper) / np.maximum(lower - upper, 1.0), 0, 1)  # 0 at the upper lip .. 1 at the lower
    shade = (0.6 + 0.4 * np.clip(across, 0, 1) ** 2) * (1.2 - 0.6 * np.sin(np.pi * depth))  # darkest deep in the centre
    patch = colours.cavity[None, None, :] * shade[..., None]
    front = np.clip(1.3 - across * 1.25, 0, 1)  # teeth fade out towards the corners
    upper_teeth = (ys - upper < 0.11 * width) * front
    lower_teeth = (lower - ys < 0.05 * width) * np.clip(1.0 - across * 1.6, 0, 1)
    gaps = 1.0 - 0.18 * (np.cos(2 * np.pi * (xs - (left[0] + right[0]) / 2) / (0.13 * width)) > 0.93)
    teeth = colours.teeth[None, None, :] * (gaps * (1.0 - 0.25 * across))[..., None]
    patch = patch + (teeth - patch) * np.clip(upper_teeth + 0.85 * lower_teeth, 0, 1)[..., None]
    _blend(out, patch, dst, box, alpha)


def _lip_curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a corner-to-corner lip contour at each x of `xs`."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1]).astype(np.float32)


def _roi(out: np.ndarray, dst: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, width, height) of the box around the mouth polygon, inside `out`."""
    H, W = out.shape[:2]
    pad = 3
    x0, y0 = np.maximum(np.floor(dst.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(dst.max(0)).astype(int) + pad, [W - 1, H - 1])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)


def _blend(out: np.ndarray, patch: np.ndarray, dst: np.ndarray, box: tuple[int, int, int, int], alpha: float) -> None:
    """Blend (h, w, 3) float `patch` into `out` at `box`, inside the polygon `dst`, feathered."""
    x0, y0, roi_w, roi_h = box
    mask = np.zeros((roi_h, roi_w), np.float32)
    cv2.fillPoly(mask, [np.round(dst - [x0, y0]).astype(np.int32)], 1.0)
    feather = max(1.0, 0.03 * float(np.ptp(dst[:, 0])))
    mask = cv2.GaussianBlur(mask, (0, 0), feather) * mask * alpha  # soft inside the lips, never over them
    region = out[y0: y0 + roi_h, x0: x0 + roi_w].astype(np.float32)
    out[y0: y0 + roi_h, x0: x0 + roi_w] = (region + (patch - region) * mask[..., None]).astype(np.uint8)
