"""The landmark driver: a sequence of sparse 68-point (or dense 478-point) landmarks drives
the photo, lifted to the same dense 3D dynamics as a video (rig.sparse)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedyn.drivers.landmark_files import LandmarkSequence, fill_frames
from facedyn.drivers.parametric import check_fps, shared_rig
from facedyn.drivers.video import VideoDriver
from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.errors import InputError
from facedyn.rig.sparse import SparseFit
from facedyn.tracking import LandmarkSmoother
from facedyn.tracking import topology as T

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
SPIKE = 0.15  # eye distances: a point that leaves both its neighbours by more, while they agree, is an outlier
# Lids and inner lips move by themselves for a frame or two (a blink caught mid-way): never outliers.
SPIKE_EXEMPT = np.r_[36:48, 60:68]
MIN_SPAN = 4.0  # pixels: 68 points spanning less in both directions are no face (all zero, one repeated point)


@dataclass(frozen=True)
class LandmarkDriver:
    """Drives the photo from landmarks per frame.

    sequence: the landmarks (drivers.landmark_files.LandmarkSequence).
    fps: frames per second of the sequence.
    smoothing: reject one-frame outliers and One-Euro filter the lifted landmarks (openings
        filtered fast, so blinks and speech stay), as for a video.
    reference: index of the frame that means "no change" (0: the first).

    Raises:
        InputError: an fps out of range, an empty sequence, a reference past its end, or 68
            points mirrored in most frames (see mirrored_frames), or no frame whose 68 points
            span a face (collapsed_frames).
    """

    sequence: LandmarkSequence
    fps: float = DEFAULT_FPS
    smoothing: bool = True
    reference: int = 0

    def __post_init__(self) -> None:
        check_fps(self.fps)
        if len(self.sequence) == 0:
            raise InputError("the landmark sequence has no frames")
        if not 0 <= self.reference < len(self.sequence):
            raise InputError(f"reference must be a frame index below {len(self.sequence)}, got {self.reference}")
        name = self.sequence.path.name if self.sequence.path else "the landmarks"
        if self._unusable().all() and self._collapsed().any():
            raise InputError(f"{name}: no frame's 68 points span a face (each frame's lie within {MIN_SPAN:g} pixels "
                             "or are mirrored); are the coordinates all zero, or one point repeated?")
        flipped = self._mirrored()
        if flipped.sum() > len(flipped) / 2:
            raise InputError(f"{name}: {flipped.sum()} of {len(flipped)} frames are mirrored (left and right swapped "
                             "against the iBUG 300-W order, where point 0 is the face's right, at the image's left "
                             "in a frontal view); was the image flipped without renumbering the points?")

    def _mirrored(self) -> np.ndarray:
        points = self.sequence.points
        return mirrored_frames(points) if points.shape[1] == 68 else np.zeros(len(points), bool)

    def _collapsed(self) -> np.ndarray:
        points = self.sequence.points
        return collapsed_frames(points) if points.shape[1] == 68 else np.zeros(len(points), bool)

    def _unusable(self) -> np.ndarray:
        """(N,) bool: frames that are driven from their neighbours instead of their own points."""
        return self._mirrored() | self._collapsed()

    def open(self, tracker=None, source: FaceDynamics | None = None) -> Motion:
        """Start the motion stream (no tracker or source needed)."""
        # The lift is sequential (smoothing, temporal prior): the reference is reached by
        # lifting up to it once, then the stream starts over.
        reference, ref_pose = dynamics_from_landmarks(next(itertools.islice(self.dense_landmarks(), self.reference, None)))

        def driving_frames() -> Iterator[DrivingFrame]:
            for points in self.dense_landmarks():
                yield DrivingFrame(dynamics_from_landmarks(points, ref_pose)[0], None, points)

        path = self.sequence.path
        missing = sorted(set(self.sequence.missing) | set(np.flatnonzero(self._unusable()).tolist()))
        return Motion(reference, driving_frames(), Fraction(self.fps).limit_denominator(1001), len(self.sequence),
                      missing_frames=missing, inputs=() if path is None else (path,))

    def dense_landmarks(self) -> Iterator[np.ndarray]:
        """(478, 3) landmarks per frame, in the sequence's pixels (68 points lifted, smoothed)."""
        points = self.sequence.points
        smoother = LandmarkSmoother(self.fps) if self.smoothing else None
        if points.shape[1] == 68:
            unusable = self._unusable()
            points = fill_frames(points[..., :2], ~unusable) if unusable.any() else points[..., :2]
            points = reject_spikes(points) if self.smoothing else points
            fit = SparseFit(shared_rig())
            gaze = self.sequence.gaze
            rest_gaze = None if gaze is None else np.median(gaze, axis=0)  # OpenFace measures from the camera
            dense = (fit(p, None if gaze is None else gaze[k] - rest_gaze) for k, p in enumerate(points))
        else:
            dense = iter(points)
        for p in dense:
            yield smoother(p) if smoother else p


