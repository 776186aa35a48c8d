"""Retargeting: the driver's pose and expression changes, applied to the source's own face."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedyn.dynamics import FaceDynamics
from facedyn.geometry import regions
from facedyn.geometry.pose import HeadPose, fit_head_pose, scale_rotation
from facedyn.tracking import topology as T

MODES = ("hybrid", "relative", "absolute")
EYES_OPEN = 0.16  # the least mean lid gap over eye width a reference counts as open eyes (template 0.19)


@dataclass(frozen=True)
class RetargetConfig:
    """How the driver's motion maps onto the source face."""

    # "hybrid": the driver's changes transfer, but the mouth opens and closes as far as the
    # driver's (openness is expression, not identity: a photo showing its teeth closes its
    # lips over them); "relative": only the driver's changes transfer; "absolute": the
    # source copies the driver's head rotation and eye/mouth opening.
    mode: str = "hybrid"
    pose_scale: float = 1.0  # multiplies head rotation and translation changes (0 = still head), 0..3
    expression_scale: float = 1.0  # multiplies all expression offsets, 0..3
    eyes: float = 1.0  # extra multiplier for eyelids and gaze, 0..3
    brows: float = 1.0  # extra multiplier for the brows, 0..3
    mouth: float = 1.0  # extra multiplier for lips and jaw, 0..3

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for name in ("pose_scale", "expression_scale", "eyes", "brows", "mouth"):
            value = getattr(self, name)
            if not 0.0 <= value <= 3.0:
                raise ValueError(f"{name} must be in 0..3, got {value}")


