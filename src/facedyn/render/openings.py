"""Eyes and a mouth that shut: what each opening of the photo looks like closed.

MediaPipe's lid and inner-lip contours on a photo sit a little inside the opening (on the
white of the eye or the iris, on the teeth, on the tongue of a wide-open mouth), so the lid
and lip triangles carry a strip of eye or mouth. When the target closes, that strip stays in
sight: a blink looks half open, closed lips keep a line of teeth between them. So each
opening of the photo gets a closed look, prepared once: the photo with the opening and a
band around it inpainted from the lid skin or the lips around it. As a target closes below
the photo's own opening, the warped closed look is blended in over the opening, and a lash
line (eyes) or a seam (mouth) is drawn along the closure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.render.colour import LUMA
from facedyn.render.rasterize import contour_y, polygon_coverage
from facedyn.tracking import topology as T

# Per kind: the band repainted around the opening (in opening widths); for the band around
# the target's opening, and for the opening itself, the openness (target gap over the
# photo's) where the repaint starts and where it is complete (a squinting eye keeps its
# iris; only a nearly shut one is covered); the same for the closure line, its width
# (opening widths) and opacity.
KINDS = {
    "eye": {"band": 0.1, "margin": 0.05, "band_starts": 0.95, "band_complete": 0.6, "starts": 0.35, "complete": 0.1,
            "line_starts": 0.35, "line_complete": 0.05, "line": 0.035, "line_opacity": 0.85},
    "mouth": {"band": 0.04, "band_starts": 0.95, "band_complete": 0.6, "starts": 0.3, "complete": 0.05,
              "line_starts": 0.3, "line_complete": 0.05, "line": 0.018, "line_opacity": 0.5},
}
MOUTH_OPEN = 0.05  # a photo's mouth open less than this (gap over width) has nothing to hide


@dataclass(frozen=True)
class Closing:
    """One opening's closed look, in the pixels of the image it was made from.

    kind: "eye" or "mouth"; loop: its contour's landmark indices; pairs: (K, 2) its
    (upper, lower) landmark pairs; gap: the photo's mean pair gap in pixels.
    texture: (h, w, 3) uint8 the photo around the opening with the opening repainted, at
        `origin` (x0, y0); mask: (h, w) float32 where the repaint applies, 0..1.
    line_colour: (3,) float RGB of the lash line or seam; width: the opening's width, pixels.
    """

    kind: str
    loop: np.ndarray
    pairs: np.ndarray
    gap: float
    texture: np.ndarray
    mask: np.ndarray
    origin: tuple[int, int]
    line_colour: np.ndarray
    width: float
    lower: np.ndarray  # (h, w) float32 1 below the eye's middle line (the band repainted as lids close)
    inside: np.ndarray  # (h, w) float32 the photo's opening, 0..1, repainted as it shuts


def prepare_closings(image: np.ndarray, points: np.ndarray) -> list[Closing]:
    """The closed looks of a photo's eyes, and of its mouth when it is open.

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in its pixels.
    """
    openings = [("eye", T.RIGHT_EYE_LOOP, T.RIGHT_EYE_PAIRS), ("eye", T.LEFT_EYE_LOOP, T.LEFT_EYE_PAIRS)]
    if T.mouth_opening(points) >= MOUTH_OPEN:
        openings.append(("mouth", T.MOUTH_INNER_LOOP, T.MOUTH_PAIRS))
    return [_closing(image, points, *opening) for opening in openings]


def _closing(image: np.ndarray, points: np.ndarray, kind: str, loop: np.ndarray, pairs: np.ndarray) -> Closing:
    polygon = points[loop, :2]
    width = max(float(np.linalg.norm(polygon[0] - polygon[len(polygon) // 2])), 4.0)  # corner to corner
    band = max(1, round(KINDS[kind]["band"] * width))
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(polygon.min(0)).astype(int) - 3 * band, 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(polygon.max(0)).astype(int) + 3 * band, 1, [w, h])
    roi = np.ascontiguousarray(image[y0:y1, x0:x1])
    line_colour = _line_colour(image, points, loop, kind)
    hole = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(hole, [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
    if kind == "eye":
        # The upper lid carries its own lashes down when it closes; what shows wrongly is the
        # eye white under the lower contour: the band reaches down, and the lower lid's skin
        # is drawn up into it (inpainting from the lashes smears them into a dark oval).
        below = np.zeros((2 * band + 1, 3), np.uint8)
        below[: band + 1, :] = 1  # dilation takes the max over src(y + dy - band): this grows the hole down
        hole = cv2.dilate(cv2.dilate(hole, np.ones((3, 3), np.uint8)), below)
        columns = np.arange(roi.shape[1]) + x0
        top = contour_y(points[loop[: len(loop) // 2 + 1], :2], columns) - y0
        middle = (top + contour_y(points[np.r_[loop[:1], loop[len(loop) // 2:][::-1]], :2], columns) - y0) / 2
        strip = _eye_above_contour(hole.astype(bool), top, max(1, round(KINDS[kind]["margin"] * width)))
        hole |= strip.astype(np.uint8)
        texture = _fill_eye(roi, hole.astype(bool), band, middle, line_colour)
    else:
        hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1)))
        texture = cv2.inpaint(roi, hole, max(2, band), cv2.INPAINT_TELEA)
    mask = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(0.5, band / 3))  # a soft edge all round
    inside = polygon_coverage(polygon - (x0, y0), mask.shape)
    lower = np.ones_like(mask)
    if kind == "eye":  # the eye white a rising lower lid carries; the iris under the upper lid stays
        lower = (np.arange(mask.shape[0])[:, None] > middle[None, :]).astype(np.float32)
        inside = np.maximum(inside, strip)  # the strip of eye above the contour shuts with the opening
    return Closing(kind, loop, pairs, _mean_gap(points, pairs), texture, mask,
                   (int(x0), int(y0)), line_colour, width, lower, inside)


def _eye_above_contour(hole: np.ndarray, top: np.ndarray, rows: int) -> np.ndarray:
    """(h, w) bool: `rows` rows above the upper lid contour `top` ((w,) y per column), across
    the eye's own columns. MediaPipe draws that contour a pixel or two inside the eye, on
    the white or the iris, so the upper lid carries a strip of eye down when it closes; the
    closed look paints the strip as the lid's margin."""
    h, w = hole.shape
    below = np.arange(h)[:, None] - top[None, :]
    columns = hole.any(0)
    if not columns.any():  # the eye lies outside the image
        return np.zeros_like(hole)
    columns[columns.argmax():w - columns[::-1].argmax()] = True  # corner to corner
    return (below < 0) & (below >= -rows) & columns[None, :]


