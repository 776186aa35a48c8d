"""The mouth interior: what shows inside the target's inner lips.

Chosen once per photo:

- the photo shows its teeth: its own interior, split along the middle of the mouth, the upper
  half riding on the upper lip and the lower half on the lower lip, the dark of the mouth
  between them (the upper teeth in front, as in a bite);
- else, with a driving frame: the driver's interior, relit for the photo (colour.relight:
  white balance, colourfulness, lightness; teeth kept white under the photo's light) and
  sharpened when it is enlarged;
- else (expressions, imagine, motion files): a drawn interior, individual upper and lower
  teeth with gaps and shading, the dark of the mouth, a tongue when the jaw drops.

It covers the whole inner-lip polygon, edge anti-aliased, whenever the lips part: the warped
photo shows only a smear of lip there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.geometry.pose import umeyama
from facedyn.render.colour import Light, relight, teeth_weight
from facedyn.render.rasterize import contour_y, polygon_coverage
from facedyn.tracking import topology as T

PARTED = 0.6  # pixels of lip gap before anything is drawn
OWN_TEETH = 0.08  # the photo's interior is reused when at least this share of it is teeth
SHARPEN_FROM = 1.25  # a driver's interior enlarged more than this is sharpened


@dataclass(frozen=True)
class Colours:
    """RGB float colours of a drawn interior, from the photo: the dark of the mouth, the
    tongue, and white under the photo's light for the teeth."""

    cavity: np.ndarray
    tongue: np.ndarray
    teeth: np.ndarray


