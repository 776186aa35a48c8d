"""A vectorised One-Euro filter against landmark jitter (Casiez et al., CHI 2012)."""

from __future__ import annotations

import math

import numpy as np


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