def _fill_eye(roi: np.ndarray, hole: np.ndarray, band: int, middle: np.ndarray, lashes: np.ndarray) -> np.ndarray:
    """A shut eye over `hole`: above the eye's middle line the lash colour (the eye pixels the
    upper lid carries down become its margin), below it the lower lid's skin drawn up."""
    out = _fill_from_below(roi, hole, band).astype(np.float32)
    upper = hole & (np.arange(hole.shape[0])[:, None] < middle[None, :])
    out[upper] = 0.5 * out[upper] + 0.5 * lashes
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _fill_from_below(roi: np.ndarray, hole: np.ndarray, band: int) -> np.ndarray:
    """`roi` with each column's `hole` pixels taken from the first pixels under the hole in
    that column (the skin of the lower lid drawn up), softened across columns."""
    h, w = hole.shape
    rows = np.arange(h)[:, None]
    bottom = np.where(hole.any(0), (np.where(hole, rows, -1)).max(0), -1)
    under = np.clip(bottom[None, :] + 2 + np.arange(max(1, band))[:, None], 0, h - 1)  # a few rows of lid skin
    skin = roi[under, np.arange(w)[None, :]].astype(np.float32).mean(0)  # (w, 3) the lid skin under each column
    skin = cv2.GaussianBlur(skin[None], (0, 0), sigmaX=max(1.0, band / 2), sigmaY=0.1)[0]
    out = roi.astype(np.float32)
    fill = np.broadcast_to(skin[None], out.shape)
    out[hole] = fill[hole]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _mean_gap(points: np.ndarray, pairs: np.ndarray) -> float:
    """Mean gap of the (upper, lower) pairs across the opening's axis (corner to corner): the
    pairs are not stacked exactly, so their straight distance never reaches 0."""
    upper, lower = points[pairs[:, 0], :2], points[pairs[:, 1], :2]
    # Scalar arithmetic: this runs several times a frame on a handful of pairs.
    ax, ay = (upper[-1] - upper[0]).tolist()
    length = max(math.hypot(ax, ay), 1e-9)
    nx, ny = -ay / length, ax / length
    if ny < 0:  # down the face, whichever way the contour runs (the left eye's runs leftwards)
        nx, ny = -nx, -ny
    gaps = (lower[:, 0] - upper[:, 0]) * nx + (lower[:, 1] - upper[:, 1]) * ny
    return float(np.maximum(gaps, 0.0).mean())


