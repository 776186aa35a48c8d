"""The metrics of face reenactment, as plain functions of arrays.

Images are (H, W, 3) uint8 RGB. Landmarks are pixels, x right, y down. NaN marks a frame
where a measurement could not be made (no face); the aggregates skip those frames.
"""

from __future__ import annotations

from functools import partial

import cv2
import numpy as np

from facedyn.geometry.pose import fit_head_pose, rotation_to_angles
from facedyn.render.colour import LUMA, white_point
from facedyn.tracking import topology as T

AKD_CROP = 256  # AKD is given in pixels of a face crop this wide
DLIB_SAME_PERSON = 0.6  # dlib's threshold on descriptor distance


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"expected two images of one shape, got {a.shape} and {b.shape}")


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, on a 0..1 scale (0 = identical)."""
    _check_pair(a, b)
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (inf when identical)."""
    _check_pair(a, b)
    if np.array_equal(a, b):
        return float("inf")
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)  # as scikit-image computes it
    return float(10.0 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two uint8 RGB images (1 = identical).

    scikit-image's `structural_similarity(a, b, channel_axis=2, data_range=255)` (7x7 uniform
    windows, sample covariance, border of 3 left out, mean over channels), computed with
    OpenCV box filters: the same number (tested), ten times faster.
    """
    _check_pair(a, b)
    win, pad = 7, 3
    x, y = a.astype(np.float32), b.astype(np.float32)
    mean = partial(cv2.blur, ksize=(win, win), borderType=cv2.BORDER_REFLECT)
    mx, my = mean(x), mean(y)
    norm = win * win / (win * win - 1.0)
    vx = norm * (mean(x * x) - mx * mx)
    vy = norm * (mean(y * y) - my * my)
    vxy = norm * (mean(x * y) - mx * my)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s[pad:-pad, pad:-pad].astype(np.float64).mean())


def akd(points: np.ndarray, reference: np.ndarray, face_width: np.ndarray | float) -> np.ndarray:
    """Average keypoint distance per frame, in pixels of an AKD_CROP-wide face crop.

    Args:
        points: (N, K, 2+) landmarks of the generated frames.
        reference: (N, K, 2+) landmarks of the real frames.
        face_width: (N,) or scalar width in pixels of the real face crop.

    Returns:
        (N,) float64; NaN where either side has NaN landmarks.
    """
    if points.shape[:-1] != reference.shape[:-1]:
        raise ValueError(f"expected landmarks of one shape, got {points.shape} and {reference.shape}")
    dist = np.linalg.norm(points[..., :2] - reference[..., :2], axis=-1).mean(axis=-1)
    return dist * AKD_CROP / np.asarray(face_width, dtype=np.float64)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of descriptors along the last axis: (..., D), (..., D) -> (...)."""
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of descriptors along the last axis (dlib: same person below 0.6)."""
    return np.linalg.norm(a - b, axis=-1)


def emotion_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total-variation distance of emotion distributions: (..., 7), (..., 7) -> (...) in 0..1."""
    return 0.5 * np.abs(p - q).sum(-1)


def top_class_agreement(p: np.ndarray, q: np.ndarray) -> float:
    """Share of rows of (N, C) probabilities whose most likely class is the same; rows with
    NaN are skipped (NaN if none is left)."""
    ok = ~(np.isnan(p).any(-1) | np.isnan(q).any(-1))
    if not ok.any():
        return float("nan")
    return float((p[ok].argmax(-1) == q[ok].argmax(-1)).mean())


def head_angles(points: np.ndarray) -> np.ndarray:
    """(N, 478, 3) landmarks -> (N, 3) (yaw, pitch, roll) degrees; NaN rows stay NaN.
    Yaw > 0: face turned towards the image's left; pitch > 0: up; roll > 0: clockwise."""
    rotations = head_rotations(points)
    out = np.full((len(points), 3), np.nan)
    for i in np.flatnonzero(np.isfinite(rotations).all(axis=(1, 2))):
        out[i] = rotation_to_angles(rotations[i])
    return out


def head_rotations(points: np.ndarray) -> np.ndarray:
    """(N, 3, 3) head rotation per frame of (N, 478, 3) landmarks; NaN where none."""
    out = np.full((len(points), 3, 3), np.nan)
    for i, p in enumerate(points):
        if not np.isnan(p).any():
            out[i] = fit_head_pose(p).rotation
    return out