class MouthInterior:
    """Draws a photo's mouth interior into frames (see the module's notes).

    Args:
        image: (H, W, 3) uint8 RGB the photo (in the pixels frames are drawn in).
        points: (478, 2+) its landmarks in those pixels.
    """

    def __init__(self, image: np.ndarray, points: np.ndarray) -> None:
        self.light = Light.of(image, points)
        self.colours = drawn_colours(image, points, self.light)
        self.own = OwnInterior.of(image, points)
        self._driver_light: Light | None = None

    def draw(self, out: np.ndarray, target: np.ndarray, driving: np.ndarray | None = None,
             driving_points: np.ndarray | None = None) -> None:
        """Fill the target's mouth opening in `out` (in place).

        Args:
            out: (H, W, 3) uint8 frame being composed.
            target: (478, 2+) target landmarks in `out` pixels.
            driving: (h, w, 3) uint8 driving frame and driving_points (478, 2+) its landmarks,
                or None.
        """
        polygon = target[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
        if np.linalg.norm(target[14, :2] - target[13, :2]) < PARTED:
            return
        box = _roi(out, polygon)
        if box is None:
            return
        if self.own is not None:
            patch = self.own.patch(target, box)
        elif driving is not None and driving_points is not None:
            if self._driver_light is None:  # one driver per animation: its light is measured once
                self._driver_light = Light.of(driving, driving_points)
            patch = driver_patch(driving, driving_points, target, box, self._driver_light, self.light)
            # Barely parted lips show the dark of the mouth; the driver's interior there would be
            # the inside edge of its own lips (a stripe of its lipstick).
            width = max(float(np.linalg.norm(target[291, :2] - target[61, :2])), 1.0)
            show = float(np.clip((np.linalg.norm(target[14, :2] - target[13, :2]) / width - 0.03) / 0.07, 0, 1))
            patch = self.colours.cavity + (patch - self.colours.cavity) * show
        else:
            patch = drawn_patch(target, box, self.colours)
        _blend(out, patch, polygon, box)


def drawn_colours(image: np.ndarray, points: np.ndarray, light: Light) -> Colours:
    """Colours for a drawn interior: the cavity and tongue from the photo's lips, the teeth
    white under its light (a little dimmer in a dim photo)."""
    h, w = image.shape[:2]
    lips = np.concatenate([T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER])
    xy = np.clip(np.round(points[lips, :2]).astype(int), 0, [w - 1, h - 1])
    lip = image[xy[:, 1], xy[:, 0]].astype(np.float32).mean(0)
    level = float(np.clip(0.6 + 0.4 * light.lightness / 70.0, 0.6, 0.95))
    cavity = lip * np.float32([0.38, 0.26, 0.26])  # a deep red-brown, greyer in a grey photo as the lips are
    tongue = lip * np.float32([0.8, 0.62, 0.62])
    return Colours(cavity=cavity, tongue=tongue, teeth=(light.white * 255.0 * level).astype(np.float32))


# -- the photo's own interior ----------------------------------------------------------------------

@dataclass(frozen=True)
class OwnInterior:
    """A photo's mouth interior, split along the middle of the mouth.

    image: (h, w, 3) float32 the photo around the mouth, at `origin` (x0, y0).
    upper, lower: (h, w) float32 0..1 the parts above and below the middle of the mouth.
    upper_lip, lower_lip: (11, 2) the photo's inner-lip contours (corner to corner).
    cavity: (3,) float RGB the dark of the mouth (its darkest pixels).
    """

    image: np.ndarray
    origin: tuple[int, int]
    upper: np.ndarray
    lower: np.ndarray
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    cavity: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray, points: np.ndarray) -> OwnInterior | None:
        """The photo's interior, or None when it shows no teeth (closed, or only dark)."""
        polygon = points[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
        box = _roi(image, polygon, pad=4)
        if box is None or T.mouth_opening(points) < 0.05:
            return None
        x0, y0, w, h = box
        roi = image[y0: y0 + h, x0: x0 + w].astype(np.float32)
        inside = polygon_coverage(polygon - (x0, y0), (h, w))
        lab = cv2.cvtColor(roi / 255.0, cv2.COLOR_RGB2LAB)
        if (teeth_weight(lab) * inside).sum() < OWN_TEETH * max(inside.sum(), 1.0):
            return None
        upper_lip, lower_lip = points[T.LIPS_INNER_UPPER, :2], points[T.LIPS_INNER_LOWER, :2]
        xs = np.arange(w, dtype=np.float64) + x0
        middle = (contour_y(upper_lip, xs) + contour_y(lower_lip, xs)) / 2 - y0
        above = 1.0 / (1.0 + np.exp((np.arange(h)[:, None] - middle[None, :]) / 1.5))  # soft at the middle
        inside = cv2.dilate(inside, np.ones((3, 3), np.uint8))  # keep the contour's own pixels
        dark = roi[inside > 0.5]
        luma = dark @ np.float32([0.299, 0.587, 0.114])
        cavity = dark[luma <= np.percentile(luma, 15)].mean(0) if len(dark) >= 10 else roi.reshape(-1, 3).min(0)
        return cls(roi, (x0, y0), (inside * above).astype(np.float32), (inside * (1 - above)).astype(np.float32),
                   upper_lip.astype(np.float64), lower_lip.astype(np.float64), cavity.astype(np.float32))

    def patch(self, target: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """(h, w, 3) float32 the interior for `box` of the frame: the lower part moved with
        the target's lower lip, the upper part with its upper lip, over the dark of the mouth."""
        x0, y0, w, h = box
        moved = []
        for part, lip, ring in ((self.lower, self.lower_lip, T.LIPS_INNER_LOWER),
                                (self.upper, self.upper_lip, T.LIPS_INNER_UPPER)):
            rot, shift, scale = umeyama(lip, target[ring, :2].astype(np.float64))
            m = np.column_stack([scale * rot, shift + scale * rot @ self.origin - (x0, y0)])
            pixels = cv2.warpAffine(self.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            moved.append((pixels, cv2.warpAffine(part, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)))
        (lower, a_lower), (upper, a_upper) = moved
        # The upper part lies over the lower; where they meet unmoved the two together are
        # exactly the photo's interior (the lower's share counts the upper's in).
        a_lower = np.clip(a_lower / np.maximum(1.0 - a_upper, 1e-3), 0, 1)
        out = np.broadcast_to(self.cavity, (h, w, 3)).astype(np.float32)
        out = out + (lower - out) * a_lower[..., None]
        return out + (upper - out) * a_upper[..., None]


# -- the driver's interior -------------------------------------------------------------------------

def driver_patch(driving: np.ndarray, driving_points: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int],
                 driver_light: Light, photo_light: Light) -> np.ndarray:
    """(h, w, 3) float32 the driving frame's mouth interior moved onto the target's mouth
    for `box` of the frame, relit for the photo, sharpened when enlarged."""
    dst = target[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
    src = driving_points[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
    rot, shift, scale = umeyama(src, dst)
    x0, y0, w, h = box
    m = np.column_stack([scale * rot, shift - (x0, y0)])
    flags = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    patch = cv2.warpAffine(driving, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    if scale > SHARPEN_FROM:  # an enlarged interior would be a blur beside the photo's sharp skin
        blur = cv2.GaussianBlur(patch, (0, 0), 0.5 * scale)
        patch = patch + min(1.0, 0.6 * (scale - 1.0)) * (patch - blur)
    return relight(patch, driver_light, photo_light)


# -- a drawn interior ------------------------------------------------------------------------------

# Tooth edges from the middle of the mouth outwards, in half-widths of the opening, and the
# height each tooth shows below (above) the lip, in mouth widths. Seen from the front the two
# upper central incisors (8.5 mm each in a mouth about 50 mm wide) take a third of the
# opening; then the lateral incisor, the canine and two premolars turn away into the dark of
# the corners. The lower incisors are narrower, shorter and in the upper lip's shadow.
UPPER_TEETH = (np.array([0.0, 0.33, 0.57, 0.77, 0.91, 1.02]), np.array([0.14, 0.12, 0.125, 0.095, 0.075]))
LOWER_TEETH = (np.array([0.0, 0.19, 0.38, 0.58, 0.77, 0.92, 1.02]), np.array([0.07, 0.065, 0.065, 0.055, 0.045, 0.04]))
TOOTH_GAP = 0.04  # the dark between two teeth, in tooth widths


def drawn_patch(target: np.ndarray, box: tuple[int, int, int, int], colours: Colours) -> np.ndarray:
    """(h, w, 3) float32 a drawn mouth interior for `box` of the frame: the dark of the mouth,
    a tongue when the jaw drops, lower and upper teeth."""
    x0, y0, w, h = box
    left, right = target[78, :2].astype(np.float64), target[308, :2].astype(np.float64)
    axis = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    width = max(float(np.linalg.norm(target[291, :2] - target[61, :2])), 4.0)
    half = max(float(np.linalg.norm(right - left)) / 2, 2.0)
    centre = (left + right) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = xs + x0 - centre[0], ys + y0 - centre[1]
    across, down = dx * axis[0] + dy * axis[1], -dx * axis[1] + dy * axis[0]  # in the mouth's own frame
    top = contour_y(_mouth_frame(target[T.LIPS_INNER_UPPER, :2], centre, axis), across)
    bottom = contour_y(_mouth_frame(target[T.LIPS_INNER_LOWER, :2], centre, axis), across)
    u = np.clip(across / half, -1.5, 1.5)
    opening = float(np.linalg.norm(target[14, :2] - target[13, :2])) / width
    out = _cavity(u, (down - top) / np.maximum(bottom - top, 1.0), colours)
    floor = contour_y(_mouth_frame(target[T.LIPS_INNER_LOWER, :2], centre, axis), np.zeros(1))[0]  # under the middle
    out = _tongue(out, u, (floor - down) / width, opening, colours) * (down < bottom)[..., None] + \
        out * (down >= bottom)[..., None]
    lower = _teeth(u, (bottom - down) / width, LOWER_TEETH, np.clip((opening - 0.22) / 0.2, 0, 1))
    front = np.clip((0.6 - np.abs(u)) / 0.25, 0, 1)  # the lower lip hides them towards the corners
    out = out + (colours.teeth * 0.7 * lower[1][..., None] - out) * (lower[0] * front)[..., None]
    upper = _teeth(u, (down - top) / width, UPPER_TEETH, 1.0)
    return out + (colours.teeth * upper[1][..., None] - out) * upper[0][..., None]


def _mouth_frame(points: np.ndarray, centre: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(K, 2) points as (across, down) in the mouth's own frame."""
    d = points - centre
    return np.column_stack([d @ axis, d @ np.array([-axis[1], axis[0]])])


def _cavity(u: np.ndarray, depth: np.ndarray, colours: Colours) -> np.ndarray:
    """The dark of the mouth: darkest at the back of the middle, a little lighter towards the
    corners and towards the floor of the mouth."""
    shade = (0.75 + 0.3 * np.clip(np.abs(u), 0, 1) ** 2) * (0.9 + 0.15 * np.clip(depth, 0, 1))
    return colours.cavity[None, None, :] * shade[..., None]


def _tongue(out: np.ndarray, u: np.ndarray, above_floor: np.ndarray, opening: float, colours: Colours) -> np.ndarray:
    """A tongue, a dome on the floor of the mouth, once the jaw drops (opening > 0.12).

    above_floor: height above the lower lip's middle, in mouth widths."""
    show = float(np.clip((opening - 0.12) / 0.15, 0, 1))
    if show <= 0:
        return out
    height = 0.13 * show
    inside = (u / 0.45) ** 2 + (np.maximum(above_floor, 0) / max(height, 1e-3)) ** 2
    mask = np.clip((1.0 - inside) * 4, 0, 1)
    light = 0.75 + 0.35 * np.clip(1 - inside, 0, 1)  # rounder in the middle
    tongue = colours.tongue[None, None, :] * light[..., None]
    return out + (tongue - out) * mask[..., None]


def _teeth(u: np.ndarray, from_lip: np.ndarray, teeth: tuple[np.ndarray, np.ndarray], show: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """(coverage 0..1, shade) of one row of teeth hanging from (or standing on) a lip.

    Args:
        u: across the mouth in half-widths (0 in the middle); from_lip: distance from the lip
            into the mouth, in mouth widths; teeth: (edges, heights) of one side; show: 0..1
            how much of their height shows.
    """
    edges, heights = teeth
    side = np.abs(u)
    k = np.clip(np.searchsorted(edges, side) - 1, 0, len(heights) - 1)
    t = np.clip((side - edges[k]) / (edges[k + 1] - edges[k]), 0, 1)  # 0..1 across the tooth
    height = heights[k] * show * (1 - 0.3 * (2 * t - 1) ** 4)  # the biting edge rounds at each side
    gap = TOOTH_GAP * (1 + 2 * side)  # gaps look wider as the arch turns away
    body = np.clip((height - from_lip) / 0.008, 0, 1) * (from_lip > -0.02) * (side < edges[-1])
    body *= np.clip(np.minimum(t, 1 - t) / gap, 0, 1) ** 0.5  # soft dark gaps where teeth meet
    shade = (1 - 0.55 * np.clip(side, 0, 1) ** 1.5)  # into the dark towards the corners
    shade = shade * (1 - 0.15 * (2 * t - 1) ** 2)  # each tooth rounder in the middle
    along = np.clip(from_lip / np.maximum(height, 1e-3), 0, 1)
    shade = shade * (0.85 + 0.15 * np.sin(np.pi * np.clip(along * 1.2, 0, 1)))  # darker under the lip
    shade = shade * (1 - 0.2 * np.clip((along - 0.85) / 0.15, 0, 1))  # the biting edge is translucent
    return body, shade


# -- shared --------------------------------------------------------------------------------------

def _roi(image: np.ndarray, polygon: np.ndarray, pad: int = 5) -> tuple[int, int, int, int] | None:
    """(x0, y0, width, height) of the box around `polygon`, inside `image`."""
    H, W = image.shape[:2]
    x0, y0 = np.maximum(np.floor(polygon.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + pad, [W - 1, H - 1])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)


SEAM = 0.012  # mouth widths past the inner-lip contour the interior covers: the photo's lip seam rides there


def _blend(out: np.ndarray, patch: np.ndarray, polygon: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Put (h, w, 3) float `patch` into `out` at `box`, inside `polygon` and a sliver beyond
    it (the dark line where the photo's lips met would show as a rim on the lips), in place."""
    x0, y0, w, h = box
    alpha = polygon_coverage(polygon - (x0, y0), (h, w))
    reach = max(1, round(SEAM * float(np.ptp(polygon[:, 0]))))
    alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    region = out[y0: y0 + h, x0: x0 + w].astype(np.float32)
    out[y0: y0 + h, x0: x0 + w] = np.clip(region + (patch - region) * alpha[..., None] + 0.5, 0, 255).astype(np.uint8)