def mirrored_frames(points: np.ndarray) -> np.ndarray:
    """(N,) bool: frames whose 68 points (N, 68, 2+) are a mirror image of a face in the
    iBUG 300-W order: the right eye, the left eye and the mouth wind the wrong way round.
    No rotation of a real face does that (checked on every frame of the test data's landmark
    files and tracks, head turns of 40 degrees included); a flipped image whose points were
    not renumbered, or a detector's slip, does."""
    right, left, mouth = points[:, 36:42, :2].mean(1), points[:, 42:48, :2].mean(1), points[:, 48:68, :2].mean(1)
    a, b = left - right, mouth - right
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] < 0  # y down: a face's eyes-to-mouth turn is clockwise


def collapsed_frames(points: np.ndarray) -> np.ndarray:
    """(N,) bool: frames whose 68 points (N, 68, 2+) span less than MIN_SPAN pixels both
    across and down: no face (a detector's zeros for a frame it missed, one repeated point),
    and nothing a pose could be fitted to."""
    span = points[..., :2].max(axis=1) - points[..., :2].min(axis=1)
    return (span < MIN_SPAN).all(axis=1)


def reject_spikes(points: np.ndarray) -> np.ndarray:
    """(N, 68, 2) landmarks with one-frame outliers replaced by their neighbours' mean.

    A point is an outlier where it lies more than SPIKE eye distances from the mean of the
    frames before and after, while those two agree within half that: a detector's slip, not
    motion. Lids and inner lips (SPIKE_EXEMPT) are kept: they do move for a single frame.
    """
    if len(points) < 3:
        return points
    eye_distance = np.linalg.norm(points[:, 36:42].mean(1) - points[:, 42:48].mean(1), axis=1)  # (N,)
    unit = np.median(eye_distance)
    before, here, after = points[:-2], points[1:-1], points[2:]
    between = (before + after) / 2
    away = np.linalg.norm(here - between, axis=-1) > SPIKE * unit
    agree = np.linalg.norm(before - after, axis=-1) < SPIKE * unit / 2
    spike = away & agree
    spike[:, SPIKE_EXEMPT] = False
    out = points.copy()
    out[1:-1][spike] = between[spike]
    return out


def landmark_driver(sequence: LandmarkSequence, fps: float | None = None, smoothing: bool = True) -> LandmarkDriver:
    """A LandmarkDriver at `fps`, else the sequence's own rate, else DEFAULT_FPS (with a notice)."""
    if fps is None:
        fps = sequence.fps
    if fps is None:
        name = sequence.path.name if sequence.path else "the landmarks"
        log.warning("%s states no frame rate; playing it at %g fps (set one with --fps)", name, DEFAULT_FPS)
        fps = DEFAULT_FPS
    return LandmarkDriver(sequence, float(fps), smoothing)


def track_landmarks(path: str | Path, tracker, smoothing: bool = True) -> LandmarkSequence:
    """The 68-point landmarks (topology.LANDMARKS68 on MediaPipe's mesh) of the face in a video.

    Returns:
        A LandmarkSequence of (N, 68, 2) pixels at the video's frame rate; frames without a
        face are filled from their neighbours and listed in `missing`.

    Raises:
        InputError, NoFaceError: an unreadable video, no face.
    """
    motion = VideoDriver(Path(path), "first", smoothing).open(tracker)
    points = np.array([T.landmarks68(frame.landmarks)[:, :2] for frame in motion.frames])
    return LandmarkSequence(points, float(motion.fps), tuple(motion.missing_frames), path=Path(path))
