"""Expression labels and timelines as drivers."""

from __future__ import annotations

import numpy as np

from facedyn.drivers.parametric import MotionTrack, check_fps
from facedyn.errors import InputError
from facedyn.rig.expressions import MAX_SECONDS, Clip, parse_timeline, timeline_coefficients

TAIL = 0.3  # seconds of neutral after a timeline's last clip


def expression(label: str, duration: float = 2.0, intensity: float = 1.0, fps: float = 25.0,
               returns: bool = True) -> MotionTrack:
    """One expression clip: eased onset (first quarter), apex, eased offset (last quarter).

    Args:
        label: one of rig.expressions.EXPRESSIONS (smile, surprise, wink-left, a, ...).
        duration: clip length in seconds (0.1..MAX_SECONDS).
        intensity: 0..1.5 times the expression's mix.
        fps: frames per second (1..1000).
        returns: fall back to neutral at the end (False: hold the apex to the end).

    Raises:
        InputError: unknown label, or duration, intensity or fps out of range.
    """
    if not 0.1 <= duration <= MAX_SECONDS:
        raise InputError(f"duration must be in 0.1..{MAX_SECONDS:.0f} seconds, got {duration}")
    return _track([Clip(label, intensity, 0.0, duration)], duration, check_fps(fps), returns)


def timeline(text: str, fps: float = 25.0, returns: bool = True) -> MotionTrack:
    """Several clips from "surprise@0-1.2s, smile:0.6@1.5-3s" (label[:intensity]@start-end);
    overlapping clips blend. The motion lasts until TAIL seconds after the last clip ends.

    Raises:
        InputError: a malformed timeline.
    """
    clips = parse_timeline(text)
    return _track(clips, max(c.end for c in clips) + (TAIL if returns else 0.0), check_fps(fps), returns)


def _track(clips: list[Clip], seconds: float, fps: float, returns: bool) -> MotionTrack:
    n = max(2, int(round(seconds * fps)))
    times = np.arange(n) / fps
    coefficients = timeline_coefficients(clips, times, returns)
    return MotionTrack(fps, coefficients, np.zeros((n, 3)))
