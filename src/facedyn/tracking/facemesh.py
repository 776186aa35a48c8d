"""MediaPipe face mesh: faces in photos (with crops for small faces) and in video streams."""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from facedyn.errors import NoFaceError
from facedyn.tracking.topology import face_size


def silence_native_logs() -> None:
    """MediaPipe's C++ code writes internal warnings straight to file descriptor 2. Point that
    at /dev/null and keep Python's sys.stderr (errors, notices, progress) on the real stderr.
    For command-line entry points and worker processes only: it changes the process's fd 2.
    Set FACEDYN_NATIVE_LOGS=1 to see them."""
    if os.environ.get("FACEDYN_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = os.fdopen(real, "w", buffering=1)


def mediapipe_solutions():
    """MediaPipe's solutions module, imported on first use (it is large, and facedyn has no
    import-time side effects)."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging is noise for users
    if "mediapipe" not in sys.modules:
        _defer_drawing_modules()
    import mediapipe as mp

    for name, module in _deferred.items():  # what the import statements would have bound
        setattr(mp.solutions, name.rsplit(".", 1)[1], module)
    return mp.solutions


_DRAWING = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")
_deferred: dict[str, ModuleType] = {}


class _LoadedOnFirstUse(ModuleType):
    """A module whose code runs when one of its names is first looked up."""

    def __getattr__(self, attr: str):
        loader = None if attr.startswith("__") else self.__dict__.pop("_loader", None)
        if loader is None:  # the import system's own probes (__path__, ...), or loaded already
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        loader.exec_module(self)
        return getattr(self, attr)


def _defer_drawing_modules() -> None:
    """Register MediaPipe's drawing helpers as modules that load on first use.

    Importing mediapipe imports them, and they import matplotlib: half a second of the time to
    the first frame, for code facedyn never calls. Whoever uses them gets them in full on the
    first name they look up. When anything about the package is unexpected, nothing is
    deferred. (importlib's LazyLoader cannot do this on Python 3.11: the import statement in
    mediapipe's own package reads the module's __spec__, which loads it.)"""
    try:
        spec = importlib.util.find_spec("mediapipe")  # finds a top-level package without importing it
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in _DRAWING:
        path = root / "python" / "solutions" / f"{name.rsplit('.', 1)[1]}.py"
        if name in sys.modules or not path.is_file():
            continue
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = _LoadedOnFirstUse(name)
        module.__spec__, module.__file__, module.__loader__ = module_spec, str(path), module_spec.loader
        module.__package__ = name.rsplit(".", 1)[0]
        module._loader = module_spec.loader
        sys.modules[name] = module
        _deferred[name] = module


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box in pixels (x0, y0, width, height) and detector score."""

    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


def _landmarks_to_pixels(result_landmarks, x0: float, y0: float, w: float, h: float) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in result_landmarks.landmark], dtype=np.float64)
    return np.stack([x0 + pts[:, 0] * w, y0 + pts[:, 1] * h, pts[:, 2] * w], axis=1)


def square_crop(center: tuple[float, float], side: float) -> tuple[int, int, int]:
    """A square (x0, y0, side) in integer pixels around `center`; it may extend past the image."""
    side = max(int(round(side)), 8)
    return int(round(center[0] - side / 2)), int(round(center[1] - side / 2)), side


