"""The video driver: a face in a video drives the photo (reenactment)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.errors import InputError, NoFaceError
from facedyn.geometry.pose import fit_head_pose
from facedyn.io import VideoInfo, iter_frames, probe_video
from facedyn.tracking import FaceTracker, LandmarkSmoother
from facedyn.tracking import topology as T

log = logging.getLogger(__name__)

def parse_reference(value: str | int) -> str | int:
    """"first", "auto" or a frame index (a whole number >= 0, also as text) -> the reference.

    Raises:
        InputError: anything else.
    """
    if value in ("first", "auto"):
        return value
    if isinstance(value, bool):
        value = None
    try:
        index = int(value) if isinstance(value, int) or str(value).strip().isdigit() else None
    except (TypeError, ValueError):
        index = None
    if index is None or index < 0:
        raise InputError(f"--reference must be 'first', 'auto' or a frame index (0, 1, ...), got {value!r}")
    return index


@dataclass(frozen=True)
class VideoDriver:
    """Drives the photo from the face in a video.

    path: the driving video.
    reference: which driving frame means "no change": "first", "auto" (the frame whose pose
        and eye/mouth opening are closest to the source's) or a frame index.
    smoothing: One-Euro filtering of the landmarks against jitter.

    Raises:
        InputError: a reference that is none of these.
    """

    path: Path
    reference: str | int = "first"
    smoothing: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference", parse_reference(self.reference))

    def open(self, tracker: FaceTracker, source: FaceDynamics | None = None) -> Motion:
        """Start the motion stream; `source` is needed for reference="auto".

        Raises:
            InputError: the video is missing, corrupt or empty, or the reference is invalid.
            NoFaceError: no face in any frame.
        """
        info = self.probe()
        ref_index = self._reference_index(tracker, source, info)
        missing: list[int] = []
        stream = self._tracked(tracker, info, missing)
        frames, ref_points = _prefetch_reference(stream, ref_index)
        reference, ref_pose = dynamics_from_landmarks(ref_points)

        def driving_frames() -> Iterator[DrivingFrame]:
            for image, points in frames:
                dyn, _ = dynamics_from_landmarks(points, ref_pose)
                yield DrivingFrame(dyn, image, points)

        return Motion(reference, driving_frames(), info.fps, info.frame_count,
                      self.path if info.has_audio else None, missing, (info.height, info.width), (self.path,))

    def probe(self, notice: bool = True) -> VideoInfo:
        """Check the video (fast: no full decode) and, with `notice`, say when it was cut short.

        Raises:
            InputError: missing, unreadable, corrupt or empty video, or a reference index
                past its end.
        """
        info = probe_video(self.path)
        if notice and info.frames_cut_off:
            log.warning("%s is cut short: %d of its %d frames are missing; using the %d that are there",
                        self.path.name, info.frames_cut_off, info.header_frames, info.frame_count)
        if isinstance(self.reference, int) and self.reference >= info.frame_count:
            raise InputError(f"--reference {self.reference} is past the end of {self.path.name} "
                             f"({info.frame_count} frames, numbered from 0)")
        return info

    def _reference_index(self, tracker: FaceTracker, source: FaceDynamics | None, info: VideoInfo) -> int:
        if self.reference == "first":
            return 0
        if self.reference == "auto":
            if source is None:
                raise InputError("reference='auto' needs the source face")
            return closest_to_source((p for _, p in self._tracked(tracker, info, [])), source)
        return self.reference

    def _tracked(self, tracker: FaceTracker, info: VideoInfo, missing: list[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(frame, landmarks) per frame; gaps filled from neighbours, then smoothed."""
        first = first_face(tracker, self.path)
        tracker.reset_video()
        tracked = ((f, tracker.track(f)) for f in iter_frames(self.path, info.frame_count))
        raw = fill_gaps(tracked, missing, self.path, first)
        yield from smooth_landmarks(raw, float(info.fps)) if self.smoothing else raw


def first_face(tracker: FaceTracker, path: Path) -> np.ndarray:
    """(478, 3) landmarks of the first frame of a video that has a face (usually frame 0).

    Raises:
        NoFaceError: no frame has a face.
    """
    tracker.reset_video()
    for frame in iter_frames(path):
        points = tracker.track(frame)
        if points is not None:
            return points
    raise NoFaceError(f"no face found in any frame of {path}; use a video where the face is visible")


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

        info = probe_video(self.path)
        return Motion(reference, driving_frames(), self.fps, len(self.landmarks), frame_size=(info.height, info.width),
                      inputs=(self.path,))


def smooth_landmarks(stream, fps: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(frame, (478, 3) landmarks) pairs with the landmarks smoothed (tracking.LandmarkSmoother:
    steady positions, fast openings)."""
    smoother = LandmarkSmoother(float(fps))
    for frame, points in stream:
        yield frame, smoother(points)


MAX_HELD_FRAMES = 64  # driving frames held in memory while their face is missing


def fill_gaps(stream, missing: list[int], path: Path, first: np.ndarray | None = None,
              max_held: int = MAX_HELD_FRAMES) -> Iterator[tuple[object, np.ndarray]]:
    """Fill frames without landmarks from their neighbours: interpolated across a gap, held
    at the ends.

    Memory stays bounded: once `max_held` frames wait in a gap, the oldest are let go holding
    the last face, so a long gap holds still and then eases over its last `max_held` frames
    to where the face reappears.

    Args:
        stream: (frame, (478, 3) landmarks or None) pairs.
        missing: the indices of filled frames are appended to it.
        first: the video's first face, which fills a gap at the start (see first_face);
            without it, frames before the first face are all held in memory.

    Raises:
        NoFaceError: no frame has a face.
    """
    pending: deque = deque()
    last = first
    for index, (frame, points) in enumerate(stream):
        if points is None:
            pending.append(frame)
            missing.append(index)
            if len(pending) > max_held and last is not None:
                yield pending.popleft(), last
            continue
        for k, held in enumerate(pending):
            w = (k + 1) / (len(pending) + 1)
            yield held, points if last is None else (1 - w) * last + w * points
        pending.clear()
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


def closest_to_source(points: Iterable[np.ndarray], source: FaceDynamics) -> int:
    """Index of the driving frame most like the source in pose and eye/mouth opening.

    Args:
        points: (478, 3) driving landmarks per frame, as a sequence or a stream (only the
            best so far is kept, so a long video costs no memory).
    """
    src_eyes, src_mouth = T.eye_opening(source.shape), T.mouth_opening(source.shape)
    best, best_cost = 0, np.inf
    for index, p in enumerate(points):
        cost = np.abs(fit_head_pose(p).angles - source.angles).sum() / 20.0
        cost += np.abs(T.eye_opening(p) - src_eyes).sum() / 0.1
        cost += abs(float(T.mouth_opening(p)) - float(src_mouth)) / 0.1
        if cost < best_cost:
            best, best_cost = index, cost
    return best
