"""The source's layers, prepared once: working crop, landmarks, person mask, background plate."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.geometry.pose import HeadPose, fit_head_pose
from facedyn.render.control_mesh import ControlMesh, build_control_mesh
from facedyn.tracking import topology as T
from facedyn.tracking.facemesh import mediapipe_solutions

CROP_FACES = 2.8  # working crop side in face sizes


@dataclass(frozen=True)
class Crop:
    """A box of the full photo (x0, y0, width, height) in photo pixels and its working scale."""

    x0: int
    y0: int
    width: int
    height: int
    scale: float  # working pixels per photo pixel

    @property
    def working_size(self) -> tuple[int, int]:
        """(height, width) of the working image."""
        return max(2, round(self.height * self.scale)), max(2, round(self.width * self.scale))


@dataclass(frozen=True)
class SourceLayers:
    """Everything the renderer needs from the source photo.

    photo: (H, W, 3) uint8 the full photo.
    crop: where the working image lies in the photo.
    image: (h, w, 3) uint8 the working image (crop resized).
    landmarks: (478, 3) float64 face landmarks in working pixels.
    pose: the source head pose in working pixels.
    mask: (h, w) float32 person mask, 1 = person.
    plate: (h, w, 3) uint8 the background with the person inpainted away.
    mesh: the control mesh.
    skin: (3,) float32 mean RGB of the cheeks and forehead (for colour matching).
    """

    photo: np.ndarray
    crop: Crop
    image: np.ndarray
    landmarks: np.ndarray
    pose: HeadPose
    mask: np.ndarray
    plate: np.ndarray
    mesh: ControlMesh
    skin: np.ndarray


def choose_crop(photo_shape: tuple[int, int], face: np.ndarray, size: int) -> Crop:
    """A crop of CROP_FACES face sizes around the face, inside the photo, scaled to `size`."""
    h, w = photo_shape
    side = CROP_FACES * float(T.face_size(face))
    lo, hi = face[:, :2].min(0), face[:, :2].max(0)
    cx, cy = (lo + hi) / 2
    cw, ch = min(side, w), min(side, h)
    x0 = int(np.clip(round(cx - cw / 2), 0, w - round(cw)))
    y0 = int(np.clip(round(cy - ch / 2 + 0.1 * side), 0, h - round(ch)))  # a little lower: keep the neck
    cw, ch = round(cw), round(ch)
    return Crop(x0, y0, cw, ch, size / max(cw, ch))


SKIN_POINTS = np.array([50, 280, 101, 330, 151, 9, 117, 346])


def skin_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(3,) float32 mean RGB in small patches at cheek and forehead landmarks."""
    r = max(2, int(0.02 * T.face_size(landmarks)))
    h, w = image.shape[:2]
    samples = []
    for x, y in landmarks[SKIN_POINTS, :2].astype(int):
        patch = image[max(0, y - r): min(h, y + r + 1), max(0, x - r): min(w, x + r + 1)]
        if patch.size:
            samples.append(patch.reshape(-1, 3).mean(0))
    return np.mean(samples, axis=0).astype(np.float32) if samples else np.full(3, 128, np.float32)


def person_mask(image: np.ndarray, landmarks: np.ndarray, segmenter) -> np.ndarray:
    """(h, w) float32 person mask: selfie segmentation, always including the face oval."""
    mask = segmenter.process(image).segmentation_mask.astype(np.float32)
    oval = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(oval, cv2.convexHull(landmarks[T.FACE_OVAL, :2].astype(np.int32)), 1)
    mask = np.maximum(mask, oval.astype(np.float32))
    return cv2.GaussianBlur(mask, (0, 0), 1.5)


def background_plate(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the (dilated) person region inpainted from the background around it."""
    h, w = mask.shape
    person = (mask > 0.2).astype(np.uint8)
    person = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    small = 128 / max(h, w)  # inpainting is slow on large regions; the plate is only seen blurred
    sw, sh = max(8, round(w * small)), max(8, round(h * small))
    fill = cv2.inpaint(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA),
                       cv2.resize(person, (sw, sh), interpolation=cv2.INTER_NEAREST), 5, cv2.INPAINT_TELEA)
    fill = cv2.GaussianBlur(cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 2)
    return np.where(person[..., None] > 0, fill, image)


def prepare_layers(photo: np.ndarray, face: np.ndarray, size: int, segmenter) -> SourceLayers:
    """Build the source's layers from the photo and its face landmarks (photo pixels)."""
    crop = choose_crop(photo.shape[:2], face, size)
    h, w = crop.working_size
    patch = photo[crop.y0: crop.y0 + crop.height, crop.x0: crop.x0 + crop.width]
    interp = cv2.INTER_AREA if crop.scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(patch, (w, h), interpolation=interp)
    landmarks = face.copy()
    landmarks[:, 0] -= crop.x0
    landmarks[:, 1] -= crop.y0
    landmarks *= crop.scale
    pose = fit_head_pose(landmarks)
    mask = person_mask(image, landmarks, segmenter)
    return SourceLayers(photo, crop, image, landmarks, pose, mask, background_plate(image, mask),
                        build_control_mesh(landmarks, pose, (h, w)), skin_colour(image, landmarks))


def selfie_segmenter():
    """MediaPipe selfie segmentation (general model); close() it when done."""
    return mediapipe_solutions().selfie_segmentation.SelfieSegmentation(model_selection=0)
