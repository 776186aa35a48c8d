"""The video driver: a face in a video drives the photo (reenactment)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.errors import InputError, NoFaceError
from facedyn.geometry.pose import fit_head_pose
from facedyn.io import VideoInfo, iter_frames, probe_video
from facedyn.tracking import FaceTracker, OneEuroFilter
from facedyn.tracking import topology as T

# One-Euro settings for landmarks in face heights: steady at rest, little lag on blinks.
SMOOTHING = {"min_cutoff": 1.5, "beta": 20.0, "d_cutoff": 1.0}


@dataclass(frozen=True)
class VideoDriver:
    """Drives the photo from the face in a video.

    path: the driving video.
    reference: which driving frame means "no change": "first", "auto" (the frame whose pose
        and eye/mouth opening are closest to the source's) or a frame index.
    smoothing: One-Euro filtering of the landmarks against jitter.
    """

    path: Path
    reference: str | int = "first"
    smoothing: bool = True

    def open(self, tracker: FaceTracker, source: FaceDynamics | None = None) -> Motion:
        """Start the motion stream; `source` is needed for reference="auto".

        Raises:
            InputError: the video is missing, corrupt or empty, or the reference is invalid.
            NoFaceError: no face in any frame.
        """
        info = probe_video(self.path)
        ref_index = self._reference_index(tracker, source, info)
        missing: list[int] = []
        stream = self._tracked(tracker, info.fps, missing)
        frames, ref_points = _prefetch_reference(stream, ref_index)
        reference, ref_pose = dynamics_from_landmarks(ref_points)

        def driving_frames() -> Iterator[DrivingFrame]:
            for image, points in frames:
                dyn, _ = dynamics_from_landmarks(points, ref_pose)
                yield DrivingFrame(dyn, image, points)

        return Motion(reference, driving_frames(), info.fps, info.frame_count,
                      self.path if info.has_audio else None, missing)

    def _reference_index(self, tracker: FaceTracker, source: FaceDynamics | None, info: VideoInfo) -> int:
        if self.reference == "first":
            return 0
        if self.reference == "auto":
            if source is None:
                raise InputError("reference='auto' needs the source face")
            points = np.array([p for _, p in self._tracked(tracker, float(info.fps), [])])
            return closest_to_source(points, source)
        if isinstance(self.reference, int) and 0 <= self.reference < info.frame_count:
            return self.reference
        raise InputError(
            f"reference must be 'first', 'auto' or a frame index below {info.frame_count}, got {self.reference!r}"
        )

    def _tracked(self, tracker: FaceTracker, fps: float, missing: list[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(frame, landmarks) per frame; gaps filled from neighbours, then smoothed."""
        tracker.reset_video()
        raw = fill_gaps(((f, tracker.track(f)) for f in iter_frames(self.path)), missing, self.path)
        yield from smooth_landmarks(raw, fps) if self.smoothing else raw


@dataclass(frozen=True)
class TrackedVideoDriver:
    """Replays a video whose landmarks are already tracked (the evaluation drives many photos
    with one clip and tracks it once).

    path: the video; its frames are decoded again on `open`.
    landmarks: (N, 478, 3) float landmarks per frame in the video's pixels, gaps filled
        (as from `fill_gaps`, smoothed or not).
    fps: the video's frame rate.
    reference: index of the frame that means "no change".
    """

    path: Path
    landmarks: np.ndarray
    fps: Fraction
    reference: int = 0

    def open(self, tracker: FaceTracker | None = None, source: FaceDynamics | None = None) -> Motion:
        """Start the motion stream (`tracker` and `source` are not needed).

        Raises:
            InputError: the reference index is out of range.
        """
        if not 0 <= self.reference < len(self.landmarks):
            raise InputError(f"reference must be a frame index below {len(self.landmarks)}, got {self.reference}")
        reference, ref_pose = dynamics_from_landmarks(self.landmarks[self.reference])

        def driving_frames() -> Iterator[DrivingFrame]:
            for image, points in zip(iter_frames(self.path), self.landmarks, strict=False):
                yield DrivingFrame(dynamics_from_landmarks(points, ref_pose)[0], image, points)

        return Motion(reference, driving_frames(), self.fps, len(self.landmarks))


def smooth_landmarks(stream, fps: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One-Euro filter (SMOOTHING) over (frame, (478, 3) landmarks) pairs, in face heights."""
    filt = OneEuroFilter(float(fps), **SMOOTHING)
    unit = None
    for frame, points in stream:
        unit = unit or float(T.face_size(points))
        yield frame, filt(points / unit) * unit


def fill_gaps(stream, missing: list[int], path: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Fill frames without landmarks by interpolating their neighbours (held at the ends).

    Appends the indices of filled frames to `missing`.

    Raises:
        NoFaceError: no frame has a face.
    """
    pending: list[np.ndarray] = []
    last = None
    for index, (frame, points) in enumerate(stream):
        if points is None:
            pending.append(frame)
            missing.append(index)
            continue
        for k, held in enumerate(pending):
            w = (k + 1) / (len(pending) + 1)
            yield held, points if last is None else (1 - w) * last + w * points
        pending = []
        last = points
        yield frame, points
    if last is None:
        raise NoFaceError(f"no face found in any frame of {path}; use a video where the face is visible")
    for held in pending:
        yield held, last


def _prefetch_reference(stream, index: int):
    """Read up to the reference frame (kept in memory), then continue streaming."""
    head = []
    for item in stream:
        head.append(item)
        if len(head) > index:
            break
    if len(head) <= index:
        raise InputError(f"reference frame {index} is past the end of the video")
    ref_points = head[index][1]

    def rest():
        yield from head
        yield from stream

    return rest(), ref_points


def closest_to_source(points: np.ndarray, source: FaceDynamics) -> int:
    """Index of the driving frame most like the source in pose and eye/mouth opening.

    Args:
        points: (N, 478, 3) driving landmarks.
    """
    angles = np.array([fit_head_pose(p).angles for p in points])
    cost = np.abs(angles - source.angles).sum(axis=1) / 20.0
    cost += np.abs(T.eye_opening(points) - T.eye_opening(source.shape)).sum(axis=1) / 0.1
    cost += np.abs(T.mouth_opening(points) - T.mouth_opening(source.shape)) / 0.1
    return int(np.argmin(cost))
