"""FaceDynamics: the one thing every driver produces and the renderer consumes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedyn.geometry.pose import HeadPose, fit_head_pose, rotation_to_angles
from facedyn.tracking import topology as T


@dataclass(frozen=True)
class FaceDynamics:
    """One frame of 3D facial dynamics: head pose, expression and gaze.

    rotation: (3, 3) float64 absolute head rotation, head frame -> camera (see HeadPose).
    translation: (2,) float64 head movement since the driver's reference frame, in face
        heights (x right, y down in the image).
    scale: head size relative to the reference frame (1.0 = same distance to camera).
    shape: (478, 3) float32 the mesh in the pose-free head frame (template units, face height
        about 1). Expression is `shape - reference.shape`; identity is never taken from it.
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: float
    shape: np.ndarray

    @property
    def angles(self) -> np.ndarray:
        """(yaw, pitch, roll) in degrees."""
        return rotation_to_angles(self.rotation)

    @property
    def gaze(self) -> np.ndarray:
        """(2, 2) iris centre offsets from the eye-corner midpoint over eye width, [right, left] x (x, y)."""
        out = []
        for iris, upper in ((T.RIGHT_IRIS, T.RIGHT_EYE_UPPER), (T.LEFT_IRIS, T.LEFT_EYE_UPPER)):
            a, b = self.shape[upper[0], :2], self.shape[upper[-1], :2]
            out.append((self.shape[iris[0], :2] - (a + b) / 2) / np.linalg.norm(b - a))
        return np.array(out)


def dynamics_from_landmarks(points: np.ndarray, reference_pose: HeadPose | None = None) -> tuple[FaceDynamics, HeadPose]:
    """Decompose landmarks into head pose + pose-free shape.

    Args:
        points: (478, 3) landmarks in pixels.
        reference_pose: the driver's reference-frame pose; translation and scale are given
            relative to it (None: relative to this frame itself).

    Returns:
        (FaceDynamics, this frame's HeadPose).
    """
    pose = fit_head_pose(points)
    ref = reference_pose or pose
    dyn = FaceDynamics(
        rotation=pose.rotation,
        translation=(pose.translation[:2] - ref.translation[:2]) / ref.scale,
        scale=pose.scale / ref.scale,
        shape=pose.to_head_frame(points).astype(np.float32),
    )
    return dyn, pose


@dataclass
class DrivingFrame:
    """One frame of a driver: its dynamics and, for video drivers, the frame and its landmarks.

    image: (H, W, 3) uint8 RGB driving frame, or None for drivers without pixels.
    landmarks: (478, 3) landmarks in `image` pixels, or None.
    """

    dynamics: FaceDynamics
    image: np.ndarray | None = None
    landmarks: np.ndarray | None = None


@dataclass
class Motion:
    """A driver's output: a reference (neutral) frame, the frame stream, and timing.

    reference: the dynamics that mean "no change" (the driving reference frame).
    frames: iterator of DrivingFrame, consumed once.
    fps: frame rate.
    frame_count: number of frames, if known.
    audio_from: a media file whose audio belongs with this motion, or None.
    missing_frames: frames where no face was found and that were filled from neighbours
        (final once `frames` is exhausted).
    frame_size: (height, width) of the driving frames as displayed, for drivers with pixels.
    inputs: the files the motion is read from (an output may not overwrite them).
    closed_gap: the inner-lip gap (head frame) that means closed lips: 0 for a tracked face;
        for motion made with the rig, its neutral face's own gap (the template's lips part a
        little at rest).
    """

    reference: FaceDynamics
    frames: Iterator[DrivingFrame]
    fps: Fraction
    frame_count: int | None = None
    audio_from: Path | None = None
    missing_frames: list[int] = field(default_factory=list)
    frame_size: tuple[int, int] | None = None
    inputs: tuple[Path, ...] = ()
    closed_gap: float = 0.0
