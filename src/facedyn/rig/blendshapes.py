"""The 52 ARKit blendshapes as displacement fields on the 478-vertex mesh, built from its
semantic regions in the template's pose-free head frame.

Head frame (see geometry.pose.Template): face height about 1, x towards the person's left
(image right), y down, z away from the camera. "Left" and "Right" in the names are the
person's own, as in ARKit. Each field moves a few handle vertices by a set amount and lets
the displacement fall off smoothly (Gaussian, `radius` in face heights) over the vertices
around them; handles keep their exact move. Amplitudes marked CALIBRATED are replaced by the
values in data/rig_calibration.json (see tools/calibrate_rig.py).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from facedyn.geometry import regions
from facedyn.geometry.pose import template
from facedyn.tracking import topology as T

RIG_VERSION = 1  # bump when the basis or its calibration changes: dynamics streams name the rig they need

BLENDSHAPES = (  # Live Link Face order (the order of its CSV columns), ARKit names
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight",
    "eyeWideRight", "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthRight", "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp",
    "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

# Default amplitudes in face heights; CALIBRATED ones are overridden by data/rig_calibration.json.
AMPLITUDE = {
    "jawOpen": 0.16,  # CALIBRATED: inner-lip gap at the centre
    "mouthSmile": 0.045,  # CALIBRATED: lip-corner travel (out and up)
    "browInnerUp": 0.045,  # CALIBRATED: inner brow rise
    "browOuterUp": 0.04,
    "browDown": 0.035,  # CALIBRATED: brow drop
    "eyeWide": 0.012,  # CALIBRATED: upper-lid rise
    "mouthPucker": 0.35,  # CALIBRATED: share of the mouth width lost
    "iris": 0.28,  # iris travel over eye width for eyeLook* at 1
}

SIDES = {"Left": 1.0, "Right": -1.0}  # sign of x on the person's left / right side
_LIDS = {"Left": (T.LEFT_EYE_PAIRS, T.LEFT_IRIS, T.LEFT_EYE_UPPER), "Right": (T.RIGHT_EYE_PAIRS, T.RIGHT_IRIS, T.RIGHT_EYE_UPPER)}
_BROWS = {"Left": T.LEFT_BROW, "Right": T.RIGHT_BROW}
_CHEEKS = {"Left": np.array([280, 425, 411, 352]), "Right": np.array([50, 205, 187, 123])}
_NOSE_WINGS = {"Left": np.array([278, 358, 327, 294, 279]), "Right": np.array([48, 129, 98, 64, 49])}
_UPPER_LIP = np.unique(np.concatenate([T.LIPS_OUTER_UPPER[1:-1], T.LIPS_INNER_UPPER[1:-1]]))
_LOWER_LIP = np.unique(np.concatenate([T.LIPS_OUTER_LOWER[1:-1], T.LIPS_INNER_LOWER[1:-1]]))
_LIPS = np.unique(np.concatenate([_UPPER_LIP, _LOWER_LIP, [61, 291, 78, 308]]))


def calibrated_amplitudes() -> dict[str, float]:
    """AMPLITUDE with the values measured by tools/calibrate_rig.py, when that file exists."""
    out = dict(AMPLITUDE)
    path = resources.files("facedyn.data").joinpath("rig_calibration.json")
    if path.is_file():
        out.update(json.loads(path.read_text())["amplitudes"])
    return out


class _Builder:
    """Builds displacement fields on one neutral mesh."""

    def __init__(self, neutral: np.ndarray, amplitude: dict[str, float]) -> None:
        self.s = neutral
        self.a = amplitude
        self.nose_x = neutral[T.NOSE_TIP, 0]
        self.mouth_y = neutral[[61, 291], 1].mean()

    def spread(self, handles: np.ndarray, moves: np.ndarray, radius: float, limit: np.ndarray | None = None) -> np.ndarray:
        """(478, 3) field: handles move by `moves` ((K, 3) or (3,)); others by the
        Gaussian-weighted blend of nearby handles' moves, optionally times `limit` (478,)."""
        handles = np.asarray(handles)
        moves = np.broadcast_to(np.asarray(moves, float), (len(handles), 3))
        d = np.linalg.norm(self.s[:, None, :2] - self.s[None, handles, :2], axis=-1)
        w = np.exp(-((d / radius) ** 2))
        field = (w @ moves) / np.maximum(w.sum(1), 1.0)[:, None]
        if limit is not None:
            field *= limit[:, None]
        field[handles] = moves
        return field

    def side_mask(self, side: str) -> np.ndarray:
        """(478,) 1 on the given side of the face, fading across the midline."""
        return np.clip(0.5 + SIDES[side] * (self.s[:, 0] - self.nose_x) / 0.04, 0, 1)

    def below_mouth(self) -> np.ndarray:
        return regions.jaw_weights(self.s)

    def above_mouth(self) -> np.ndarray:
        return np.clip((self.mouth_y - self.s[:, 1]) / 0.03 + 0.5, 0, 1)

    def lids(self, side: str, upper: float, lower: float, radius: float = 0.025) -> np.ndarray:
        """Upper lid down by `upper`, lower lid up by `lower`, in shares of the open gap."""
        pairs = _LIDS[side][0]
        gap = self.s[pairs[:, 1], 1] - self.s[pairs[:, 0], 1]
        moves = np.zeros((2 * len(pairs), 3))
        moves[: len(pairs), 1] = upper * gap
        moves[len(pairs):, 1] = -lower * gap
        return self.spread(np.concatenate([pairs[:, 0], pairs[:, 1]]), moves, radius,
                           regions.membership(self.s, regions.EYELIDS, 0.05))

    def iris(self, side: str, dx: float, dy: float) -> np.ndarray:
        """Iris moves by (dx, dy) eye widths; the upper lid follows a vertical look a little."""
        pairs, iris, upper = _LIDS[side]
        width = np.linalg.norm(self.s[upper[0], :2] - self.s[upper[-1], :2])
        field = np.zeros_like(self.s)
        field[iris, 0], field[iris, 1] = dx * width, dy * width
        if dy:
            field += self.lids(side, 0.35 * np.sign(dy) * abs(dy) / self.a["iris"], 0.0)
        return field

    def corner(self, side: str, move: tuple[float, float, float], radius: float = 0.07) -> np.ndarray:
        """A lip corner moves; the lips fade from it to the midline, the cheek follows."""
        corner = 291 if side == "Left" else 61
        lips = _LIPS[np.sign(self.s[_LIPS, 0] - self.nose_x) == SIDES[side]]
        reach = np.abs(self.s[corner, 0] - self.nose_x)
        share = np.clip(np.abs(self.s[lips, 0] - self.nose_x) / reach, 0, 1) ** 1.5
        handles = np.concatenate([[corner], lips[lips != corner]])
        moves = np.outer(np.concatenate([[1.0], share[lips != corner]]), move)
        return self.spread(handles, moves, radius, self.side_mask(side))