def _line_colour(image: np.ndarray, points: np.ndarray, loop: np.ndarray, kind: str) -> np.ndarray:
    """A closure line's colour: the darkest fifth of the pixels along the upper contour (the
    lashes of an eye, the shadow under the upper lip), a little darker still for a mouth."""
    h, w = image.shape[:2]
    upper = points[loop[: len(loop) // 2 + 1], :2]
    xy = np.clip(np.round(upper).astype(int), 0, [w - 1, h - 1])
    around = np.concatenate([image[np.clip(xy[:, 1] + dy, 0, h - 1), xy[:, 0]] for dy in (-2, -1, 0, 1)]).astype(np.float32)
    luma = around @ LUMA
    dark = around[luma <= np.percentile(luma, 20)].mean(0)
    return dark * (0.6 if kind == "mouth" else 1.0)


def openness(closing: Closing, target: np.ndarray) -> float:
    """The target's opening over the photo's (1 = as open, 0 = shut).

    target: (478, 2+) target landmarks in the pixels of the closing's image.
    """
    return _mean_gap(target, closing.pairs) / max(closing.gap, 1e-6)


def _ramp(value: float, starts: float, complete: float) -> float:
    return min(max((starts - value) / (starts - complete), 0.0), 1.0)


def draw_closed(out: np.ndarray, warp: np.ndarray, closing: Closing, target: np.ndarray) -> None:
    """Blend the closed look into `out` where the target's opening is shut, in place.

    Args:
        out: (H, W, 3) uint8 frame being composed, in the closing's image pixels.
        warp: (H, W, 2) float32 its backward map into the closing's image.
        target: (478, 2+) target landmarks in `out` pixels.
    """
    k = KINDS[closing.kind]
    ratio = openness(closing, target)
    band, shut = _ramp(ratio, k["band_starts"], k["band_complete"]), _ramp(ratio, k["starts"], k["complete"])
    if band <= 0.0 and shut <= 0.0:
        return
    polygon = target[closing.loop, :2]
    margin = 3 * KINDS[closing.kind]["band"] * closing.width + 2
    H, W = out.shape[:2]
    x0, y0 = np.clip(np.floor(polygon.min(0) - margin).astype(int), 0, [W - 1, H - 1])
    x1, y1 = np.clip(np.ceil(polygon.max(0) + margin).astype(int), 1, [W, H])
    where = warp[y0:y1, x0:x1] - np.float32(closing.origin)
    texture = cv2.remap(closing.texture, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.remap(closing.mask, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    opening = polygon_coverage(polygon - (x0, y0), mask.shape)
    lower = cv2.remap(closing.lower, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # What the opening shows is the target's opening and, squeezed thin beside its closure
    # line, the photo's opening carried there by the map (a strip of eye white above the lash
    # line, teeth along the seam): both are repainted as the opening shuts.
    inside = cv2.remap(closing.inside, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    opening = np.maximum(opening, inside)
    mask *= band * lower * (1.0 - opening) + shut * opening
    line = _closure_line(closing, target, (x0, y0), mask.shape)
    line *= _ramp(ratio, k["line_starts"], k["line_complete"]) * k["line_opacity"]
    region = out[y0:y1, x0:x1].astype(np.float32)
    region += (texture - region) * mask[..., None]
    region += (closing.line_colour - region) * line[..., None]
    out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def _closure_line(closing: Closing, target: np.ndarray, origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 0..1: an anti-aliased line from corner to corner through the middle of
    each target pair (where the lids or lips meet), soft at the corners."""
    loop, pairs = closing.loop, closing.pairs
    middle = (target[pairs[:, 0], :2] + target[pairs[:, 1], :2]) / 2
    path = np.concatenate([target[loop[:1], :2], middle, target[loop[len(loop) // 2: len(loop) // 2 + 1], :2]])
    scale = 8  # sub-pixel precision for cv2's fixed-point drawing
    line = np.zeros(size, np.float32)
    thickness = max(1, round(KINDS[closing.kind]["line"] * closing.width))
    points = np.round((path - origin) * scale).astype(np.int32)
    cv2.polylines(line, [points], False, 1.0, thickness, cv2.LINE_AA, shift=3)
    return cv2.GaussianBlur(line, (0, 0), max(0.5, thickness / 3))
