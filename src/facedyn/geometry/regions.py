"""Soft face regions and the eyelid / jaw moves used to set eye and mouth opening.

All functions work on meshes in the pose-free head frame (478, 3), y pointing down.
"""

from __future__ import annotations

import numpy as np

from facedyn.tracking import topology as T

EYELIDS = np.concatenate([T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP])
EYES = np.concatenate([EYELIDS, T.RIGHT_IRIS, T.LEFT_IRIS])
BROWS = np.concatenate([T.RIGHT_BROW, T.LEFT_BROW])
MOUTH = np.unique(np.concatenate([T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER, T.LIPS_INNER_UPPER, T.LIPS_INNER_LOWER]))


def membership(shape: np.ndarray, region: np.ndarray, radius: float = 0.06) -> np.ndarray:
    """(478,) weight in 0..1 of each vertex in a region: 1 on it, falling off smoothly with
    2D head-frame distance (`radius` in face heights)."""
    d = np.linalg.norm(shape[:, None, :2] - shape[None, region, :2], axis=-1).min(axis=1)
    return np.exp(-((d / radius) ** 2))


def eye_gaps(shape: np.ndarray) -> np.ndarray:
    """(2, 7) vertical lid gaps (lower y - upper y) per eye [right, left] and lid pair."""
    return np.stack([shape[p[:, 1], 1] - shape[p[:, 0], 1] for p in (T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)])


def set_eye_gaps(shape: np.ndarray, gaps: np.ndarray, upper_share: float = 0.8) -> np.ndarray:
    """Move the lids so each lid pair's vertical gap becomes `gaps` (2, 7); returns a new mesh.

    The upper lid takes `upper_share` of the move, as in a real blink.
    """
    out = shape.copy()
    change = eye_gaps(shape) - gaps
    for k, pairs in enumerate((T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)):
        out[pairs[:, 0], 1] += upper_share * change[k]
        out[pairs[:, 1], 1] -= (1 - upper_share) * change[k]
    return out


def jaw_weights(shape: np.ndarray) -> np.ndarray:
    """(478,) how much each vertex follows the jaw when the mouth opens: 1 on the lower lip
    and chin, 0 above the mouth corners, fading to the sides."""
    mouth_y = shape[[61, 291], 1].mean()
    chin_y = shape[T.CHIN, 1]
    below = np.clip((shape[:, 1] - mouth_y) / (0.25 * (chin_y - mouth_y)), 0, 1)
    half_width = 0.9 * np.abs(shape[T.FACE_OVAL, 0] - shape[T.NOSE_TIP, 0]).max()
    side = np.clip(1.2 - np.abs(shape[:, 0] - shape[T.NOSE_TIP, 0]) / half_width, 0, 1)
    w = below * side
    w[T.LIPS_INNER_UPPER[1:-1]] = 0.0
    w[T.LIPS_INNER_LOWER[1:-1]] = 1.0
    return w


def mouth_gap(shape: np.ndarray) -> float:
    """Vertical inner-lip gap at the centre (lower lip y - upper lip y)."""
    return float(shape[14, 1] - shape[13, 1])


def open_jaw(shape: np.ndarray, amount: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Lower the jaw by `amount` head-frame units (negative closes); returns a new mesh."""
    w = jaw_weights(shape) if weights is None else weights
    out = shape.copy()
    out[:, 1] += amount * w
    out[:, 2] += 0.3 * amount * w  # the chin swings back a little as it drops
    return out