def build_basis(neutral: np.ndarray | None = None, amplitude: dict[str, float] | None = None) -> np.ndarray:
    """(52, 478, 3) float64 displacement fields in BLENDSHAPES order, for coefficient 1.

    Args:
        neutral: (478, 3) neutral mesh in the head frame (default: the template).
        amplitude: amplitudes by key of AMPLITUDE (default: calibrated_amplitudes()).
    """
    b = _Builder(template().shape if neutral is None else neutral, amplitude or calibrated_amplitudes())
    fields = {}
    for side, sign in SIDES.items():
        fields.update(_eye_fields(b, side, sign))
        fields.update(_mouth_side_fields(b, side, sign))
        brow = _BROWS[side]
        outer = brow[np.abs(b.s[brow, 0] - b.nose_x) > np.median(np.abs(b.s[brow, 0] - b.nose_x))]
        fields[f"browDown{side}"] = b.spread(brow, _brow_down_moves(b, brow, sign), 0.05, b.above_mouth())
        fields[f"browOuterUp{side}"] = b.spread(outer, (0, -b.a["browOuterUp"], 0), 0.05, b.above_mouth())
        fields[f"cheekSquint{side}"] = (b.spread(_CHEEKS[side], (0, -0.02, -0.005), 0.05, b.side_mask(side))
                                        + b.lids(side, 0, 0.25))
        fields[f"noseSneer{side}"] = (b.spread(_NOSE_WINGS[side], (sign * 0.004, -0.02, 0), 0.035, b.above_mouth())
                                      + b.corner(side, (0, -0.008, 0), 0.04) * 0.5)
    fields.update(_central_fields(b))
    return np.stack([fields[name] for name in BLENDSHAPES])