def crop_padded(image: np.ndarray, x0: int, y0: int, side: int, out_size: int) -> np.ndarray:
    """Crop a square that may extend past the image (padded with edge pixels) and resize it."""
    m = np.float32([[out_size / side, 0, -x0 * out_size / side], [0, out_size / side, -y0 * out_size / side]])
    return cv2.warpAffine(image, m, (out_size, out_size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def _serialised(method: Callable) -> Callable:
    """Run a FaceTracker method under the tracker's lock."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class FaceTracker:
    """MediaPipe face mesh (478 points with irises) for photos and video streams.

    Landmarks are returned as (478, 3) float64 arrays in the pixels of the image given:
    x right, y down, z the mesh's relative depth in the same pixel scale (smaller = nearer).

    Use as a context manager; `close()` frees the graphs.

    Args:
        crop_size: side in pixels of the square crop around a face that the mesh runs on
            for photos and for small faces in video (128..1024).
        small_face: a video face whose size is below this share of the frame's shorter
            side is tracked on a crop that follows it (0..1).
    """

    def __init__(self, crop_size: int = 384, small_face: float = 0.2) -> None:
        sol = mediapipe_solutions()
        self.crop_size = crop_size
        self.small_face = small_face
        self._detector = sol.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        self._still = sol.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
        )
        self._still_many = None
        self._video = None
        self._video_crop: tuple[int, int, int] | None = None
        self._sol = sol
        # MediaPipe's graphs are not safe to call from two threads at once (animate tracks on
        # a worker thread): every public method holds this.
        self._lock = threading.RLock()

    # -- photos -----------------------------------------------------------------------------
    @_serialised
    def detect_faces(self, image: np.ndarray) -> list[FaceBox]:
        """Face boxes in an (H, W, 3) uint8 RGB image, ordered left to right."""
        boxes = self._detect(image, 0, 0)
        if not boxes:
            boxes = self._boxes_from_mesh(image)
        if not boxes:
            boxes = self._detect_in_tiles(image)
        return sorted(boxes, key=lambda b: b.center[0])

    def _detect(self, image: np.ndarray, x0: int, y0: int) -> list[FaceBox]:
        h, w = image.shape[:2]
        boxes = []
        for det in self._detector.process(np.ascontiguousarray(image)).detections or []:
            rb = det.location_data.relative_bounding_box
            boxes.append(FaceBox(x0 + rb.xmin * w, y0 + rb.ymin * h, rb.width * w, rb.height * h, det.score[0]))
        return boxes

    def _detect_in_tiles(self, image: np.ndarray) -> list[FaceBox]:
        """Small faces in large photos: the detector sees a 192-pixel image, so look at
        overlapping tiles (halves, then quarters of the longer side) and merge duplicates."""
        h, w = image.shape[:2]
        for parts in (2, 4):
            side = max(h, w) // parts
            if side < 128:
                break
            stride = side // 2
            found = []
            for y0 in range(0, max(h - side, 0) + 1, stride):
                for x0 in range(0, max(w - side, 0) + 1, stride):
                    found += self._detect(image[y0: y0 + side, x0: x0 + side], x0, y0)
            if found:
                return _merge(found)
        return []

    def _boxes_from_mesh(self, image: np.ndarray) -> list[FaceBox]:
        """Fallback for faces the detector misses (large, close-up faces)."""
        if self._still_many is None:
            self._still_many = self._sol.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=5, refine_landmarks=True
            )
        h, w = image.shape[:2]
        boxes = []
        for lm in self._still_many.process(image).multi_face_landmarks or []:
            pts = _landmarks_to_pixels(lm, 0, 0, w, h)
            lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
            boxes.append(FaceBox(lo[0], lo[1], *(hi - lo), 1.0))
        return boxes

    @_serialised
    def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The 478 landmarks of the face in `box`, meshed on a square crop around it.

        Raises:
            NoFaceError: the mesh finds no face in the crop.
        """
        x0, y0, side = square_crop(box.center, 1.9 * max(box.width, box.height))
        crop = crop_padded(image, x0, y0, side, self.crop_size)
        result = self._still.process(crop)
        if not result.multi_face_landmarks:
            raise NoFaceError("the face mesh found no face landmarks in the detected face")
        pts = _landmarks_to_pixels(result.multi_face_landmarks[0], 0, 0, self.crop_size, self.crop_size)
        pts *= side / self.crop_size
        pts[:, 0] += x0
        pts[:, 1] += y0
        return pts

    # -- video ------------------------------------------------------------------------------
    @_serialised
    def reset_video(self) -> None:
        """Start a new video stream (forget the previous stream's face)."""
        if self._video is not None:
            self._video.close()
        self._video = self._sol.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=0.5, min_tracking_confidence=0.5,
        )
        self._video_crop = None

    @_serialised
    def track(self, frame: np.ndarray) -> np.ndarray | None:
        """Landmarks of the face in the next frame of a stream, or None where none is found.

        Args:
            frame: (H, W, 3) uint8 RGB; frames of one stream in order (call `reset_video` first).
        """
        if self._video is None:
            self.reset_video()
        if self._video_crop is not None:
            pts = self._track_crop(frame)
        else:
            result = self._video.process(frame)
            if not result.multi_face_landmarks:
                return None
            h, w = frame.shape[:2]
            pts = _landmarks_to_pixels(result.multi_face_landmarks[0], 0, 0, w, h)
            if face_size(pts) < self.small_face * min(h, w):
                self._video_crop = square_crop(_center(pts), 2.2 * face_size(pts))
        return pts

    def _track_crop(self, frame: np.ndarray) -> np.ndarray | None:
        x0, y0, side = self._video_crop
        crop = crop_padded(frame, x0, y0, side, self.crop_size)
        result = self._video.process(crop)
        if not result.multi_face_landmarks:
            self._video_crop = None  # lost: look at the whole frame again next time
            return None
        pts = _landmarks_to_pixels(result.multi_face_landmarks[0], 0, 0, self.crop_size, self.crop_size)
        pts *= side / self.crop_size
        pts[:, :2] += (x0, y0)
        # Follow the face slowly so the crop does not jitter with the landmarks.
        nx, ny, nside = square_crop(_center(pts), 2.2 * face_size(pts))
        if abs(nx - x0) + abs(ny - y0) > 0.08 * side or abs(nside - side) > 0.1 * side:
            self._video_crop = (nx, ny, nside)
        return pts

    @_serialised
    def close(self) -> None:
        for graph in (self._detector, self._still, self._still_many, self._video):
            if graph is not None:
                graph.close()
        self._video = self._still_many = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _merge(boxes: list[FaceBox]) -> list[FaceBox]:
    """Keep the best-scoring box among overlapping ones (IoU > 0.3)."""
    kept: list[FaceBox] = []
    for b in sorted(boxes, key=lambda b: -b.score):
        if all(_iou(b, k) <= 0.3 for k in kept):
            kept.append(b)
    return kept


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0.0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    return inter / (a.width * a.height + b.width * b.height - inter)


def _center(pts: np.ndarray) -> tuple[float, float]:
    lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
    return float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2