class Retargeter:
    """Maps FaceDynamics of a driver onto the source face, giving target landmarks.

    Expression offsets (driver shape minus driver reference shape, in the head frame) are
    scaled per axis by the ratio of the two faces' sizes, weighted per region, and added to
    the source's own pose-free mesh, so identity stays the source's. Eyelid motion is scaled
    by the ratio of the two eyes' openings (a blink closes any eye fully), and lids and lips
    are kept from crossing.

    Args:
        source_points: (478, 3) source landmarks in working-image pixels.
        reference: the driver's reference dynamics (Motion.reference).
        config: the multipliers and mode.
        closed_gap: the driver's inner-lip gap that means closed lips (Motion.closed_gap).
    """

    def __init__(self, source_points: np.ndarray, reference: FaceDynamics, config: RetargetConfig,
                 closed_gap: float = 0.0) -> None:
        self.config = config
        self._closed_gap = closed_gap
        self.source_pose: HeadPose = fit_head_pose(source_points)
        self.source_shape = self.source_pose.to_head_frame(source_points)
        self.reference = reference
        ref = reference.shape.astype(np.float64)
        axis = regions.face_extent(self.source_shape) / np.maximum(regions.face_extent(ref), 1e-9)
        self._axis_scale = np.array([axis[0], axis[1], axis[0]])
        self._weights = self._region_weights()
        self._eye_weight = regions.membership(self.source_shape, regions.EYELIDS, radius=0.02)
        self._jaw = regions.jaw_weights(self.source_shape)
        self._mouth_strength = float(self._weights[[13, 14]].mean())  # the mouth's multipliers
        # Hybrid: built on the photo's face with its mouth closed, as far as the mouth's
        # multipliers ask (0: the photo's own mouth, so a still face is the photo itself).
        self.rest_shape = self.source_shape
        self._reference_shape = ref
        if config.mode == "hybrid":
            closed = regions.close_mouth(self.source_shape)
            self.rest_shape = self.source_shape + min(self._mouth_strength, 1.0) * (closed - self.source_shape)
            # Eyes squeezed shut in the photo rest open too, or they could never reach the
            # driver's open eyes (a photo with open eyes is left as it is).
            self.rest_shape = regions.open_eyes(self.rest_shape, EYES_OPEN)
            # The driver's changes are taken from its reference with the mouth closed the same
            # way (a driver that starts open-mouthed then opens the photo's mouth as its own
            # lips move; the jaw alone would thin the lower lip beside the corners), and with
            # its eyes open (a reference caught mid-blink would open the photo's eyes wide).
            self._reference_shape = regions.open_eyes(regions.close_mouth(ref), EYES_OPEN)
        self._eye_ratio = _eye_ratio(self.rest_shape, self._reference_shape, axis[1])
        self._source_gap = regions.mouth_gap(self.source_shape)
        pairs = T.MOUTH_PAIRS
        self._rest_depth = self.rest_shape[pairs[:, 1], 2] - self.rest_shape[pairs[:, 0], 2]
        self._rest_eye_gaps = regions.eye_gaps(self.rest_shape)
        self._lash_offsets = _lash_offsets(self.source_shape)
        self._lip_thickness = _lip_ring_gaps(self.rest_shape)

    def _region_weights(self) -> np.ndarray:
        c, shape = self.config, self.source_shape
        w = np.ones(T.N_VERTICES)
        for region, mult in ((regions.EYES, c.eyes), (regions.BROWS, c.brows), (regions.MOUTH, c.mouth)):
            if mult != 1.0:
                w += (mult - 1.0) * regions.membership(shape, region)
        # The tracker's face outline slides over the face as the head turns (it follows the
        # silhouette), which would show up as expression; the skull's outline has none, so
        # only the jaw part of the outline (below the mouth corners) keeps its offsets.
        mouth_y = shape[[61, 291], 1].mean()
        skull = T.FACE_OVAL[shape[T.FACE_OVAL, 1] < mouth_y]
        w *= 1.0 - 0.9 * regions.membership(shape, skull, radius=0.05)
        return c.expression_scale * w

    def shape(self, frame: FaceDynamics) -> np.ndarray:
        """(478, 3) the source's pose-free mesh with the frame's expression applied."""
        offsets = (frame.shape.astype(np.float64) - self._reference_shape) * self._axis_scale
        # Eyelids move by the ratio of eye openings rather than of face sizes.
        y_scale = 1.0 + self._eye_weight * (self._eye_ratio / self._axis_scale[1] - 1.0)
        offsets[:, 1] *= y_scale
        if self.config.mode == "hybrid":
            shape = self._follow_mouth_opening(self.rest_shape + offsets * self._weights[:, None], frame.shape)
        else:
            shape = self.source_shape + offsets * self._weights[:, None]
        if self.config.mode == "absolute":
            shape = self._copy_openings(shape, frame.shape)
        shape = _keep_lip_thickness(_no_crossing(shape), self._lip_thickness)
        shape = _lids_meet_in_depth(shape, self._rest_eye_gaps)
        return _lash_band_follows_lid(shape, self._lash_offsets)

    def _follow_mouth_opening(self, shape: np.ndarray, driver: np.ndarray) -> np.ndarray:
        """`shape` built on `rest_shape` (the photo's face with its mouth closed,
        `regions.close_mouth`), opened by the jaw to the driver's lip gap scaled to this face:
        openness is expression, not identity, so a photo showing its teeth closes its lips
        over them."""
        driver_gap = _closed_below(max(regions.mouth_gap(driver) - self._closed_gap, 0.0)) * self._axis_scale[1]
        want = self._source_gap + self._mouth_strength * (driver_gap - self._source_gap)
        shape = _no_crossing(shape)  # the driver's closing, added to closed lips, pushes them past each other
        gap = regions.mouth_gap(shape)
        if gap > want:  # the two faces' lips meet differently: close the rest with the lips
            shape = regions.close_lips(shape, gap - want)
        else:
            shape = regions.open_jaw(shape, want - gap, self._jaw)
        return _lips_meet_in_depth(shape, self._rest_depth)

    def _copy_openings(self, shape: np.ndarray, driver: np.ndarray) -> np.ndarray:
        """Give the target the driver's eye and mouth opening, as ratios of eye width / face height."""
        drv_ratio = regions.eye_gaps(driver) / regions.eye_widths(driver)[:, None]
        shape = regions.set_eye_gaps(shape, drv_ratio * regions.eye_widths(shape)[:, None])
        want = regions.mouth_gap(driver) / regions.face_extent(driver)[1] * regions.face_extent(shape)[1]
        return regions.open_jaw(shape, want - regions.mouth_gap(shape), self._jaw)

    def pose(self, frame: FaceDynamics) -> HeadPose:
        """The target head pose in working-image pixels."""
        src, k = self.source_pose, self.config.pose_scale
        if self.config.mode == "absolute":
            rotation = scale_rotation(frame.rotation, k)
        else:
            change = frame.rotation @ self.reference.rotation.T
            rotation = scale_rotation(change, k) @ src.rotation
        shift = np.zeros(3)
        shift[:2] = k * frame.translation * src.scale
        return HeadPose(rotation, src.translation + shift, src.scale * float(frame.scale) ** k)

    def __call__(self, frame: FaceDynamics) -> tuple[np.ndarray, HeadPose]:
        """Target landmarks (478, 3) in working-image pixels and the target head pose."""
        pose = self.pose(frame)
        return pose.to_image(self.shape(frame)), pose


