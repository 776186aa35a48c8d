"""The Animator: load a source photo, animate it with a driver, save the video."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facedyn.dynamics import FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.errors import InputError, NoFaceError
from facedyn.geometry.retarget import RetargetConfig, Retargeter
from facedyn.io import VideoWriter, load_image
from facedyn.render import RenderConfig, Renderer, SourceLayers, prepare_layers
from facedyn.render.layers import selfie_segmenter
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T

log = logging.getLogger(__name__)

MIN_FACE_PIXELS = 40  # smaller faces have too little detail to animate

Progress = Callable[[int, int | None], None]  # (frames done, total or None)


@dataclass(frozen=True)
class AnimatorConfig:
    """Options of an Animator."""

    size: int = 512  # working resolution: the face crop's longer side in pixels, 128..2048
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    side_by_side: bool = False  # write driving | source | result

    def __post_init__(self) -> None:
        if not 128 <= self.size <= 2048:
            raise InputError(f"size must be in 128..2048, got {self.size}")


@dataclass(frozen=True)
class Source:
    """A prepared source photo: its layers and its face's own dynamics."""

    path: Path | None
    layers: SourceLayers
    dynamics: FaceDynamics
    face_count: int
    face_index: int


class Animator:
    """Animates face photos. Use as a context manager; it holds the MediaPipe graphs.

        with Animator() as anim:
            source = anim.load_source("portrait.jpg")
            anim.animate(source, drivers.video("clip.mp4")).save("out.mp4")

    Args:
        config: options (working size, retargeting, rendering).
    """

    def __init__(self, config: AnimatorConfig | None = None, **options) -> None:
        self.config = config or AnimatorConfig(**options)
        self._tracker = FaceTracker()
        self._segmenter = selfie_segmenter()

    @property
    def tracker(self) -> FaceTracker:
        """The face tracker this animator holds (drivers track with it)."""
        return self._tracker

    def load_source(self, photo: str | Path | np.ndarray, face: int | None = None) -> Source:
        """Find the face in a photo and prepare it for animation.

        Args:
            photo: an image path, or an (H, W, 3) uint8 RGB array.
            face: which face when there are several, counted left to right from 0;
                None picks the largest (with a notice).

        Raises:
            InputError: unreadable photo or a face index out of range.
            NoFaceError: no face, or a face too small to animate.
        """
        path = Path(photo) if not isinstance(photo, np.ndarray) else None
        image = load_image(path) if path is not None else _check_array(photo)
        name = path.name if path else "the image"
        boxes = self._tracker.detect_faces(image)
        if not boxes:
            raise NoFaceError(f"no face found in {name}; use a photo where one face is clearly visible")
        index = self._pick_face(boxes, face, name)
        landmarks = self._tracker.landmarks_in_box(image, boxes[index])
        size = float(T.face_size(landmarks))
        if size < MIN_FACE_PIXELS:
            raise NoFaceError(
                f"the face in {name} is only {size:.0f} pixels; use a photo with a face of at least {MIN_FACE_PIXELS}"
            )
        layers = prepare_layers(image, landmarks, self.config.size, self._segmenter)
        dynamics, _ = dynamics_from_landmarks(layers.landmarks)
        return Source(path, layers, dynamics, len(boxes), index)

    @staticmethod
    def _pick_face(boxes, face: int | None, name: str) -> int:
        if face is not None:
            if not 0 <= face < len(boxes):
                raise InputError(
                    f"--face {face} is out of range: {name} has {len(boxes)} face(s), "
                    f"numbered 0..{len(boxes) - 1} left to right"
                )
            return face
        index = int(np.argmax([b.width * b.height for b in boxes]))
        if len(boxes) > 1:
            log.warning("%s has %d faces; animating face %d (the largest, counted left to right from 0); "
                        "choose another with --face", name, len(boxes), index)
        return index

    def animate(self, source: Source, driver) -> Animation:
        """An animation of `source` driven by `driver` (from facedyn.drivers); nothing is
        rendered until it is saved or iterated.

        Raises:
            InputError, NoFaceError: from the driver (bad video, no face in it).
        """
        motion = driver.open(self._tracker, source.dynamics)
        return Animation(source, motion, self.config)

    def close(self) -> None:
        self._tracker.close()
        self._segmenter.close()

    def __enter__(self) -> Animator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Animation:
    """A lazy animation: iterate for (H, W, 3) uint8 RGB frames, or `save()` a video."""

    def __init__(self, source: Source, motion: Motion, config: AnimatorConfig) -> None:
        self.source, self.motion, self.config = source, motion, config
        self.retargeter = Retargeter(source.layers.landmarks, motion.reference, config.retarget)
        self.renderer = Renderer(source.layers, config.render)

    @property
    def fps(self) -> Fraction:
        return self.motion.fps

    @property
    def frame_count(self) -> int | None:
        return self.motion.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.motion.frames:
            target, pose = self.retargeter(frame.dynamics)
            out = self.renderer.render(target, pose, frame.image, frame.landmarks)
            if self.config.side_by_side:
                out = side_by_side(frame.image, self.source.layers.photo if self.config.render.paste_back
                                   else self.source.layers.image, out)
            yield out
        if self.motion.missing_frames:
            log.warning("no face found in %d driving frame(s); they were filled from their neighbours",
                        len(self.motion.missing_frames))

    def save(self, path: str | Path, audio: bool = True, progress: Progress | None = None) -> Path:
        """Render every frame into an H.264 MP4 (atomically), with the driver's audio.

        Args:
            path: output .mp4 path; its folder must exist.
            audio: copy the driving video's audio stream (when it has one).
            progress: called as progress(done, total) after each frame.

        Raises:
            InputError: the output folder is missing.
        """
        audio_from = self.motion.audio_from if audio else None
        with VideoWriter(path, self.fps, audio_from=audio_from) as writer:
            for done, frame in enumerate(self, start=1):
                writer.write(frame)
                if progress is not None:
                    progress(done, self.frame_count)
        return Path(path)


def side_by_side(driving: np.ndarray | None, source: np.ndarray, result: np.ndarray) -> np.ndarray:
    """driving | source | result, each scaled to the result's height."""
    h = result.shape[0]
    panels = [p for p in (driving, source) if p is not None]
    scaled = [cv2.resize(p, (max(2, round(p.shape[1] * h / p.shape[0])), h), interpolation=cv2.INTER_AREA) for p in panels]
    return np.concatenate([*scaled, result], axis=1)


def _check_array(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {got}")
    return np.ascontiguousarray(image)
