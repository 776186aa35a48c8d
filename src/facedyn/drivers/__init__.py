"""Drivers: everything that yields FaceDynamics for the animator."""

from __future__ import annotations

from pathlib import Path

from facedyn.drivers.builtin import DemoDriver
from facedyn.drivers.expression import expression, timeline
from facedyn.drivers.imagine import imagine
from facedyn.drivers.motion_file import load_motion, save_motion, track_video
from facedyn.drivers.parametric import MotionTrack, parse_duration
from facedyn.drivers.pose import with_pose
from facedyn.drivers.video import TrackedVideoDriver, VideoDriver, parse_reference


def video(path: str | Path, reference: str | int = "first", smoothing: bool = True) -> VideoDriver:
    """Drive the photo from the face in a video. The video is checked now (fast), so a bad
    one fails before any work.

    Args:
        path: the driving video (any format PyAV/FFmpeg reads; a phone's rotation is honoured).
        reference: "first" (default), "auto" (the frame most like the source) or a frame index.
        smoothing: One-Euro filtering of the landmarks against jitter.

    Raises:
        InputError: a missing, unreadable or empty video, or a bad reference.
    """
    driver = VideoDriver(Path(path), reference, smoothing)
    driver.probe(notice=False)  # the notice comes once, when the video is opened
    return driver


def demo(seconds: float = 6.0, fps: int = 25) -> DemoDriver:
    """A short built-in motion: head turns, a nod, blinks, the mouth opening and closing."""
    return DemoDriver(seconds, fps)


def motion(path: str | Path) -> MotionTrack:
    """Drive the photo from a motion file: facedyn .json/.csv (see motion_file) or an
    ARKit-style face-capture CSV (Live Link Face)."""
    return load_motion(path)


__all__ = [
    "DemoDriver", "MotionTrack", "TrackedVideoDriver", "VideoDriver", "demo", "expression", "imagine",
    "load_motion", "motion", "parse_duration", "parse_reference", "save_motion", "timeline", "track_video", "video",
    "with_pose",
]
