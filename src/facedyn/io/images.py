"""Loading photos: EXIF orientation, gray, RGBA, 16-bit, huge images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facedyn.errors import InputError

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # larger photos are downscaled (with a notice), not refused


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as an RGB uint8 array.

    EXIF orientation is applied; gray, palette and 16-bit images become 8-bit RGB; an alpha
    channel is composited over white; a photo over `max_pixels` is downscaled to fit.

    Args:
        path: an image file readable by Pillow (JPEG, PNG, TIFF, WebP, ...).
        max_pixels: the largest number of pixels kept.

    Returns:
        (H, W, 3) uint8 RGB image, row 0 at the top.

    Raises:
        InputError: the path is missing or not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    Image.MAX_IMAGE_PIXELS = None  # we downscale huge images ourselves instead of refusing them
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb8(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"cannot read image {path}: {exc}; use a JPEG or PNG photo") from exc
    return _limit_size(rgb, max_pixels, path)


def _to_rgb8(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        arr = (arr - arr.min()) / max(float(np.ptp(arr)), 1e-9)
        return np.repeat((arr * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _limit_size(rgb: np.ndarray, max_pixels: int, path: Path) -> np.ndarray:
    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb
    f = (max_pixels / (h * w)) ** 0.5
    size = (max(1, int(w * f)), max(1, int(h * f)))
    log.warning("%s has %.0f megapixels; downscaled to %dx%d", path.name, h * w / 1e6, *size)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
