"""Motion from numbers: head pose and rig coefficients per frame (expressions, imagine,
motion files, ARKit CSV all end here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion
from facedyn.errors import InputError
from facedyn.geometry.folds import unfold
from facedyn.geometry.pose import angles_to_rotation, template
from facedyn.rig import BLENDSHAPES, Rig


@lru_cache(maxsize=1)
def shared_rig() -> Rig:
    """The default rig, built once per process."""
    return Rig()


def neutral_dynamics() -> FaceDynamics:
    """The rig's neutral: the template, facing the camera; parametric motion is relative to it."""
    return FaceDynamics(np.eye(3), np.zeros(2), 1.0, template().shape.astype(np.float32))


@dataclass(frozen=True)
class MotionTrack:
    """Facial dynamics as numbers, one row per frame.

    fps: frames per second (> 0).
    coefficients: (N, 52) float rig coefficients in BLENDSHAPES order, 0..1.
    angles: (N, 3) float head (yaw, pitch, roll) in degrees, relative to the photo's own pose
        (yaw > 0 turns the face towards the image's left, pitch > 0 up, roll > 0 clockwise).
    translation: (N, 2) float head movement in face heights (x right, y down); None = still.
    scale: (N,) float head size relative to the photo (1 = same); None = 1.
    """

    fps: float
    coefficients: np.ndarray
    angles: np.ndarray
    translation: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.coefficients)
        if self.coefficients.shape != (n, len(BLENDSHAPES)):
            raise InputError(f"expected ({n}, {len(BLENDSHAPES)}) coefficients, got {self.coefficients.shape}")
        if self.angles.shape != (n, 3):
            raise InputError(f"expected ({n}, 3) angles, got {self.angles.shape}")
        if n == 0:
            raise InputError("the motion has no frames")
        if not self.fps > 0:
            raise InputError(f"fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return len(self.coefficients)

    def open(self, tracker=None, source: FaceDynamics | None = None) -> Motion:
        """The motion stream (no tracker or source needed)."""
        rig = shared_rig()
        neutral = neutral_dynamics()
        n = len(self)
        translation = np.zeros((n, 2)) if self.translation is None else self.translation
        scale = np.ones(n) if self.scale is None else self.scale

        def frames() -> Iterator[DrivingFrame]:
            for k in range(n):
                shape = unfold(neutral.shape + rig.apply(self.coefficients[k]), neutral.shape).astype(np.float32)
                rotation = angles_to_rotation(*self.angles[k])
                yield DrivingFrame(FaceDynamics(rotation, translation[k], float(scale[k]), shape))

        return Motion(neutral, frames(), Fraction(self.fps).limit_denominator(1001), n)
