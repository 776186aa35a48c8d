"""Drivers: everything that yields FaceDynamics for the animator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from facedyn.drivers.builtin import DemoDriver
from facedyn.drivers.expression import expression, timeline
from facedyn.drivers.imagine import imagine
from facedyn.drivers.landmark_files import LandmarkSequence, from_array, read_landmarks, save_landmarks
from facedyn.drivers.landmarks import LandmarkDriver, landmark_driver, track_landmarks
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


def landmarks(source: str | Path | np.ndarray, fps: float | None = None, layout: str = "auto",
              smoothing: bool = True) -> LandmarkDriver | MotionTrack:
    """Drive the photo from landmarks per frame: 68 points (iBUG 300-W / dlib order) lifted
    to dense 3D dynamics, or 478 mesh points. The file is read and checked now.

    Args:
        source: a landmark file or folder (see drivers.landmark_files for the layouts), or
            an array of shape (N, 68, 2), (N, 68, 3) or (N, 478, 3) in pixels (x right, y down).
        fps: frames per second (default: the file's own, else 25 with a notice).
        layout: "auto" (from the path and content), "rows", "frames", "numpy" or "openface".
        smoothing: reject one-frame outliers and One-Euro filter the motion.

    Returns:
        A LandmarkDriver; a MotionTrack for an OpenFace file that has action units but no
        landmarks.

    Raises:
        InputError: a missing, unreadable or malformed file or array, with the place at fault.
    """
    if isinstance(source, np.ndarray):
        sequence = from_array(source, "the landmark array")
    else:
        sequence = read_landmarks(source, layout)
    if isinstance(sequence, MotionTrack):
        return sequence if fps is None else replace(sequence, fps=float(fps))
    return landmark_driver(sequence, fps, smoothing)


def motion(path: str | Path) -> MotionTrack:
    """Drive the photo from a motion file: facedyn .json/.csv (see motion_file) or an
    ARKit-style face-capture CSV (Live Link Face)."""
    return load_motion(path)


__all__ = [
    "DemoDriver", "LandmarkDriver", "LandmarkSequence", "MotionTrack", "TrackedVideoDriver", "VideoDriver", "demo",
    "expression", "imagine", "landmarks", "load_motion", "motion", "parse_duration", "parse_reference",
    "save_landmarks", "save_motion", "timeline", "track_landmarks", "track_video", "video", "with_pose",
]
