"""A built-in motion made from numbers alone (for the demo and tests): no video needed."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion
from facedyn.geometry import regions
from facedyn.geometry.pose import angles_to_rotation, template


def _bump(t: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """A smooth 0..1..0 pulse (raised cosine)."""
    x = np.clip((t - centre) / half_width, -1, 1)
    return 0.5 * (1 + np.cos(np.pi * x))


@dataclass(frozen=True)
class DemoDriver:
    """Head turns left and right, a nod, three blinks, the mouth opening twice.

    seconds: length; fps: frame rate.
    """

    seconds: float = 6.0
    fps: int = 25

    def curves(self) -> dict[str, np.ndarray]:
        """Per-frame yaw, pitch (degrees), blink and jaw (0..1)."""
        n = max(1, round(self.seconds * self.fps))
        t = np.arange(n) / self.fps * 6.0 / self.seconds  # laid out on a 6 s timeline
        yaw = 14 * np.sin(2 * np.pi * t / 3.0) * _bump(t, 1.6, 1.6)
        pitch = 8 * np.sin(2 * np.pi * (t - 3.3) / 1.0) * _bump(t, 3.8, 0.6)
        blink = sum(_bump(t, c, 0.12) for c in (0.9, 2.7, 5.2))
        jaw = 0.6 * _bump(t, 4.4, 0.45) + 0.35 * _bump(t, 5.5, 0.3)
        return {"yaw": yaw, "pitch": pitch, "blink": blink, "jaw": jaw}

    def open(self, tracker=None, source: FaceDynamics | None = None) -> Motion:
        neutral = template().shape.astype(np.float32)
        closed = regions.set_eye_gaps(neutral, np.zeros((2, 7)))
        jaw_amount = 0.35 * float(np.ptp(neutral[[61, 291], 0]))
        reference = FaceDynamics(np.eye(3), np.zeros(2), 1.0, neutral)
        c = self.curves()

        def frames():
            for yaw, pitch, blink, jaw in zip(c["yaw"], c["pitch"], c["blink"], c["jaw"], strict=True):
                shape = neutral + blink * (closed - neutral)
                shape = regions.open_jaw(shape, jaw * jaw_amount)
                rot = angles_to_rotation(yaw, pitch, 0.0)
                yield DrivingFrame(FaceDynamics(rot, np.zeros(2), 1.0, shape.astype(np.float32)))

        return Motion(reference, frames(), Fraction(self.fps), len(c["yaw"]), closed_gap=regions.mouth_gap(neutral))
