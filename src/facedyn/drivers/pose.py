"""Pose editing on top of any driver: constant offsets or keyframes for yaw, pitch, roll."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from facedyn.dynamics import DrivingFrame, Motion
from facedyn.errors import InputError
from facedyn.geometry.pose import angles_to_rotation

log = logging.getLogger(__name__)

QUALITY_LIMIT = 25.0  # degrees; beyond this the warp shows hidden parts it cannot see
MAX_ANGLE = 180.0  # degrees: a larger offset is a typo, not a pose
MAX_KEY_TIME = 24 * 3600.0  # seconds
_KEY = re.compile(r"^\s*(?P<t>[0-9.]+)\s*s\s*:\s*(?P<v>[-+]?[0-9.]+)\s*$")


@dataclass(frozen=True)
class Keyframes:
    """An angle over time: (time s, degrees) keys, linear between keys, held outside them."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))

    @property
    def extreme(self) -> float:
        return max(abs(v) for v in self.values)


def parse_angle(text: str | float, axis: str = "angle") -> Keyframes:
    """"10" (constant) or "0s:0, 1s:15, 2s:-15" (keyframes, times increasing) -> Keyframes.

    Angles are degrees within -180..180; times are seconds.

    Raises:
        InputError: text that is neither, naming the item that is wrong, or an angle that is
            not a finite number within range.
    """
    try:
        return Keyframes((0.0,), (_degrees(float(text), axis, text),))
    except (TypeError, ValueError, OverflowError):
        pass
    times, values = [], []
    for k, item in enumerate(str(text).split(","), start=1):
        m = _KEY.match(item)
        try:
            time, value = float(m["t"]), float(m["v"])
        except (TypeError, ValueError):
            raise InputError(f"--{axis}: item {k} ({item.strip()!r}) is not TIMEs:DEGREES, e.g. \"0s:0, 1s:15\"") from None
        if time > MAX_KEY_TIME:
            raise InputError(f"--{axis}: item {k} ({item.strip()!r}) is past {MAX_KEY_TIME:.0f} s")
        times.append(time)
        values.append(_degrees(value, axis, m["v"]))
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise InputError(f"--{axis}: keyframe times must increase, got {times}")
    return Keyframes(tuple(times), tuple(values))


def _degrees(value: float, axis: str, text: object) -> float:
    if not math.isfinite(value) or abs(value) > MAX_ANGLE:
        raise InputError(f"--{axis}: {str(text).strip()!r} is not an angle in -{MAX_ANGLE:.0f}..{MAX_ANGLE:.0f} degrees")
    return value


@dataclass(frozen=True)
class PoseEdit:
    """Wraps a driver and turns the head further by yaw/pitch/roll keyframes (degrees; yaw > 0
    turns the face towards the image's left, pitch > 0 up, roll > 0 clockwise)."""

    driver: object
    yaw: Keyframes = Keyframes((0.0,), (0.0,))
    pitch: Keyframes = Keyframes((0.0,), (0.0,))
    roll: Keyframes = Keyframes((0.0,), (0.0,))

    def __post_init__(self) -> None:
        worst = max(self.yaw.extreme, self.pitch.extreme, self.roll.extreme)
        if worst > QUALITY_LIMIT:
            log.warning("a pose offset of %.0f degrees is beyond about %.0f: quality drops (hidden parts of the head "
                        "are invented by stretching)", worst, QUALITY_LIMIT)

    def open(self, tracker=None, source=None) -> Motion:
        motion = self.driver.open(tracker, source)
        fps = float(motion.fps)

        def frames() -> Iterator[DrivingFrame]:
            for k, frame in enumerate(motion.frames):
                t = k / fps
                turn = angles_to_rotation(self.yaw(t), self.pitch(t), self.roll(t))
                yield replace(frame, dynamics=replace(frame.dynamics, rotation=turn @ frame.dynamics.rotation))

        return replace(motion, frames=frames())


def with_pose(driver, yaw: str | float = 0.0, pitch: str | float = 0.0, roll: str | float = 0.0):
    """`driver` with its head turned further by constant angles or keyframes (see parse_angle);
    `driver` itself when every angle is 0 throughout."""
    angles = parse_angle(yaw, "yaw"), parse_angle(pitch, "pitch"), parse_angle(roll, "roll")
    if not any(any(k.values) for k in angles):
        return driver
    return PoseEdit(driver, *angles)
