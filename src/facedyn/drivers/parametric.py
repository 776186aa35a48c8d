"""Motion from numbers: head pose and rig coefficients per frame (expressions, imagine,
motion files, ARKit CSV all end here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion
from facedyn.errors import InputError
from facedyn.geometry import regions
from facedyn.geometry.folds import unfold
from facedyn.geometry.pose import angles_to_rotation, template
from facedyn.rig import BLENDSHAPES, Rig
from facedyn.rig.expressions import MAX_SECONDS


@lru_cache(maxsize=1)
def shared_rig() -> Rig:
    """The default rig, built once per process."""
    return Rig()


def neutral_dynamics() -> FaceDynamics:
    """The rig's neutral: the template, facing the camera; parametric motion is relative to it."""
    return FaceDynamics(np.eye(3), np.zeros(2), 1.0, template().shape.astype(np.float32))


MIN_FPS, MAX_FPS = 1.0, 1000.0
# What a head may do in a motion file: beyond these the numbers are not a pose of this photo.
LIMITS = {"angles": (-180.0, 180.0), "translation": (-10.0, 10.0), "scale": (0.1, 10.0)}


def parse_duration(text: str | float, fps: float, least: float = 0.1) -> float:
    """"2s", "2.5" (seconds) or "50f" (frames at `fps`) -> seconds, within least..MAX_SECONDS.

    Raises:
        InputError: text that is not a duration, or one out of range.
    """
    raw = str(text).strip().lower()
    try:
        seconds = float(raw[:-1]) / fps if raw.endswith("f") else float(raw.removesuffix("s"))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--duration must look like 2s, 2.5 or 50f, got {text!r}") from None
    if not least <= seconds <= MAX_SECONDS:  # also refuses nan
        raise InputError(f"--duration must be {least:g} to {MAX_SECONDS:.0f} seconds, got {text!r}")
    return seconds


def check_fps(fps: float) -> float:
    """`fps` as a float.

    Raises:
        InputError: not a number within MIN_FPS..MAX_FPS.
    """
    try:
        value = float(fps)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if isinstance(fps, bool) or not MIN_FPS <= value <= MAX_FPS:
        raise InputError(f"fps must be in {MIN_FPS:g}..{MAX_FPS:g}, got {fps!r}")
    return value


@dataclass(frozen=True)
class MotionTrack:
    """Facial dynamics as numbers, one row per frame.

    fps: frames per second (> 0).
    coefficients: (N, 52) float rig coefficients in BLENDSHAPES order, 0..1.
    angles: (N, 3) float head (yaw, pitch, roll) in degrees, relative to the photo's own pose
        (yaw > 0 turns the face towards the image's left, pitch > 0 up, roll > 0 clockwise).
    translation: (N, 2) float head movement in face heights (x right, y down); None = still.
    scale: (N,) float head size relative to the photo (1 = same); None = 1.
    path: the file it was read from, if any (an output may not overwrite it).

    All values must be finite; angles, translation and scale within LIMITS.
    """

    fps: float
    coefficients: np.ndarray
    angles: np.ndarray
    translation: np.ndarray | None = None
    scale: np.ndarray | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        check_fps(self.fps)
        n = len(self.coefficients) if isinstance(self.coefficients, np.ndarray) and self.coefficients.ndim else 0
        if n == 0:
            raise InputError("the motion has no frames")
        _check_array("coefficients", self.coefficients, (n, len(BLENDSHAPES)))
        _check_array("angles", self.angles, (n, 3))
        if self.translation is not None:
            _check_array("translation", self.translation, (n, 2))
        if self.scale is not None:
            _check_array("scale", self.scale, (n,))

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

        return Motion(neutral, frames(), Fraction(self.fps).limit_denominator(1001), n,
                      inputs=() if self.path is None else (self.path,), closed_gap=regions.mouth_gap(neutral.shape))


def _check_array(name: str, values: np.ndarray, shape: tuple[int, ...]) -> None:
    if not isinstance(values, np.ndarray) or values.shape != shape:
        got = values.shape if isinstance(values, np.ndarray) else type(values).__name__
        raise InputError(f"expected {shape} {name}, got {got}")
    if not np.isfinite(values).all():
        raise InputError(f"the motion's {name} must be finite numbers")
    lo, hi = LIMITS.get(name, (-np.inf, np.inf))
    bad = np.flatnonzero(((values < lo) | (values > hi)).reshape(len(values), -1).any(axis=1))
    if len(bad):
        raise InputError(f"the motion's {name} at frame {bad[0]} are outside {lo:g}..{hi:g}")
