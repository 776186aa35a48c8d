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

from facedyn.render.colour import LUMA, Light, relight, teeth_weight
from facedyn.render.rasterize import contour_y, polygon_coverage
from facedyn.tracking import topology as T

PARTED = 0.6  # pixels of lip gap before anything is drawn; fully opaque from three times that
THIN, OPEN = 0.03, 0.1  # lip gap over mouth width: below THIN only the dark of the mouth shows, from OPEN all of it
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
        self.own = own_interior(image, points)
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
        gap = float(np.linalg.norm(target[14, :2] - target[13, :2]))
        if gap < PARTED:
            return
        box = _roi(out, polygon)
        if box is None:
            return
        cavity = self.colours.cavity if self.own is None else self.own.cavity
        width = max(float(np.linalg.norm(target[291, :2] - target[61, :2])), 1.0)
        if driving is not None and driving_points is not None:
            pixels, cover = self._driver_interior(driving, driving_points, target, box)
        else:
            pixels, cover = drawn_patch(target, box, self.colours), np.ones(box[3:1:-1], np.float32)
        if self.own is not None:  # the photo's own teeth in front; the driver's (or drawn) interior
            own, own_cover = self.own.interior.patch(target, box)  # shows where the mouth opens wider
            pixels = cavity + (pixels - cavity) * cover[..., None]
            pixels, cover = pixels + (own - pixels) * own_cover[..., None], np.ones_like(cover)
        # Barely parted lips show the dark of the mouth: teeth there would be a row of grey
        # blocks, a driver's interior the inside edge of its own lips (its lipstick).
        show = float(np.clip((gap / width - THIN) / (OPEN - THIN), 0, 1))
        patch = cavity + (pixels - cavity) * (cover * show)[..., None]
        # The photo's own interior runs a sliver past the contour, over the lips' seam, as the
        # mouth opens (over barely parted lips it would be a thick dark line); any other
        # starts a little inside it, the photo's own lip edge showing around it.
        inset = 0 if self.own is not None else max(1, round(LIP_EDGE * width))
        _blend(out, patch, polygon, box, opacity=min(1.0, gap / (3 * PARTED)), inset=inset, sliver=show)

    def _driver_interior(self, driving: np.ndarray, driving_points: np.ndarray, target: np.ndarray,
                         box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The driver's interior relit for the photo and its cover (Interior.patch)."""
        if self._driver_light is None:  # one driver per animation: its light is measured once
            self._driver_light = Light.of(driving, driving_points)
        cut = Interior.cut(driving, driving_points, lips=False)
        if cut is None:
            return np.zeros((box[3], box[2], 3), np.float32), np.zeros((box[3], box[2]), np.float32)
        pixels, cover = cut.patch(target, box)
        return relight(pixels, self._driver_light, self.light), cover


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


# -- an interior cut from an image: the photo's own, or the driver's -------------------------------

@dataclass(frozen=True)
class Interior:
    """The inside of one image's mouth, split along the middle of the opening: the upper
    half hangs from the upper lip (upper teeth), the lower half stands on the lower lip (lower
    teeth, tongue). Moved onto another mouth, each half follows its own lip column by column
    at the mouth's scale, so teeth stay under their lip however the lip curves, and where the
    target opens wider than the image did, the dark of the mouth shows between the halves.

    image: (h, w, 3) float32 the image around the mouth, at `origin` (x0, y0).
    upper, lower: (h, w) float32 0..1 the two halves.
    points: (478, 2) the image's landmarks.
    """

    image: np.ndarray
    origin: tuple[int, int]
    upper: np.ndarray
    lower: np.ndarray
    points: np.ndarray

    @classmethod
    def cut(cls, image: np.ndarray, points: np.ndarray, lips: bool = True) -> Interior | None:
        """The interior of `image` ((H, W, 3) uint8) inside its landmarks' ((478, 2+)) inner
        lips, or None when the mouth lies outside the image. With `lips`, also the sliver of
        lip the frame shows past the target's inner lips (the photo's own lips); without,
        less the lips' inner edge that the contour takes in (another face's lipstick would
        be a ring of the wrong colour: the dark of the mouth shows there instead)."""
        polygon = points[T.MOUTH_INNER_LOOP, :2].astype(np.float64)
        width = float(np.ptp(polygon[:, 0]))
        reach = 1 + round(SEAM * width)  # the frame shows the interior that far past the lips
        box = _roi(image, polygon, pad=reach + 3)
        if box is None:
            return None
        x0, y0, w, h = box
        roi = image[y0: y0 + h, x0: x0 + w].astype(np.float32)
        inside = polygon_coverage(polygon - (x0, y0), (h, w))
        if lips:
            inside = _grow(inside, reach)
        else:
            inside = _shrink(inside, max(1, round(LIP_EDGE * width)))
        xs = np.arange(w, dtype=np.float64) + x0
        top = contour_y(points[T.LIPS_INNER_UPPER, :2], xs) - y0
        bottom = contour_y(points[T.LIPS_INNER_LOWER, :2], xs) - y0
        split = _teeth_parting(roi, top, bottom)
        above = 1.0 / (1.0 + np.exp((np.arange(h)[:, None] - split[None, :]) / 1.5))  # soft at the parting
        return cls(roi, (x0, y0), (inside * above).astype(np.float32), (inside * (1 - above)).astype(np.float32),
                   points[:, :2].astype(np.float64))

    def patch(self, target: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The interior moved onto `target`'s ((478, 2+)) mouth for `box` (x0, y0, w, h) of
        the frame: (h, w, 3) float32 RGB and (h, w) float32 0..1 its cover (0 where neither
        half reaches: the dark of the mouth)."""
        x0, y0, w, h = box
        src, dst = _MouthFrame.of(self.points), _MouthFrame.of(target[:, :2].astype(np.float64))
        across, down = dst.coordinates(np.arange(w) + x0, np.arange(h) + y0)
        scale = src.half / dst.half
        moved = []
        for part, ring in ((self.lower, T.LIPS_INNER_LOWER), (self.upper, T.LIPS_INNER_UPPER)):
            lip_src, lip_dst = src.lip(self.points[ring]), dst.lip(target[ring, :2])
            src_across = across * scale
            src_down = contour_y(lip_src, src_across) + (down - contour_y(lip_dst, across)) * scale
            where = (src.pixel(src_across, src_down) - self.origin).astype(np.float32)
            flags = cv2.INTER_CUBIC if scale < 1 else cv2.INTER_LINEAR
            pixels = cv2.remap(self.image, where, None, flags, borderMode=cv2.BORDER_REPLICATE)
            cover = cv2.remap(part, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            moved.append((pixels, cover))
        (lower, a_lower), (upper, a_upper) = moved
        if scale < 1 / SHARPEN_FROM:  # an enlarged interior would be a blur beside the photo's sharp skin
            for pixels in (lower, upper):
                pixels += min(1.0, 0.6 * (1 / scale - 1.0)) * (pixels - cv2.GaussianBlur(pixels, (0, 0), 0.5 / scale))
        # The upper half lies over the lower, as upper teeth in front of the lower in a bite.
        cover = a_upper + a_lower * (1 - a_upper)
        pixels = (upper * a_upper[..., None] + lower * (a_lower * (1 - a_upper))[..., None]) / np.maximum(cover, 1e-3)[..., None]
        return pixels, cover


def _teeth_parting(roi: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """(w,) row of each column of `roi` ((h, w, 3) float RGB) where the upper teeth end,
    between the lips `top` and `bottom` ((w,) rows): at one share of the opening across the
    whole mouth, the median (weighted by the opening) of each column's darkest row drawn
    towards the middle (the shadow just under a lip is dark too). Per column, the dark
    corners of a smile would hand the side teeth to the lower lip, and the teeth would tear
    apart in a V where the target opens wider. Upper teeth reaching past the middle of the
    opening stay with the upper lip."""
    h, w = roi.shape[:2]
    luma = cv2.GaussianBlur(roi @ LUMA, (0, 0), sigmaX=3, sigmaY=1) / 255.0
    rows = np.arange(h, dtype=np.float64)[:, None]
    middle, gap = (top + bottom) / 2, np.maximum(bottom - top, 1.0)
    cost = np.where((rows > top) & (rows < bottom), luma + 0.5 * ((rows - middle) / gap) ** 2, np.inf)
    open_columns = np.flatnonzero(np.isfinite(cost).any(0))
    if not len(open_columns):
        return middle
    darkest = np.argmin(cost[:, open_columns], 0)
    share = (darkest - top[open_columns]) / gap[open_columns]
    order = np.argsort(share)
    weights = np.cumsum(gap[open_columns][order])
    share = float(share[order][np.searchsorted(weights, weights[-1] / 2)])
    return top + share * (bottom - top)


@dataclass(frozen=True)
class _MouthFrame:
    """A mouth's own frame: origin between the inner lip corners, `axis` along them, `normal`
    pointing down, `half` the half distance between the corners (pixels)."""

    centre: np.ndarray
    axis: np.ndarray
    normal: np.ndarray
    half: float

    @classmethod
    def of(cls, points: np.ndarray) -> _MouthFrame:
        left, right = points[78, :2], points[308, :2]
        half = max(float(np.linalg.norm(right - left)) / 2, 1.0)
        axis = (right - left) / (2 * half)
        return cls((left + right) / 2, axis, np.array([-axis[1], axis[0]]), half)

    def lip(self, contour: np.ndarray) -> np.ndarray:
        """(K, 2) contour points as (across, down)."""
        d = contour[:, :2] - self.centre
        return np.column_stack([d @ self.axis, d @ self.normal])

    def coordinates(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(across, down), each (len(ys), len(xs)), of the pixel grid xs x ys."""
        dx, dy = xs[None, :] - self.centre[0], ys[:, None] - self.centre[1]
        return dx * self.axis[0] + dy * self.axis[1], dx * self.normal[0] + dy * self.normal[1]

    def pixel(self, across: np.ndarray, down: np.ndarray) -> np.ndarray:
        """(..., 2) pixel x, y of mouth-frame coordinates."""
        return self.centre + across[..., None] * self.axis + down[..., None] * self.normal


def own_interior(image: np.ndarray, points: np.ndarray) -> OwnInterior | None:
    """The photo's own interior when it shows its teeth (at least OWN_TEETH of the opening),
    else None (closed, or only dark)."""
    if T.mouth_opening(points) < 0.05:
        return None
    cut = Interior.cut(image, points)
    if cut is None:
        return None
    x0, y0 = cut.origin
    h, w = cut.upper.shape
    inside = polygon_coverage(points[T.MOUTH_INNER_LOOP, :2] - (x0, y0), (h, w))
    lab = cv2.cvtColor(cut.image / 255.0, cv2.COLOR_RGB2LAB)
    if (teeth_weight(lab) * inside).sum() < OWN_TEETH * max(inside.sum(), 1.0):
        return None
    dark = cut.image[(cut.upper + cut.lower) > 0.5]
    luma = dark @ LUMA
    cavity = dark[luma <= np.percentile(luma, 15)].mean(0) if len(dark) >= 10 else cut.image.reshape(-1, 3).min(0)
    return OwnInterior(cut, cavity.astype(np.float32))


@dataclass(frozen=True)
class OwnInterior:
    """The photo's own interior and the dark of its mouth ((3,) float RGB, its darkest pixels)."""

    interior: Interior
    cavity: np.ndarray


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
    frame = _MouthFrame.of(target[:, :2].astype(np.float64))
    width = max(float(np.linalg.norm(target[291, :2] - target[61, :2])), 4.0)
    half = max(frame.half, 2.0)
    across, down = frame.coordinates(np.arange(w) + x0, np.arange(h) + y0)
    top = contour_y(frame.lip(target[T.LIPS_INNER_UPPER]), across)
    bottom = contour_y(frame.lip(target[T.LIPS_INNER_LOWER]), across)
    u = np.clip(across / half, -1.5, 1.5)
    opening = float(np.linalg.norm(target[14, :2] - target[13, :2])) / width
    out = _cavity(u, (down - top) / np.maximum(bottom - top, 1.0), colours)
    floor = contour_y(frame.lip(target[T.LIPS_INNER_LOWER]), np.zeros(1))[0]  # under the middle
    out = _tongue(out, u, (floor - down) / width, opening, colours) * (down < bottom)[..., None] + \
        out * (down >= bottom)[..., None]
    lower = _teeth(u, (bottom - down) / width, LOWER_TEETH, np.clip((opening - 0.22) / 0.2, 0, 1))
    front = np.clip((0.6 - np.abs(u)) / 0.25, 0, 1)  # the lower lip hides them towards the corners
    out = out + (colours.teeth * 0.7 * lower[1][..., None] - out) * (lower[0] * front)[..., None]
    upper = _teeth(u, (down - top) / width, UPPER_TEETH, 1.0)
    return out + (colours.teeth * upper[1][..., None] - out) * upper[0][..., None]


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


LIP_EDGE = 0.025  # mouth widths inside another face's inner-lip contour that are its lips
SEAM = 0.012  # mouth widths past the inner-lip contour the interior covers: the photo's lip seam rides there


def _blend(out: np.ndarray, patch: np.ndarray, polygon: np.ndarray, box: tuple[int, int, int, int],
           opacity: float = 1.0, inset: int = 0, sliver: float = 1.0) -> None:
    """Put (h, w, 3) float `patch` into `out` at `box`, at `opacity` (0..1), in place: inside
    `polygon` and, at `sliver` (0..1) opacity, a sliver beyond it (the dark line where the
    photo's lips met would show as a rim on the lips of an open mouth), or with `inset` > 0,
    fading in over that many pixels inside it."""
    x0, y0, w, h = box
    alpha = polygon_coverage(polygon - (x0, y0), (h, w))
    if inset > 0:
        alpha = _shrink(alpha, inset)
    elif sliver > 0:
        wider = _grow(alpha, max(1, round(SEAM * float(np.ptp(polygon[:, 0])))))
        alpha += (wider - alpha) * sliver
    alpha *= opacity
    region = out[y0: y0 + h, x0: x0 + w].astype(np.float32)
    out[y0: y0 + h, x0: x0 + w] = np.clip(region + (patch - region) * alpha[..., None] + 0.5, 0, 255).astype(np.uint8)


def _grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """(h, w) float32 `mask` dilated by a disc of radius `pixels`."""
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1,) * 2))


def _shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    """(h, w) float32 `mask` eroded by a disc of radius `pixels`, its edge softened over as many."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1,) * 2)
    return cv2.GaussianBlur(cv2.erode(mask, disc), (0, 0), pixels / 2)
