"""Where live frames go: a window, a virtual camera (for video-call apps), an mp4 recording."""

from __future__ import annotations

import logging
import os
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facedyn.errors import InputError
from facedyn.io import VideoWriter

log = logging.getLogger("facedyn")
MAX_HELD_SECONDS = 10.0  # a recording repeats the last frame over a gap at most this long


class Sink:
    """Takes rendered frames: start() once the stream's rate and frame size are known, then
    show() each new frame (its index in the stream: missing indices were lost or skipped),
    tick() while none comes. `wants_stop` turns True when the user closed it (a window)."""

    wants_stop = False

    def start(self, fps: Fraction, size: tuple[int, int]) -> None:
        """fps: the stream's frame rate; size: (height, width) of the frames to come."""

    def show(self, frame: np.ndarray, index: int) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Called about once a frame period while no new frame comes."""

    def close(self) -> None:
        """Finish (a recording is published here, also after Ctrl-C)."""


class WindowSink(Sink):
    """An OpenCV window; Esc, q or closing it asks to stop.

    Raises:
        InputError: there is no display to open it on.
    """

    def __init__(self, title: str = "facedyn") -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--window needs a display (none is set: DISPLAY); record with -o instead, "
                             "or run under Xvfb (xvfb-run facedyn ...)")
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)

    def show(self, frame: np.ndarray, index: int) -> None:
        cv2.imshow(self.title, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.tick()

    def tick(self) -> None:
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        self.wants_stop = self.wants_stop or key in (27, ord("q")) or closed

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)


class VirtualCameraSink(Sink):
    """A virtual webcam that video-call apps can pick (pyvirtualcam: v4l2loopback on Linux,
    OBS's virtual camera on Windows and macOS); it gets a frame every period, the last one
    repeated while none comes.

    Raises:
        InputError: pyvirtualcam is not installed, or no virtual camera device is there.
    """

    def __init__(self) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise InputError("--virtual-camera needs pyvirtualcam: pip install 'facedyn[live]'") from None
        self._module = pyvirtualcam
        self._camera = None
        self._last: np.ndarray | None = None

    def start(self, fps: Fraction, size: tuple[int, int]) -> None:
        height, width = size
        try:
            self._camera = self._module.Camera(width=width + width % 2, height=height + height % 2, fps=float(fps))
        except Exception as exc:  # pyvirtualcam raises RuntimeError or its own errors per platform
            raise InputError(f"no virtual camera could be opened ({' '.join(str(exc).split())}); on Linux load "
                             "v4l2loopback, elsewhere install OBS's virtual camera") from None

    def show(self, frame: np.ndarray, index: int) -> None:
        h, w = self._camera.height, self._camera.width
        self._last = np.pad(frame, ((0, h - frame.shape[0]), (0, w - frame.shape[1]), (0, 0)), mode="edge")
        self._camera.send(self._last)

    def tick(self) -> None:
        if self._last is not None:
            self._camera.send(self._last)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()


class RecordingSink(Sink):
    """An mp4 (or .mov, .mkv, .webm) of the stream in its own time: a frame that was lost or
    skipped is the last one shown, repeated, so the recording keeps the stream's pace. Written
    atomically: published by close(), also after Ctrl-C.

    Args:
        path: the output video (checked by the caller before the stream starts).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: VideoWriter | None = None
        self._max_held = 0
        self._next: int | None = None  # the index the next written frame has
        self._last: np.ndarray | None = None
        self.frames = 0
        self.held = 0

    def start(self, fps: Fraction, size: tuple[int, int]) -> None:
        self._writer = VideoWriter(self.path, Fraction(fps).limit_denominator(1001))
        self._max_held = int(MAX_HELD_SECONDS * float(fps))

    def show(self, frame: np.ndarray, index: int) -> None:
        if self._next is not None and self._last is not None and index > self._next:
            missing = index - self._next
            for _ in range(min(missing, self._max_held)):
                self._write(self._last)
            self.held += min(missing, self._max_held)
        self._write(frame)
        self._last, self._next = frame, index + 1

    def _write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self.frames:
            self._writer.close()
            return
        if self._writer is not None:
            self._writer.abort()
        log.warning("nothing was recorded: no frame arrived, so %s was not written", self.path)