def turns(rotations: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(N, 3) yaw, pitch, roll (degrees) of the turn from rotation `start` (3, 3) to each of
    (N, 3, 3) `rotations`, in the camera's frame (how a driver's turn is applied to a photo
    whatever its own pose); NaN where a rotation is."""
    out = np.full((len(rotations), 3), np.nan)
    for i, r in enumerate(rotations):
        if np.isfinite(r).all() and np.isfinite(start).all():
            out[i] = rotation_to_angles(r @ start.T)
    return out


LEAST_TURN = 3.0  # degrees: frames where the driver turns less say little about an amplitude


def turn_ratio(output: np.ndarray, driver: np.ndarray) -> float:
    """How far the output turns for the driver's turn: the least-squares slope through zero of
    output on driver angles ((N,) degrees each) over the frames where the driver turns at
    least LEAST_TURN degrees (1 = as far; NaN with under 5 such frames)."""
    ok = np.isfinite(output) & np.isfinite(driver) & (np.abs(driver) >= LEAST_TURN)
    if ok.sum() < 5:
        return float("nan")
    return float((output[ok] * driver[ok]).sum() / (driver[ok] ** 2).sum())


def expression_signals(points: np.ndarray) -> np.ndarray:
    """Geometric expression signals per frame, measured in the pose-free head frame.

    Args:
        points: (N, 478, 3) landmarks in pixels (NaN rows for missing faces).

    Returns:
        (N, 4) float64 columns SIGNALS: eye opening (lid gap / eye width, mean of both eyes),
        mouth opening (inner-lip gap / mouth width), smile (lip-corner distance) and brow raise
        (brow-to-upper-lid distance), the last two in face heights.
    """
    out = np.full((len(points), 4), np.nan)
    brows = np.concatenate([T.RIGHT_BROW, T.LEFT_BROW])
    lids = np.concatenate([T.RIGHT_EYE_UPPER, T.LEFT_EYE_UPPER])
    for i, p in enumerate(points):
        if np.isnan(p).any():
            continue
        head = fit_head_pose(p).to_head_frame(p)
        out[i] = (
            T.eye_opening(head).mean(),
            T.mouth_opening(head),
            np.linalg.norm(head[61, :2] - head[291, :2]),
            abs(head[brows, 1].mean() - head[lids, 1].mean()),
        )
    return out


SIGNALS = ("eyes", "mouth", "smile", "brows")


def correlation(output: np.ndarray, driver: np.ndarray) -> float:
    """Pearson correlation over time of two (N,) signals, skipping NaN frames.

    NaN when the driver does not vary (nothing to agree with); 0 when only the output is
    constant (a still output follows nothing).
    """
    ok = ~(np.isnan(output) | np.isnan(driver))
    x, y = output[ok], driver[ok]
    if len(y) < 3 or np.std(y) < 1e-9:
        return float("nan")
    if np.std(x) < 1e-9:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def rms_acceleration(points: np.ndarray) -> float:
    """RMS second difference of (N, K, 2+) landmark tracks over the median face size, so in
    face heights per frame squared; frames with NaN break the track (NaN if too short)."""
    unit = np.nanmedian(T.face_size(points)) if points.shape[1] == T.N_VERTICES else 1.0
    acc = points[2:, :, :2] - 2 * points[1:-1, :, :2] + points[:-2, :, :2]
    norms = np.linalg.norm(acc, axis=-1)
    norms = norms[~np.isnan(norms).any(-1)]
    if not len(norms):
        return float("nan")
    return float(np.sqrt((norms**2).mean()) / unit)


def jitter_ratio(output: np.ndarray, driver: np.ndarray) -> float:
    """RMS landmark acceleration of the output over that of the driver ((N, 478, 3) each):
    1 = as smooth as the driver, above 1 = the output adds jitter."""
    return rms_acceleration(output) / max(rms_acceleration(driver), 1e-12)


# -- mouths that close, eyes that blink shut, teeth that stay white -------------------------------

CLOSED_GAP = 0.01  # face heights: a driver's lips this close count as closed
BLINK_DEPTH = 0.6  # a driver's eye opening under this share of its median counts as a blink


def lip_gaps(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap at the centre, in face heights (pose-free head frame), per frame.

    Args:
        points: (N, 478, 3) landmarks in pixels (NaN rows for missing faces).

    Returns:
        (N,) float64, NaN where no face.
    """
    out = np.full(len(points), np.nan)
    for i, p in enumerate(points):
        if not np.isnan(p).any():
            head = fit_head_pose(p).to_head_frame(p)
            out[i] = np.linalg.norm(head[14, :2] - head[13, :2])
    return out