LIPS_MEET = 0.006  # head-frame units (about face heights): lip gaps up to this are closed lips


def _closed_below(gap: float) -> float:
    """A driver's lip gap with closed lips' noise taken out: 0 up to LIPS_MEET (a tracker
    parts closed lips by up to 0.004, a rig fit of them by up to 0.008 over its template),
    the gap itself from twice that, continuous between."""
    return gap * float(np.clip(gap / LIPS_MEET - 1.0, 0.0, 1.0))


def _eye_ratio(source: np.ndarray, reference: np.ndarray, fallback: float) -> np.ndarray:
    """(478,) per-vertex vertical scale for lid motion: source over driver eye opening, by eye."""
    src, ref = regions.eye_gaps(source).mean(1), regions.eye_gaps(reference).mean(1)
    ratio = np.where(ref > 1e-4, src / np.maximum(ref, 1e-4), fallback)
    ratio = np.clip(ratio, 0.3 * fallback, 3.0 * fallback)
    side = np.where(source[:, 0] < source[T.NOSE_TIP, 0], ratio[0], ratio[1])  # person's right eye is at smaller x
    return side


def _no_crossing(shape: np.ndarray) -> np.ndarray:
    """Lids and lips may close but never pass through each other: a lid pair that crossed
    meets at the lower lid, a lip pair that crossed meets halfway (lips pressed together)."""
    gaps = regions.eye_gaps(shape)
    if (gaps < 0).any():
        shape = regions.set_eye_gaps(shape, np.maximum(gaps, 0.0), upper_share=1.0)
    upper, lower = T.MOUTH_PAIRS[:, 0], T.MOUTH_PAIRS[:, 1]
    crossed = shape[lower, 1] < shape[upper, 1]
    if crossed.any():
        shape = shape.copy()
        middle = (shape[upper[crossed], 1] + shape[lower[crossed], 1]) / 2
        shape[upper[crossed], 1] = shape[lower[crossed], 1] = middle
    return shape


def _lids_meet_in_depth(shape: np.ndarray, rest_gaps: np.ndarray) -> np.ndarray:
    """Lids that close meet in depth too: each lid pair's depth difference shrinks with its
    gap over the rest face's (`rest_gaps`, (2, 7)), the upper lid taking 80% of the move as
    it slides down over the eyeball. Closed only in height, the lids of a pitched head stay
    apart in the picture (a face looking up kept a fifth of its eye open on every blink)."""
    shape = shape.copy()
    gaps = regions.eye_gaps(shape)
    for k, pairs in enumerate((T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)):
        openness = np.clip(gaps[k] / np.maximum(rest_gaps[k], 1e-9), 0.0, 1.0)
        depth = shape[pairs[:, 1], 2] - shape[pairs[:, 0], 2]
        excess = depth * (1.0 - openness)
        shape[pairs[:, 0], 2] += 0.8 * excess
        shape[pairs[:, 1], 2] -= 0.2 * excess
    return shape


_LASH_BANDS = ((T.RIGHT_EYE_UPPER[1:-1], T.RIGHT_LASH_RING), (T.LEFT_EYE_UPPER[1:-1], T.LEFT_LASH_RING))


