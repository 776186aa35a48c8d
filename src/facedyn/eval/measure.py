"""Measuring frames: track each clip as a video and run the evaluation's networks on it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from facedyn.eval import metrics
from facedyn.eval.networks import DlibFace, EmotionModel
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T
from facedyn.tracking.facemesh import crop_padded, square_crop

FACE_CROP = 256  # pixel metrics on the face are taken on a crop resized to this side
FACE_CROP_MARGIN = 1.2  # crop side in face sizes


def face_crop_box(points: np.ndarray) -> tuple[int, int, int]:
    """(x0, y0, side) of the square face crop around (478, 2+) landmarks, in pixels."""
    oval = points[T.FACE_OVAL, :2]
    centre = (oval.min(0) + oval.max(0)) / 2
    return square_crop((float(centre[0]), float(centre[1])), FACE_CROP_MARGIN * float(T.face_size(points)))


def face_crop(image: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """(FACE_CROP, FACE_CROP, 3) uint8 crop of `image` at `box` (see face_crop_box)."""
    return crop_padded(image, *box, FACE_CROP)


@dataclass
class ClipMeasures:
    """What was measured on each frame of one clip; NaN rows where no face was found.
    (Angles and signals are derived once, on first use: cross-reenactment reads the driver's
    for every method and photo.)

    mesh: (N, 478, 3) MediaPipe landmarks in pixels (tracked as a video stream).
    dlib68: (N, 68, 2) dlib landmarks in pixels.
    emotions: (N, 7) FER2013 probabilities (networks.EMOTIONS order).
    descriptors: (N, 128) dlib descriptors, only on the sampled identity frames.
    teeth: (N,) saturation of the teeth showing (metrics.teeth_saturation), NaN where none.
    """

    mesh: np.ndarray
    dlib68: np.ndarray
    emotions: np.ndarray
    descriptors: np.ndarray
    teeth: np.ndarray

    @cached_property
    def gaps(self) -> np.ndarray:
        """(N,) inner-lip gap in face heights (metrics.lip_gaps)."""
        return metrics.lip_gaps(self.mesh)

    @property
    def found(self) -> np.ndarray:
        """(N,) bool: a face was found."""
        return ~np.isnan(self.mesh[:, 0, 0])

    @cached_property
    def angles(self) -> np.ndarray:
        """(N, 3) yaw, pitch, roll in degrees."""
        return metrics.head_angles(self.mesh)

    @cached_property
    def signals(self) -> np.ndarray:
        """(N, 4) metrics.expression_signals."""
        return metrics.expression_signals(self.mesh)

    @property
    def crop_sides(self) -> np.ndarray:
        """(N,) side in pixels of each frame's face crop (NaN without a face)."""
        return FACE_CROP_MARGIN * T.face_size(self.mesh)


class Measurer:
    """Tracks and measures clips. Use as a context manager; it holds the networks.

    Args:
        identity_frames: how many evenly spaced frames per clip get a dlib descriptor
            (each costs about 90 ms on one core), 1..1000.
    """

    def __init__(self, identity_frames: int = 16) -> None:
        if not 1 <= identity_frames <= 1000:
            raise ValueError(f"identity_frames must be in 1..1000, got {identity_frames}")
        self.identity_frames = identity_frames
        self._tracker = FaceTracker()
        self._dlib = DlibFace()
        self._emotion = EmotionModel()

    def clip(self, frame_count: int) -> ClipRecorder:
        """Start measuring a new clip of `frame_count` frames (a new tracking stream)."""
        self._tracker.reset_video()
        return ClipRecorder(self, frame_count)

    def still(self, image: np.ndarray) -> ClipMeasures:
        """Measure a single image as a one-frame clip."""
        recorder = self.clip(1)
        recorder.add(image)
        return recorder.result()

    def close(self) -> None:
        self._tracker.close()

    def __enter__(self) -> Measurer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ClipRecorder:
    """Measures the frames of one clip as they come (see Measurer.clip)."""

    def __init__(self, measurer: Measurer, frame_count: int) -> None:
        self._m = measurer
        n = max(frame_count, 1)
        self._identity = set(np.linspace(0, n - 1, min(measurer.identity_frames, n)).round().astype(int).tolist())
        self._mesh = np.full((n, 478, 3), np.nan)
        self._dlib68 = np.full((n, 68, 2), np.nan)
        self._emotions = np.full((n, 7), np.nan)
        self._descriptors = np.full((n, 128), np.nan)
        self._teeth = np.full(n, np.nan)
        self._index = 0
        self._last: np.ndarray | None = None
        self._last_descriptor: np.ndarray | None = None

    def add(self, frame: np.ndarray) -> np.ndarray | None:
        """Measure the next frame ((H, W, 3) uint8 RGB); returns its (478, 3) landmarks or None."""
        i = self._index
        if i >= len(self._mesh):
            raise ValueError(f"more frames than the {len(self._mesh)} announced")
        self._index += 1
        if frame is self._last:
            # A still (the static baseline) is measured once: repeating its measures keeps
            # tracker noise out of a clip that does not move, and saves the time.
            self._mesh[i], self._dlib68[i], self._emotions[i] = self._mesh[i - 1], self._dlib68[i - 1], self._emotions[i - 1]
            self._teeth[i] = self._teeth[i - 1]
        else:
            self._last, self._last_descriptor = frame, None
            points = self._m._tracker.track(frame)
            if points is not None:
                self._mesh[i] = points
                self._dlib68[i] = self._m._dlib.landmarks68(frame, points)
                self._emotions[i] = self._m._emotion.probabilities(frame, points)
                self._teeth[i] = metrics.teeth_saturation(frame, points)
        found = not np.isnan(self._mesh[i, 0, 0])
        if found and i in self._identity:
            if self._last_descriptor is None:
                self._last_descriptor = self._m._dlib.descriptor(frame, self._mesh[i])
            self._descriptors[i] = self._last_descriptor
        return self._mesh[i] if found else None

    def result(self) -> ClipMeasures:
        """The measures of the frames added so far."""
        n = self._index
        return ClipMeasures(self._mesh[:n], self._dlib68[:n], self._emotions[:n], self._descriptors[:n], self._teeth[:n])
