"""Colour of light in a photo: what white looks like under it, how colourful the photo is."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.tracking import topology as T

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601 luma weights, RGB order


def face_square(image: np.ndarray, points: np.ndarray, faces: float = 1.5) -> np.ndarray:
    """(K, 3) float64 RGB pixels of the square of `faces` face sizes around a face.

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in pixels.
    """
    centre = points[T.FACE_OVAL, :2].mean(0)
    half = 0.5 * faces * float(T.face_size(points))
    h, w = image.shape[:2]
    x0, y0 = np.clip((centre - half).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip((centre + half).astype(int), 1, [w, h])
    return image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].reshape(-1, 3).astype(np.float64)


def white_point(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(3,) RGB colour of the light on a face, brightest channel 1: the less coloured of two
    estimates, each of which errs towards colour: shades of grey (Minkowski p = 6, Finlayson &
    Trezzi 2004) over 1.5 face sizes around the face (pulled towards the skin and a coloured
    background) and the brighter half of the whites of the eyes (pulled towards the lids'
    skin when little of them shows). A black and white photo gives (1, 1, 1).

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in pixels.
    """
    light = ((face_square(image, points) / 255.0) ** 6).mean(0) ** (1 / 6)
    estimates = [light / max(float(light.max()), 1e-9)]
    sclera = _eye_whites(image, points)
    if len(sclera) >= 40:
        bright = sclera[sclera @ LUMA >= np.median(sclera @ LUMA)].mean(0)
        estimates.append(bright / max(float(bright.max()), 1e-9))
    return min(estimates, key=lambda white: float(white.max() - white.min()))


def _eye_whites(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 3) float64 RGB pixels inside the eye openings and outside the irises."""
    mask = np.zeros(image.shape[:2], np.uint8)
    for loop, iris in ((T.RIGHT_EYE_LOOP, T.RIGHT_IRIS), (T.LEFT_EYE_LOOP, T.LEFT_IRIS)):
        cv2.fillPoly(mask, [np.round(points[loop, :2]).astype(np.int32)], 1)
        centre = points[iris[0], :2]
        radius = float(np.linalg.norm(points[iris[1:], :2] - centre, axis=1).mean())
        cv2.circle(mask, tuple(int(v) for v in np.round(centre)), int(np.ceil(1.1 * radius)), 0, -1)
    return image[mask.astype(bool)].astype(np.float64)


def colourfulness(image: np.ndarray, points: np.ndarray) -> float:
    """Mean chroma (Lab a*b* distance from grey, 0..~100) of a face's skin: 0 for a black and
    white photo, about 10-35 for a colour one.

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in pixels.
    """
    return _chroma(_face_lab(image, points))


def _chroma(lab: np.ndarray) -> float:
    """Mean a*b* distance from grey of (K, 3) Lab pixels."""
    return float(np.hypot(lab[:, 1], lab[:, 2]).mean())


def brightness(image: np.ndarray, points: np.ndarray) -> float:
    """Mean Lab lightness (0..100) of a face's skin."""
    return float(_face_lab(image, points)[:, 0].mean())


def _face_lab(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 3) float32 OpenCV Lab (L 0..100) of the pixels inside the face outline, less the
    eyes, brows and mouth: the skin (the background around a face says nothing of its light)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[T.FACE_OVAL, :2]).astype(np.int32)], 1)
    for loop in (T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP, T.RIGHT_BROW, T.LEFT_BROW, T.LIPS_OUTER_UPPER):
        cv2.fillPoly(mask, [cv2.convexHull(np.round(points[loop, :2]).astype(np.int32))], 0)
    cv2.fillPoly(mask, [np.round(np.concatenate([points[T.LIPS_OUTER_UPPER, :2],
                                                   points[T.LIPS_OUTER_LOWER[::-1], :2]])).astype(np.int32)], 0)
    pixels = image[mask.astype(bool)]
    if len(pixels) < 20:  # a face outside the image: what there is around it
        pixels = face_square(image, points).astype(np.uint8)
    return cv2.cvtColor(pixels.astype(np.float32)[None] / 255.0, cv2.COLOR_RGB2LAB)[0]


def teeth_weight(lab: np.ndarray) -> np.ndarray:
    """(...,) 0..1 how much each Lab pixel (OpenCV float Lab: L 0..100, a and b around 0)
    looks like a tooth: light and nearly grey."""
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return np.clip((lab[..., 0] - 45) / 20, 0, 1) * np.clip((32 - chroma) / 12, 0, 1)


@dataclass(frozen=True)
class Light:
    """How a photo is lit and coloured, for moving pixels from one photo into another.

    white: (3,) RGB colour of white under its light (white_point), brightest channel 1.
    chroma: mean chroma of the face's skin (colourfulness). lightness: its mean Lab L.
    """

    white: np.ndarray
    chroma: float
    lightness: float

    @classmethod
    def of(cls, image: np.ndarray, points: np.ndarray) -> Light:
        lab = _face_lab(image, points)  # once: colourfulness and brightness of the same skin
        return cls(white_point(image, points), _chroma(lab), float(lab[:, 0].mean()))

    def cast(self, lightness: np.ndarray) -> np.ndarray:
        """(..., 2) the a*, b* (OpenCV float Lab) of this light's white at `lightness` (...,)
        L: a white's chroma scales with its lightness."""
        white = cv2.cvtColor(self.white.astype(np.float32)[None, None], cv2.COLOR_RGB2LAB)[0, 0]
        return white[1:] * (lightness[..., None] / max(float(white[0]), 1e-3))


def relight(patch: np.ndarray, source: Light, target: Light) -> np.ndarray:
    """Pixels of one photo (`source` light) as they would look in another (`target`): white
    balance moved from one light to the other, chroma scaled by the photos' colourfulness (a
    black and white photo gets grey), lightness scaled by the square root of their skins'
    brightness ratio (between 0.75 and 1.3: the faces' own tones differ too), and bright
    tooth-like pixels (`teeth_weight`) given exactly the target's white at their own
    lightness, so teeth never take a tint nor a skin's darkness.

    Args:
        patch: (h, w, 3) float32 or uint8 RGB 0..255.

    Returns:
        (h, w, 3) float32 RGB 0..255.
    """
    lab = cv2.cvtColor(np.clip(patch, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    grey = lab[..., 1:] - source.cast(lab[..., 0])  # the source's cast taken out
    # Only the bright tooth-like pixels: a pink tongue is nearly as grey as teeth, a little darker.
    teeth = teeth_weight(lab) * np.clip((lab[..., 0] - 50) / 15, 0, 1)
    ratio = float(np.clip(target.chroma / max(source.chroma, 1e-3), 0.0, 1.2))
    lab[..., 1:] = target.cast(lab[..., 0]) + grey * (ratio * (1 - teeth))[..., None]
    # Skin tones differ between the faces, teeth do not: their lightness stays.
    lighter = float(np.clip((target.lightness / max(source.lightness, 1e-3)) ** 0.5, 0.75, 1.3))
    lab[..., 0] *= 1.0 + (lighter - 1.0) * (1.0 - teeth)
    return cv2.cvtColor(np.clip(lab, [0, -127, -127], [100, 127, 127]).astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0