def _lash_offsets(photo: np.ndarray) -> list[np.ndarray]:
    """Per eye, (7, 2) (y, z) offset of each lash-ring vertex from its lid contour vertex in
    the photo's face (`photo`, (478, 3), head frame)."""
    return [photo[ring, 1:] - photo[contour, 1:] for contour, ring in _LASH_BANDS]


def _lash_band_follows_lid(shape: np.ndarray, offsets: list[np.ndarray]) -> np.ndarray:
    """An upper lid that closes carries its lash band down whole: the mesh ring above the
    lid contour keeps at most its offset from the contour in the photo (`_lash_offsets`).
    Pinned there by the driver's smaller motion, it let the warp stretch the photo's lashes
    into a thick dark band over the shut eye, which a tracker reads as an open lid; the
    stretch now falls on the lid skin above the ring."""
    shape = shape.copy()
    for (contour, ring), offset in zip(_LASH_BANDS, offsets, strict=True):
        rigid = shape[contour, 1:] + offset  # (y, z) carried with the contour
        stretched = shape[ring, 1] < rigid[:, 0]  # y grows downwards: the ring lags above
        shape[ring[stretched], 1:] = rigid[stretched]
    return shape


LIP_DEPTH_PER_GAP = 0.5  # how far a lip pair's depth difference may leave its rest's, per unit of gap


LIP_THICKNESS_KEPT = 0.1  # the least share of its rest thickness each band of a lip keeps


def _lip_ring_gaps(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertical thickness of each band between neighbouring lip rings (inner contour
    outwards), upper and lower lip, each (3, 9) for the columns between the corners; >= 0."""
    upper, lower = T.LIPS_UPPER_RINGS[:, 1:-1], T.LIPS_LOWER_RINGS[:, 1:-1]
    return (np.maximum(shape[upper[:-1], 1] - shape[upper[1:], 1], 0.0),
            np.maximum(shape[lower[1:], 1] - shape[lower[:-1], 1], 0.0))


def _keep_lip_thickness(shape: np.ndarray, rest: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each band of each lip at least LIP_THICKNESS_KEPT of its `rest` thickness
    (`_lip_ring_gaps`), the rings moved outwards (y only) where the driver's lip motion,
    added to this face's thinner or closed lips, would draw an inner contour past the ring
    outside it: the renderer would have to smooth that fold out (many passes a frame on
    68-point drivers), and the lip's skin would turn over. Returns `shape` itself when
    nothing moves, else a new mesh."""
    out = shape
    for rings, thickness, direction in ((T.LIPS_UPPER_RINGS, rest[0], -1.0), (T.LIPS_LOWER_RINGS, rest[1], 1.0)):
        rings = rings[:, 1:-1]
        for k in range(1, len(rings)):
            least = out[rings[k - 1], 1] + direction * LIP_THICKNESS_KEPT * thickness[k - 1]
            short = direction * (out[rings[k], 1] - least) < 0
            if short.any():
                out = out.copy() if out is shape else out
                out[rings[k][short], 1] = least[short]
    return out


def _lips_meet_in_depth(shape: np.ndarray, rest_depth: np.ndarray) -> np.ndarray:
    """Lips that meet meet in depth too: each inner-lip pair's depth difference stays within
    LIP_DEPTH_PER_GAP times its gap of the rest face's (`rest_depth`, (9,)), or closed lips
    would part again in any pitched view (a driver's lips differ in depth from the rest's)."""
    upper, lower = T.MOUTH_PAIRS[:, 0], T.MOUTH_PAIRS[:, 1]
    gap = np.maximum(shape[lower, 1] - shape[upper, 1], 0.0)
    depth = shape[lower, 2] - shape[upper, 2]
    excess = depth - np.clip(depth, rest_depth - LIP_DEPTH_PER_GAP * gap, rest_depth + LIP_DEPTH_PER_GAP * gap)
    shape = shape.copy()
    shape[upper, 2] += excess / 2
    shape[lower, 2] -= excess / 2
    return shape
