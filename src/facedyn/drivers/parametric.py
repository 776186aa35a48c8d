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
from facedyn.geometry.folds import Unfolder
from facedyn.geometry.pose import angles_to_rotation, rotation_to_angles, template
from facedyn.geometry.retarget import EYES_OPEN
from facedyn.rig import BLENDSHAPES, Rig
from facedyn.rig.expressions import MAX_SECONDS


@lru_cache(maxsize=1)
def shared_rig() -> Rig:
    """The default rig, built once per process."""
    return Rig()


def neutral_dynamics() -> FaceDynamics:
    """The rig's neutral: the template, facing the camera; parametric motion is relative to it."""
    return FaceDynamics(np.eye(3), np.zeros(2), 1.0, template().shape.astype(np.float32))


@lru_cache(maxsize=1)
def _neutral_unfolder() -> Unfolder:
    """Unfolds rig shapes against the neutral face."""
    return Unfolder(neutral_dynamics().shape)


MIN_FPS, MAX_FPS = 1.0, 1000.0
# What a head may do in a motion file: beyond these the numbers are not a pose of this photo.
LIMITS = {"angles": (-180.0, 180.0), "translation": (-10.0, 10.0), "scale": (0.1, 10.0), "openings": (0.0, 3.0)}


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
    openings: (N, 4) float OPENINGS per frame (eye openness over the driver's open eye,
        inner-lip gap in face heights, mouth width over the driver's at rest); None = as the
        coefficients make them. The rig explains only part of real lid and lip motion: these
        carry them whole.
    path: the file it was read from, if any (an output may not overwrite it).

    All values must be finite; angles, translation, scale and openings within LIMITS.
    """

    fps: float
    coefficients: np.ndarray
    angles: np.ndarray
    translation: np.ndarray | None = None
    scale: np.ndarray | None = None
    openings: np.ndarray | None = None
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
        if self.openings is not None:
            _check_array("openings", self.openings, (n, len(OPENINGS)))

    def __len__(self) -> int:
        return len(self.coefficients)

    def open(self, tracker=None, source: FaceDynamics | None = None) -> Motion:
        """The motion stream (no tracker or source needed)."""
        neutral = neutral_dynamics()
        rows = self.rows()

        def frames() -> Iterator[DrivingFrame]:
            for row in rows:
                yield DrivingFrame(dynamics_from_row(row))

        return Motion(neutral, frames(), Fraction(self.fps).limit_denominator(1001), len(self),
                      inputs=() if self.path is None else (self.path,), closed_gap=regions.mouth_gap(neutral.shape))

    def rows(self) -> np.ndarray:
        """(N, len(PARAMETERS)) float64: the track as one row of PARAMETERS per frame
        (openings NaN when the track has none)."""
        n = len(self)
        translation = np.zeros((n, 2)) if self.translation is None else self.translation
        scale = np.ones(n) if self.scale is None else self.scale
        openings = np.full((n, len(OPENINGS)), np.nan) if self.openings is None else self.openings
        return np.column_stack([self.angles, translation, scale, self.coefficients, openings])

    @classmethod
    def from_rows(cls, fps: float, rows: np.ndarray) -> MotionTrack:
        """A track from (N, len(PARAMETERS)) rows (see rows()); coefficients are clipped to 0..1.

        Raises:
            InputError: rows of another shape, or values out of range.
        """
        rows = np.asarray(rows, np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(PARAMETERS):
            raise InputError(f"expected (N, {len(PARAMETERS)}) parameter rows, got {rows.shape}")
        openings = rows[:, OPENING_VALUES] if np.isfinite(rows[:, OPENING_VALUES]).all() else None
        return cls(float(fps), np.clip(rows[:, COEFFICIENTS], 0, 1), rows[:, :3], rows[:, 3:5], rows[:, 5], openings)


POSE_PARAMETERS = ("yaw", "pitch", "roll", "tx", "ty", "scale")
# Eye openness: each eye's mean lid gap over the driver's open eye (1 = open as at rest, 0 =
# shut); lip gap: inner-lip gap at the centre over the driver's face height, beyond closed
# lips; mouth width: lip-corner distance over the driver's at rest (1 = as at rest).
OPENINGS = ("eyeOpenRight", "eyeOpenLeft", "lipGap", "mouthWidth")
PARAMETERS = (*POSE_PARAMETERS, *BLENDSHAPES, *OPENINGS)  # one frame of facial dynamics as numbers
# Which LIMITS entry bounds each pose and opening parameter (coefficients are 0..1).
PARAMETER_LIMITS = {"yaw": "angles", "pitch": "angles", "roll": "angles", "tx": "translation", "ty": "translation",
                    "scale": "scale", **dict.fromkeys(OPENINGS, "openings")}
COEFFICIENTS = slice(len(POSE_PARAMETERS), len(POSE_PARAMETERS) + len(BLENDSHAPES))  # where each part sits in a row
OPENING_VALUES = slice(COEFFICIENTS.stop, len(PARAMETERS))


def dynamics_from_row(row: np.ndarray) -> FaceDynamics:
    """One frame of motion on the rig's neutral face.

    Args:
        row: (len(PARAMETERS),) float values in PARAMETERS order; openings may be NaN (the
            coefficients alone then shape the lids and lips).

    Returns:
        FaceDynamics relative to neutral_dynamics().
    """
    neutral = neutral_dynamics()
    shape = _neutral_unfolder()(neutral.shape + shared_rig().apply(row[COEFFICIENTS]))
    openings = row[OPENING_VALUES]
    if np.isfinite(openings).all():
        rest = neutral.shape.astype(np.float64)
        eyes = regions.eye_gaps(rest).mean(1) * np.maximum(openings[:2], 0.0)
        lips = regions.mouth_gap(rest) + max(openings[2], 0.0) * regions.face_extent(rest)[1]
        shape = regions.set_openings(shape, eyes, lips)
        shape = regions.set_mouth_width(shape, regions.mouth_width(rest) * openings[3])
    return FaceDynamics(angles_to_rotation(*row[:3]), np.asarray(row[3:5], np.float64), float(row[5]),
                        shape.astype(np.float32))


class Describer:
    """Frames of facial dynamics as numbers: the inverse of MotionTrack playback.

    Expression is solved into rig coefficients against the driver's rest face (its mouth
    closed and eyes open, as the retargeter takes a reference); the eye and lip openings and
    the mouth's width go alongside as OPENINGS, so lid and lip motion the rig cannot express
    is kept.

    Args:
        reference: the driver's reference frame (Motion.reference): pose and expression are
            relative to it.
        closed_gap: the driver's inner-lip gap that means closed lips (Motion.closed_gap).
        rest_shape: (478, 3) the driver's face at rest, if better known than the reference's
            shape (e.g. from a whole clip); default reference.shape.
    """

    def __init__(self, reference: FaceDynamics, closed_gap: float = 0.0, rest_shape: np.ndarray | None = None) -> None:
        rest = reference.shape if rest_shape is None else rest_shape
        self._rest = regions.open_eyes(regions.close_mouth(np.asarray(rest, np.float64)), EYES_OPEN)
        self._reference_rotation = reference.rotation
        self._open_eyes = regions.eye_gaps(self._rest).mean(1)
        self._face_height = float(regions.face_extent(self._rest)[1])
        self._mouth_width = regions.mouth_width(self._rest)
        self._closed_gap = closed_gap

    def __call__(self, frame: FaceDynamics) -> np.ndarray:
        """(len(PARAMETERS),) float64 the frame's values in PARAMETERS order."""
        shape = frame.shape.astype(np.float64)
        angles = rotation_to_angles(frame.rotation @ self._reference_rotation.T)
        coefficients = shared_rig().solve(shape - self._rest)
        eyes = regions.eye_gaps(shape).mean(1) / self._open_eyes
        lips = max(regions.mouth_gap(shape) - self._closed_gap, 0.0) / self._face_height
        width = regions.mouth_width(shape) / self._mouth_width
        openings = np.clip([*eyes, lips, width], *LIMITS["openings"])
        return np.concatenate([angles, frame.translation, [frame.scale], coefficients, openings])


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
