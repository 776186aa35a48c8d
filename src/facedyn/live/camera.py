"""Live frame sources: a webcam (OpenCV), or a video file played as a camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facedyn.errors import InputError
from facedyn.io import iter_frames, probe_video

FIRST_FRAME_TIMEOUT = 10.0  # seconds a webcam may take to deliver its first frame


@dataclass(frozen=True)
class CapturedFrame:
    """index: frames since the camera started (skipped ones counted); capture_time: when it
    was taken (time.time() seconds); image: (H, W, 3) uint8 RGB."""

    index: int
    capture_time: float
    image: np.ndarray


def parse_camera(text: str) -> int | Path:
    """"0" (a device index) or a video path -> what Camera takes."""
    text = str(text).strip()
    return int(text) if text.isdigit() else Path(text)


class Camera:
    """Frames from a webcam or a video file, newest first: a consumer that falls behind gets
    the newest frame and the ones it missed are counted in `dropped`, as with a real camera.

    Args:
        device: a webcam index (0, 1, ...) or a video file.
        realtime: a file plays at its own frame rate, frames dropped when the consumer is
            slower (as a camera); False: every frame of the file, as fast as they are taken.
            A webcam is always real time.
        loop: a file starts again at its end (for long runs from a short clip).

    Raises:
        InputError: the webcam cannot be opened, or the file is not a readable video.
    """

    def __init__(self, device: int | str | Path, realtime: bool = True, loop: bool = False) -> None:
        self.device = device
        self.loop = loop
        self.dropped = 0
        if isinstance(device, int):
            self._capture = cv2.VideoCapture(device)
            if not self._capture.isOpened():
                raise InputError(f"camera {device} cannot be opened; check that it is connected and free, "
                                 "or give another index or a video file (--camera clip.mp4)")
            rate = self._capture.get(cv2.CAP_PROP_FPS)
            self.fps = Fraction(rate if 1 <= rate <= 240 else 30).limit_denominator(1001)
            self.realtime = True
        else:
            self._capture = None
            self.info = probe_video(device)
            self.fps = self.info.fps
            self.realtime = realtime
        self._latest: CapturedFrame | None = None
        self._ended = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def __iter__(self) -> Iterator[CapturedFrame]:
        if not self.realtime:
            yield from self._file_frames(paced=False)
            return
        self._thread = threading.Thread(target=self._produce, name="facedyn-camera", daemon=True)
        self._thread.start()
        waited = 0.0
        while True:
            with self._ready:
                if self._latest is None and not self._ended:
                    self._ready.wait(0.1)
                frame, self._latest = self._latest, None
                ended = self._ended
            if frame is not None:
                waited = 0.0
                yield frame
            elif ended:
                return
            else:
                waited += 0.1
                if self._capture is not None and waited > FIRST_FRAME_TIMEOUT:
                    raise InputError(f"camera {self.device} sent no frame for {FIRST_FRAME_TIMEOUT:.0f} s")

    def _produce(self) -> None:
        try:
            frames = self._webcam_frames() if self._capture is not None else self._file_frames(paced=True)
            for frame in frames:
                with self._ready:
                    self.dropped += self._latest is not None
                    self._latest = frame
                    self._ready.notify()
                if self._stop.is_set():
                    return
        finally:
            with self._ready:
                self._ended = True
                self._ready.notify()

    def _webcam_frames(self) -> Iterator[CapturedFrame]:
        start, index = None, -1
        while not self._stop.is_set():
            ok, bgr = self._capture.read()
            now = time.time()
            if not ok:
                return
            start = now if start is None else start
            index = max(index + 1, round((now - start) * float(self.fps)))  # frames the camera skipped count
            yield CapturedFrame(index, now, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def _file_frames(self, paced: bool) -> Iterator[CapturedFrame]:
        period, index, start = 1.0 / float(self.fps), 0, time.time()
        while not self._stop.is_set():
            for image in iter_frames(self.device, self.info.frame_count):
                due = start + index * period
                if paced and due > time.time():
                    time.sleep(due - time.time())
                yield CapturedFrame(index, due if paced else time.time(), image)
                index += 1
                if self._stop.is_set():
                    return
            if not self.loop:
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._capture is not None:
            self._capture.release()

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
