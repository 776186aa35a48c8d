"""A vectorised One-Euro filter against landmark jitter (Casiez et al., CHI 2012)."""

from __future__ import annotations

import math

import numpy as np

from facedyn.tracking import topology as T


class OneEuroFilter:
    """Adaptive low-pass filter: smooth when still, little lag when moving fast.

    Filters every element of an array of any shape independently; call it once per frame.

    Args:
        fps: frame rate of the stream, > 0.
        min_cutoff: cutoff frequency in Hz at rest (lower = smoother, more lag); 0.5..5.
        beta: how fast the cutoff rises with speed (higher = less lag on fast moves);
            in 1/(units per second), so scale it with the units of the signal.
        d_cutoff: cutoff in Hz for the speed estimate.
    """

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 0.5, d_cutoff: float = 1.0):
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.dt = 1.0 / fps
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / self.dt)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter one sample; returns an array of x's shape (float64)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) / self.dt
        a_d = self._alpha(self.d_cutoff)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._dx))
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


# One-Euro settings in face heights. Positions: steady at rest, little lag on head moves.
# Openings (the vertical gap of each lid and lip pair): fast, so that a blink of three frames
# keeps its depth (with the position settings a 25 fps blink lost a third of it).
POSITION_SMOOTHING = {"min_cutoff": 1.5, "beta": 20.0, "d_cutoff": 1.0}
OPENING_SMOOTHING = {"min_cutoff": 6.0, "beta": 50.0, "d_cutoff": 10.0}


class LandmarkSmoother:
    """Smooths (478, 3) face landmarks frame by frame, keeping the eyes' and mouth's openings.

    Every landmark is One-Euro filtered in face heights; then each lid pair and inner-lip pair
    (topology.*_PAIRS) is set back around its smoothed midpoint with its own gap (upper to
    lower, 2D), filtered much faster: jitter goes, blinks and speech stay.

    Args:
        fps: frame rate of the stream, > 0.
        positions, openings: One-Euro settings (OneEuroFilter's arguments) for the two.
    """

    def __init__(self, fps: float, positions: dict = POSITION_SMOOTHING, openings: dict = OPENING_SMOOTHING) -> None:
        self._pairs = np.concatenate([T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS, T.MOUTH_PAIRS])
        self._positions = OneEuroFilter(fps, **positions)
        self._openings = OneEuroFilter(fps, **openings)
        self._unit: float | None = None

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """The smoothed (478, 3) landmarks of the next frame (pixels in, pixels out)."""
        self._unit = self._unit or float(T.face_size(points))
        unit, upper, lower = self._unit, self._pairs[:, 0], self._pairs[:, 1]
        out = self._positions(points / unit) * unit
        gap = self._openings((points[lower, :2] - points[upper, :2]) / unit) * unit
        middle = (out[upper, :2] + out[lower, :2]) / 2
        out[upper, :2], out[lower, :2] = middle - gap / 2, middle + gap / 2
        return out