def mouth_closure(output_gaps: np.ndarray, driver_gaps: np.ndarray) -> dict[str, float]:
    """How the output's lip gap follows the driver's extremes ((N,) face heights each).

    Returns:
        gap_closed: the output's mean gap on the driver's closed frames (gap <= CLOSED_GAP;
            NaN when the driver never closes); gap_min/gap_max: the output's extremes;
            driver_gap_min/driver_gap_max: the driver's.
    """
    closed = driver_gaps <= CLOSED_GAP
    return {
        "gap_closed": float(np.nanmean(output_gaps[closed])) if np.isfinite(output_gaps[closed]).any() else float("nan"),
        "gap_min": float(np.nanmin(output_gaps)), "gap_max": float(np.nanmax(output_gaps)),
        "driver_gap_min": float(np.nanmin(driver_gaps)), "driver_gap_max": float(np.nanmax(driver_gaps)),
    }


def blink_depth(output_eyes: np.ndarray, driver_eyes: np.ndarray) -> tuple[float, float]:
    """(output, driver) eye opening on the driver's blink frames, each over its own median
    opening (N,) (1 = open as usual, 0 = shut); NaN when the driver does not blink."""
    blink = driver_eyes < BLINK_DEPTH * np.nanmedian(driver_eyes)
    if not blink.any():
        return float("nan"), float("nan")
    out = np.nanmean(output_eyes[blink]) / np.nanmedian(output_eyes)
    return float(out), float(np.nanmean(driver_eyes[blink]) / np.nanmedian(driver_eyes))


_LIPS_OUTER_LOOP = T.closed_loop(T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER)