def _brow_down_moves(b: _Builder, brow: np.ndarray, sign: float) -> np.ndarray:
    """(K, 3) AU4 moves of one brow's vertices: the inner end pulled down and towards the
    nose most, the outer end least (the corrugator's V), with a mean drop of the calibrated
    amplitude."""
    reach = np.abs(b.s[brow, 0] - b.nose_x)
    inner = 1.0 - (reach - reach.min()) / np.ptp(reach)
    drop = 0.3 + 0.7 * inner
    drop *= b.a["browDown"] / drop.mean()
    return np.column_stack([-sign * 0.4 * drop * inner, drop, np.zeros(len(brow))])


def _brow_inner_up_moves(b: _Builder, brows: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(K, 3) AU1 moves of both brows' vertices: the inner ends rise most and draw a little
    towards each other, the rise fading quadratically to nothing at the outer ends, so the
    brows slant (sadness's oblique brows) instead of lifting as a block; AU2 lifts the outer
    ends. The mean rise of the inner halves is the calibrated amplitude."""
    reach = np.abs(b.s[brows, 0] - b.nose_x)
    share = np.clip(1.0 - (reach - reach.min()) / np.ptp(reach), 0.0, 1.0) ** 2
    rise = share * b.a["browInnerUp"] / share[np.isin(brows, inner)].mean()
    towards_nose = -np.sign(b.s[brows, 0] - b.nose_x) * 0.25 * rise * share
    return np.column_stack([towards_nose, -rise, np.zeros(len(brows))])


def _eye_fields(b: _Builder, side: str, sign: float) -> dict[str, np.ndarray]:
    inward = -sign  # towards the nose in x
    return {
        f"eyeBlink{side}": b.lids(side, 0.8, 0.2),
        f"eyeSquint{side}": b.lids(side, 0.15, 0.35, radius=0.035),
        f"eyeWide{side}": b.lids(side, -b.a["eyeWide"] / 0.045, 0.0, radius=0.035),
        f"eyeLookDown{side}": b.iris(side, 0, 0.6 * b.a["iris"]),
        f"eyeLookUp{side}": b.iris(side, 0, -0.6 * b.a["iris"]),
        f"eyeLookIn{side}": b.iris(side, inward * b.a["iris"], 0),
        f"eyeLookOut{side}": b.iris(side, -inward * b.a["iris"], 0),
    }


def _mouth_side_fields(b: _Builder, side: str, sign: float) -> dict[str, np.ndarray]:
    smile = b.a["mouthSmile"] / np.sqrt(2)
    half = b.side_mask(side)
    lower = _LOWER_LIP[np.sign(b.s[_LOWER_LIP, 0] - b.nose_x) * sign >= 0]
    upper = _UPPER_LIP[np.sign(b.s[_UPPER_LIP, 0] - b.nose_x) * sign >= 0]
    outer_upper = np.intersect1d(upper, T.LIPS_OUTER_UPPER)
    outer_lower = np.intersect1d(lower, T.LIPS_OUTER_LOWER)
    return {
        f"mouthSmile{side}": b.corner(side, (sign * smile, -smile, 0.01)),
        f"mouthFrown{side}": b.corner(side, (sign * 0.005, 0.045, 0)),
        f"mouthDimple{side}": b.corner(side, (sign * 0.02, 0, 0.012), 0.05),
        f"mouthStretch{side}": b.corner(side, (sign * 0.03, 0.012, 0)),
        f"mouthPress{side}": (b.spread(outer_upper, (0, 0.008, 0), 0.02, half)
                              + b.spread(outer_lower, (0, -0.01, 0), 0.02, half)),
        f"mouthLowerDown{side}": b.spread(lower, (0, 0.03, 0), 0.04, half * b.below_mouth()),
        f"mouthUpperUp{side}": b.spread(upper, (0, -0.025, 0), 0.04, half * b.above_mouth()),
        f"jaw{side}": np.outer(b.below_mouth(), (sign * 0.04, 0, 0)),
        f"mouth{side}": b.spread(_LIPS, (sign * 0.035, 0, 0), 0.05),
    }


def _rounded_jaw_weights(b: _Builder) -> np.ndarray:
    """regions.jaw_weights reshaped so that the mouth opens as an oval, not a box: the lower
    lip drops along a half ellipse from corner to corner, and everything below it drops at
    least as far, so the lip never folds under the skin beneath it."""
    s = b.s
    w = regions.jaw_weights(s)
    corners = s[[61, 291], 0]
    across = np.abs(s[:, 0] - corners.mean()) / (0.5 * abs(corners[1] - corners[0]))
    profile = np.sqrt(np.clip(1.0 - across**2, 0.0, 1.0))
    inner = T.LIPS_INNER_LOWER[np.argsort(s[T.LIPS_INNER_LOWER, 0])]
    below_lip = s[:, 1] >= np.interp(s[:, 0], s[inner, 0], s[inner, 1]) - 1e-6
    below_lip[T.LIPS_INNER_UPPER] = False
    w[below_lip] = np.maximum(w[below_lip], profile[below_lip])
    w[T.LIPS_INNER_LOWER] = profile[T.LIPS_INNER_LOWER]
    return w


def _central_fields(b: _Builder) -> dict[str, np.ndarray]:
    s, a = b.s, b.a
    centre = s[[61, 291], :2].mean(0)
    to_centre = np.zeros((len(_LIPS), 3))
    to_centre[:, 0] = centre[0] - s[_LIPS, 0]
    jaw = regions.open_jaw(s, a["jawOpen"], _rounded_jaw_weights(b)) - s
    brows = np.concatenate([T.RIGHT_BROW, T.LEFT_BROW])
    inner = brows[np.abs(s[brows, 0] - b.nose_x) < np.median(np.abs(s[brows, 0] - b.nose_x))]
    cheeks = np.concatenate([_CHEEKS["Left"], _CHEEKS["Right"]])
    puff = np.zeros((len(cheeks), 3))
    puff[:, 0] = 0.025 * np.sign(s[cheeks, 0] - b.nose_x)
    puff[:, 2] = -0.01
    pucker = to_centre * a["mouthPucker"] + (0, 0, -0.03)
    return {
        "jawOpen": jaw,
        "jawForward": np.outer(b.below_mouth(), (0, 0, -0.04)),
        "mouthClose": (b.spread(np.intersect1d(_LOWER_LIP, T.LIPS_INNER_LOWER), (0, -0.5 * a["jawOpen"], 0), 0.03)
                       * b.below_mouth()[:, None]),
        "mouthFunnel": b.spread(_LIPS, 0.6 * to_centre * a["mouthPucker"] + (0, 0, -0.02), 0.04)
                       + b.spread(T.LIPS_INNER_LOWER[1:-1], (0, 0.02, 0), 0.02, b.below_mouth()),
        "mouthPucker": b.spread(_LIPS, pucker, 0.05),
        "mouthRollLower": b.spread(T.LIPS_OUTER_LOWER[1:-1], (0, -0.012, 0.01), 0.02, b.below_mouth()),
        "mouthRollUpper": b.spread(T.LIPS_OUTER_UPPER[1:-1], (0, 0.01, 0.01), 0.02, b.above_mouth()),
        "mouthShrugLower": b.spread(np.concatenate([_LOWER_LIP, [T.CHIN, 18, 200]]), (0, -0.02, -0.005), 0.05,
                                         b.below_mouth()),
        "mouthShrugUpper": b.spread(_UPPER_LIP, (0, -0.012, -0.004), 0.03, b.above_mouth()),
        "browInnerUp": b.spread(brows, _brow_inner_up_moves(b, brows, inner), 0.05, b.above_mouth()),
        "cheekPuff": b.spread(cheeks, puff, 0.07),
        # The mesh has no tongue: a little jaw drop and a forward lower lip stand for it.
        "tongueOut": 0.25 * jaw + b.spread(_LOWER_LIP, (0, 0.01, -0.015), 0.03, b.below_mouth()),
    }
