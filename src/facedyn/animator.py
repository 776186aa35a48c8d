"""The Animator: load a source photo, animate it with a driver, save the video."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.errors import InputError, NoFaceError
from facedyn.geometry.retarget import RetargetConfig, Retargeter
from facedyn.io import VIDEO_SUFFIXES, VideoWriter, fit_scale, fits_h264, load_image
from facedyn.io.files import check_output
from facedyn.render import RenderConfig, Renderer, SourceLayers, prepare_layers
from facedyn.render.layers import selfie_segmenter
from facedyn.stages import DEPTH, Behind, ahead
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T

log = logging.getLogger(__name__)

MIN_FACE_PIXELS = 40  # smaller faces have too little detail to animate
OUTPUT_SIZE = 2048  # default cap on the output video's long side: plays everywhere, costs what it shows

Progress = Callable[[int, int | None], None]  # (frames done, total or None)


@dataclass(frozen=True)
class AnimatorConfig:
    """Options of an Animator."""

    size: int = 512  # working resolution: the face crop's longer side in pixels, 128..2048
    # The output video's long side at most, in pixels (64..16384); None: the photo's own size.
    # Either way the output stays within H.264 level 5.2, the largest that browsers play.
    output_size: int | None = OUTPUT_SIZE
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    side_by_side: bool = False  # write driving | source | result
    # Decode and track, render, and encode on their own threads at once (the same frames,
    # faster on 2+ cores); False runs them one after another.
    pipelined: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 128 <= self.size <= 2048:
            raise InputError(f"size must be a whole number in 128..2048, got {self.size!r}")
        if self.output_size is not None and (isinstance(self.output_size, bool) or not isinstance(self.output_size, int)
                                             or not 64 <= self.output_size <= 16384):
            raise InputError(f"output size must be a whole number in 64..16384 or None (full), got {self.output_size!r}")


@dataclass(frozen=True)
class Source:
    """A prepared source photo: its layers and its face's own dynamics.

    photo_size: (height, width) of the photo as loaded; `layers.photo` is smaller when the
        output cannot show more (AnimatorConfig.output_size).
    """

    path: Path | None
    layers: SourceLayers
    dynamics: FaceDynamics
    face_count: int
    face_index: int
    photo_size: tuple[int, int]


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
        self._owns_models = True

    def with_config(self, config: AnimatorConfig) -> Animator:
        """An Animator with other options that shares this one's models (they load once: a
        web app or a batch worker keeps one Animator and runs each job with its own options).
        Closing it leaves the models open; close this one when done."""
        other = copy.copy(self)
        other.config, other._owns_models = config, False
        return other

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
        photo, landmarks = self._fit_to_output(image, landmarks)
        layers = prepare_layers(photo, landmarks, self.config.size, self._segmenter)
        dynamics, _ = dynamics_from_landmarks(layers.landmarks)
        return Source(path, layers, dynamics, len(boxes), index, image.shape[:2])

    def _fit_to_output(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The photo downscaled to the output's cap (pasted back, nothing larger is ever shown),
        with its landmarks; the face was found at full resolution."""
        cap = self.config.output_size
        h, w = image.shape[:2]
        if not self.config.render.paste_back or cap is None or max(h, w) <= cap:
            return image, landmarks
        f = cap / max(h, w)
        small = cv2.resize(image, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
        return small, landmarks * f

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
        if self._owns_models:
            self._tracker.close()
            self._segmenter.close()

    def __enter__(self) -> Animator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Animation:
    """A lazy animation: iterate for (H, W, 3) uint8 RGB frames, or `save()` a video.

    The frame size is planned once: the photo (or working crop), side by side with the
    driving frame and the source when asked, scaled down to AnimatorConfig.output_size and
    to what H.264 level 5.2 allows at this frame rate (with a notice when it was reduced).
    """

    def __init__(self, source: Source, motion: Motion, config: AnimatorConfig) -> None:
        self.source, self.motion, self.config = source, motion, config
        self.retargeter = Retargeter(source.layers.landmarks, motion.reference, config.retarget, motion.closed_gap)
        base = source.layers.photo if config.render.paste_back else source.layers.image
        panels = [motion.frame_size] if config.side_by_side and motion.frame_size else []
        panels += [base.shape[:2]] if config.side_by_side else []
        height = _output_height(base.shape[:2], panels, float(motion.fps), config.output_size)
        self.renderer = Renderer(source.layers, config.render, height / base.shape[0], self.retargeter.rest_shape)
        self._panel_widths = [max(2, round(pw * height / ph)) for ph, pw in panels]
        self._source_panel = (cv2.resize(base, (self._panel_widths[-1], height), interpolation=cv2.INTER_AREA)
                              if config.side_by_side else None)
        self._say_if_reduced(panels)

    @property
    def fps(self) -> Fraction:
        return self.motion.fps

    @property
    def _depth(self) -> int:
        """How far the stages may run apart (0: one after another)."""
        return DEPTH if self.config.pipelined else 0

    @property
    def frame_count(self) -> int | None:
        return self.motion.frame_count

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the frames, before padding to even sides for the video."""
        height, width = self.renderer.output_size
        return height, width + sum(self._panel_widths)

    def _say_if_reduced(self, panels: list[tuple[int, int]]) -> None:
        full_h, full_w = self.source.photo_size if self.config.render.paste_back else self.source.layers.image.shape[:2]
        full = (full_h, _side_by_side_width(full_h, full_w, panels))
        got = self.frame_size
        if got[0] >= full[0] - 1:
            return
        cap = self.config.output_size
        why = (f"the long side is capped at {cap} pixels (output_size, --output-size N or full)"
               if cap is not None and max(full) > cap else f"the largest H.264 level 5.2 allows at {float(self.fps):g} fps")
        log.warning("the video is %dx%d instead of %dx%d: %s", got[1], got[0], full[1], full[0], why)

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in ahead(self.motion.frames, self._depth):
            yield self.render(frame)
        if self.motion.missing_frames:
            log.warning("no face found in %d driving frame(s); they were filled from their neighbours",
                        len(self.motion.missing_frames))

    def render(self, frame: DrivingFrame) -> np.ndarray:
        """One frame of the animation from one driving frame (live sources render this way).

        Returns:
            (H, W, 3) uint8 RGB of size `frame_size`.
        """
        target, pose = self.retargeter(frame.dynamics)
        out = self.renderer.render(target, pose, frame.image, frame.landmarks)
        if self.config.side_by_side:
            out = self._side_by_side(frame.image, out)
        return out

    def _side_by_side(self, driving: np.ndarray | None, result: np.ndarray) -> np.ndarray:
        """driving | source | result, each at the result's height (the driving panel at a width
        fixed once, so a video whose frame size changes cannot change the output's)."""
        panels = [self._source_panel]
        if driving is not None and len(self._panel_widths) == 2:
            size = (self._panel_widths[0], result.shape[0])
            panels.insert(0, cv2.resize(driving, size, interpolation=cv2.INTER_AREA))
        return np.concatenate([*panels, result], axis=1)

    def save(self, path: str | Path, audio: bool = True, progress: Progress | None = None) -> Path:
        """Render every frame into a video (atomically), with the driver's audio.

        Args:
            path: the output: .mp4, .mov or .mkv (H.264) or .webm (VP9); its folder must
                exist, and it may not be one of the inputs.
            audio: include the driving video's audio (when it has one), copied when the
                output can hold it as it is, else transcoded.
            progress: called as progress(done, total) after each frame.

        Raises:
            InputError: a bad output path (checked before any frame is drawn).
            OutputError: the video cannot be written (disk full, permission denied).
        """
        path = check_output(path, VIDEO_SUFFIXES, (self.source.path, *self.motion.inputs))
        audio_from = self.motion.audio_from if audio else None
        with VideoWriter(path, self.fps, audio_from=audio_from) as writer, Behind(writer.write, self._depth) as encoder:
            for done, frame in enumerate(self, start=1):
                encoder.put(frame)
                if progress is not None:
                    progress(done, self.frame_count)
        return path


def _side_by_side_width(height: int, width: int, panels: list[tuple[int, int]]) -> int:
    """Width of a result of height x width with `panels` ((h, w) each) scaled to its height beside it."""
    return width + sum(max(2, round(pw * height / ph)) for ph, pw in panels)


def _output_height(size: tuple[int, int], panels: list[tuple[int, int]], fps: float, cap: int | None) -> int:
    """The tallest output height, at most `size`'s, at which the result of (height, width)
    `size` with its `panels` beside it, padded to even sides, has its long side within `cap`
    and fits H.264 level 5.2 (the frame is laid out in whole pixels, so this is checked on
    the exact composite rather than trusted to a scale factor)."""
    height, width = size

    def fits(h: int) -> bool:
        w = _side_by_side_width(h, max(2, round(width * h / height)), panels)
        h2, w2 = h + h % 2, w + w % 2
        return fits_h264(w2, h2, fps) and (cap is None or max(w2, h2) <= cap)

    h = min(height, max(2, int(height * fit_scale(_side_by_side_width(height, width, panels), height, fps, cap))))
    while h > 2 and not fits(h):
        h -= 1
    return h


def _check_array(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {got}")
    return np.ascontiguousarray(image)