def _saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation 0..1 of (..., 3) RGB."""
    hi, lo = rgb.max(-1).astype(np.float32), rgb.min(-1).astype(np.float32)
    return (hi - lo) / np.maximum(hi, 1.0)


def _inside(image: np.ndarray, polygon: np.ndarray, shrink: float) -> np.ndarray:
    """(H, W) bool mask of a polygon's inside, eroded by `shrink` of its width (drawn only in
    the polygon's box: this runs on every frame of an evaluation)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), bool)
    x0, y0 = np.clip(np.floor(polygon.min(0)).astype(int) - 1, 0, [w, h])
    x1, y1 = np.clip(np.ceil(polygon.max(0)).astype(int) + 2, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return mask
    box = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(box, [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
    k = max(1, int(shrink * np.ptp(polygon[:, 0])))
    mask[y0:y1, x0:x1] = cv2.erode(box, np.ones((k, k), np.uint8), borderValue=0).astype(bool)
    return mask


def teeth_pixels(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 3) uint8 RGB of the teeth showing in an open mouth: the bright pixels inside the
    inner lips (luma at least 0.75 of the interior's 95th percentile, and above the 75th
    percentile of the lips' own luma: a light tongue or the pale rim of a lip that the
    tracker's inner contour cuts into is no brighter than the lips, teeth are), leaving out
    clearly red flesh (tongue, gums, lips: red hue and saturation over 0.3). Empty when the
    mouth is closed (opening under 0.12) or shows under 20 such pixels.

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in pixels.
    """
    empty = np.zeros((0, 3), np.uint8)
    if np.isnan(points).any() or T.mouth_opening(points) < 0.12:
        return empty
    pixels = image[_inside(image, points[T.MOUTH_INNER_LOOP, :2], 0.05)]
    if len(pixels) < 20:
        return empty
    luma = pixels.astype(np.float32) @ LUMA
    hsv = cv2.cvtColor(pixels[None], cv2.COLOR_RGB2HSV_FULL)[0].astype(np.float32)
    red = ((hsv[:, 0] < 25) | (hsv[:, 0] > 215)) & (hsv[:, 1] > 0.3 * 255)  # hue on 0..255
    lips = _inside(image, points[_LIPS_OUTER_LOOP, :2], 0.0) & ~_inside(image, points[T.MOUTH_INNER_LOOP, :2], 0.0)
    lips_luma = float(np.percentile(image[lips].astype(np.float32) @ LUMA, 75)) if lips.any() else 0.0
    teeth = pixels[(luma >= 0.75 * np.percentile(luma, 95)) & (luma > lips_luma) & ~red]
    return teeth if len(teeth) >= 20 else empty


def teeth_saturation(image: np.ndarray, points: np.ndarray) -> float:
    """Mean HSV saturation of the teeth showing (teeth_pixels), NaN when none show."""
    teeth = teeth_pixels(image, points)
    return float(_saturation(teeth).mean()) if len(teeth) else float("nan")


def teeth_reference(image: np.ndarray, points: np.ndarray) -> float:
    """The saturation teeth have under a photo's light: its own teeth's when they show (they
    are that light's teeth), else that of its white (render.colour.white_point).

    Args:
        image: (H, W, 3) uint8 RGB; points: (478, 2+) its landmarks in pixels.
    """
    own = teeth_saturation(image, points)
    return own if np.isfinite(own) else float(_saturation(white_point(image, points) * 255))


def teeth_shift(saturations: np.ndarray, reference: float, least: int = 10) -> float:
    """How far the teeth are from neutral under the photo's light: the median over the frames
    of the teeth's saturation ((N,), NaN where none show), minus the photo's
    `teeth_reference`. 0 = teeth as neutral as the photo's light, above = tinted (cyan, olive,
    lavender); NaN when teeth show on fewer than `least` frames (a few frames' stray bright
    pixels are no measure of teeth)."""
    shown = saturations[np.isfinite(saturations)]
    return float(np.median(shown) - reference) if len(shown) >= max(least, 1) else float("nan")


TEAR_EXPANSION = 2.5  # a map that enlarges the source more than this along one direction ...
TEAR_ANISOTROPY = 2.0  # ... and more than this times as much as across it draws streaks


def warp_tears(warp: np.ndarray, mask: np.ndarray, face: np.ndarray) -> float:
    """How much of the person outside the face a frame tears or spikes: the fraction of the
    output's hair, ears, neck and shoulders where the backward map folds over (its Jacobian's
    determinant is not positive: the picture is torn and drawn twice) or draws a few source
    pixels out into streaks (it enlarges them more than TEAR_EXPANSION times along one
    direction and TEAR_ANISOTROPY times more than across it: hair pulled into horns, a neck
    drawn into vertical streaks). Squeezing is not counted: it is what a surface turning
    away from the camera looks like. 0 = none.

    Args:
        warp: (h, w, 2) float32 backward map: each output pixel's source position (x, y) in
            the source image's pixels (Renderer.warp_map).
        mask: (h', w') float person mask of the source image, 1 = person.
        face: (478, 2+) the source's landmarks in its pixels; the face oval is left out (its
            own surface turns and foreshortens with the head).
    """
    if warp.ndim != 3 or warp.shape[2] != 2:
        raise ValueError(f"expected an (h, w, 2) map, got {warp.shape}")
    hull = np.zeros(mask.shape, np.float32)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(face[T.FACE_OVAL, :2]).astype(np.int32)), 1.0)
    person = cv2.remap(mask.astype(np.float32), warp, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    in_face = cv2.remap(hull, warp, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    region = (person > 0.5) & (in_face < 0.01)
    region[:2], region[-2:], region[:, :2], region[:, -2:] = False, False, False, False  # one-sided differences there
    if not region.any():
        return 0.0
    s_max, s_min, det = _singular_values(warp)
    drawn_out = (s_min * TEAR_EXPANSION < 1.0) & (s_max > TEAR_ANISOTROPY * s_min)
    return float(((det <= 0) | drawn_out)[region].mean())


def _singular_values(warp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel of an (h, w, 2) map: its Jacobian's larger and smaller singular values and
    its determinant (source pixels per output pixel)."""
    dy_x, dx_x = np.gradient(warp[..., 0])
    dy_y, dx_y = np.gradient(warp[..., 1])
    det = dx_x * dy_y - dy_x * dx_y
    frob = dx_x ** 2 + dy_x ** 2 + dx_y ** 2 + dy_y ** 2
    root = np.sqrt(np.maximum(frob ** 2 - 4 * det ** 2, 0.0))
    return np.sqrt((frob + root) / 2), np.sqrt(np.maximum(frob - root, 0.0) / 2), det
