"""Drivers: everything that yields FaceDynamics for the animator."""

from __future__ import annotations

from pathlib import Path

from facedyn.drivers.builtin import DemoDriver
from facedyn.drivers.video import TrackedVideoDriver, VideoDriver


def video(path: str | Path, reference: str | int = "first", smoothing: bool = True) -> VideoDriver:
    """Drive the photo from the face in a video.

    Args:
        path: the driving video (any format PyAV/FFmpeg reads).
        reference: "first" (default), "auto" (the frame most like the source) or a frame index.
        smoothing: One-Euro filtering of the landmarks against jitter.
    """
    return VideoDriver(Path(path), reference, smoothing)


def demo(seconds: float = 6.0, fps: int = 25) -> DemoDriver:
    """A short built-in motion: head turns, a nod, blinks, the mouth opening and closing."""
    return DemoDriver(seconds, fps)


__all__ = ["DemoDriver", "TrackedVideoDriver", "VideoDriver", "demo", "video"]
