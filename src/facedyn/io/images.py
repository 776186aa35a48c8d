"""Loading photos: EXIF orientation, gray, RGBA, 16-bit, huge images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from facedyn.errors import InputError
from facedyn.io.files import existing_file, one_line

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # larger photos are downscaled (with a notice), not refused
# Larger photos are refused unless JPEG can decode them at a reduced scale: a full decode
# would need gigabytes (a 20-byte PNG header can claim 65535 x 65535 pixels).
MAX_DECODE_PIXELS = 250_000_000
_HINT = "use a JPEG or PNG photo"


def check_image(path: str | Path) -> tuple[int, int]:
    """Check that a photo exists and is an image, reading only its header (fast).

    Returns:
        (width, height) as stored (before EXIF orientation).

    Raises:
        InputError: missing, a folder, unreadable or not an image.
    """
    path = _existing(path)
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as exc:  # Pillow raises many types on bad bytes
        raise InputError(f"cannot read image {path}: {one_line(exc)}; {_HINT}") from None


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
        InputError: the path is missing, not a readable image, or too large to decode.
    """
    path = _existing(path)
    Image.MAX_IMAGE_PIXELS = None  # we downscale huge images ourselves instead of refusing them
    try:
        with Image.open(path) as im:
            stored = im.size
            _reduce_while_decoding(im, max_pixels)
            w, h = im.size
            if w * h > MAX_DECODE_PIXELS:
                raise InputError(f"{path.name} has {w}x{h} pixels, too many to decode; "
                                 f"downscale it below {MAX_DECODE_PIXELS // 1_000_000} megapixels first")
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # in place: a 50-megapixel copy is 150 MB
            rgb = _to_rgb8(im)
    except InputError:
        raise
    except Exception as exc:  # Pillow raises many types on bad bytes (OSError, ValueError, SyntaxError, ...)
        raise InputError(f"cannot read image {path}: {one_line(exc)}; {_HINT}") from None
    return _fit_pixels(rgb, max_pixels, path.name, stored)


def _existing(path: str | Path) -> Path:
    return existing_file(path, "image", "a photo (JPEG, PNG, ...)")


def _reduce_while_decoding(im: Image.Image, max_pixels: int) -> None:
    """JPEG can decode at 1/2, 1/4 or 1/8 scale: use it for photos far over `max_pixels`."""
    w, h = im.size
    if im.format == "JPEG" and w * h > max_pixels:
        f = (max_pixels / (w * h)) ** 0.5
        im.draft("RGB", (max(1, int(w * f)), max(1, int(h * f))))


def _to_rgb8(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        arr = (arr - arr.min()) / max(float(np.ptp(arr)), 1e-9)
        return np.repeat((arr * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    return np.asarray(rgb, dtype=np.uint8)  # C-contiguous; read-only, so no 150 MB copy of a huge photo


def _fit_pixels(rgb: np.ndarray, max_pixels: int, name: str, stored: tuple[int, int]) -> np.ndarray:
    """`rgb` downscaled to at most `max_pixels`, with a notice when the stored photo was larger."""
    h, w = rgb.shape[:2]
    if h * w > max_pixels:
        f = (max_pixels / (h * w)) ** 0.5
        rgb = cv2.resize(rgb, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
    if stored[0] * stored[1] > max_pixels:
        log.warning("%s has %.0f megapixels; downscaled to %dx%d", name, stored[0] * stored[1] / 1e6,
                    rgb.shape[1], rgb.shape[0])
    return rgb
