"""Sparse to dense: 68 2D landmarks lifted to a dense 478-vertex face and a head pose.

68 image points carry no depth, no gaze and little of the cheeks. The head template supplies
the depth and the rig the dense shape: per frame, a scaled-orthographic head pose is fitted
to the template's 68 corresponding vertices (topology.LANDMARKS68), the rig's coefficients
are solved from the points under that projection (bounded, regularised, pulled towards the
previous frame's), the two are refined in turn, and the lid and lip gaps are then set to the
points' own, so blinks close and mouths open as far as the points do.

    fit = SparseFit()
    for points in track:                     # (68, 2) pixels, y down
        mesh = fit(points)                   # (478, 3) pixels: like a tracker's landmarks
"""

from __future__ import annotations

import numpy as np

from facedyn.geometry import regions
from facedyn.geometry.folds import Unfolder
from facedyn.geometry.pose import HeadPose, template, umeyama
from facedyn.rig.blendshapes import BLENDSHAPES
from facedyn.rig.solver import Rig, box_least_squares
from facedyn.tracking import topology as T

# The points a head pose is fitted on: nose, eye corners and the contour at ear height move
# little with expression (the brows, the lips and the chin do).
POSE_POINTS = np.array([0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])
# 68 points see no iris, no tongue and no cheek puff: those coefficients stay 0.
UNSEEN = ("eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeLookDownRight", "eyeLookInRight",
          "eyeLookOutRight", "eyeLookUpRight", "cheekPuff", "tongueOut")
CONTOUR_WEIGHT = 0.3  # the jaw contour is a silhouette: it slides over the face as the head turns
POSE_STEPS = 2  # pose alternations per refinement, each refinement continuing the last's pose
# Per 68-point lid pair (upper, lower) and inner-lip pair, in the layout's numbering.
EYE_PAIRS68 = (np.array([[37, 41], [38, 40]]), np.array([[43, 47], [44, 46]]))  # right, left
LIP_PAIRS68 = np.array([[61, 67], [62, 66], [63, 65]])


GAZE_FULL = 0.5  # radians of gaze angle that turn an eyeLook* coefficient fully on


def gaze_coefficients(gaze: np.ndarray) -> np.ndarray:
    """eyeLook* coefficients for gaze angles, as OpenFace gives them.

    Args:
        gaze: (N, 2) or (2,) float (x, y) radians: x > 0 looks towards the image's right
            (the person's left), y > 0 looks down.

    Returns:
        (N, 52) or (52,) float64 coefficients in 0..1, zero but for the eyeLook* ones.
    """
    gaze = np.asarray(gaze, np.float64)
    flat = gaze.reshape(-1, 2)
    x, y = np.clip(flat[:, 0] / GAZE_FULL, -1, 1), np.clip(flat[:, 1] / GAZE_FULL, -1, 1)
    out = np.zeros((len(flat), len(BLENDSHAPES)))
    looks = {"eyeLookOutLeft": x, "eyeLookInRight": x, "eyeLookInLeft": -x, "eyeLookOutRight": -x,
             "eyeLookDownLeft": y, "eyeLookDownRight": y, "eyeLookUpLeft": -y, "eyeLookUpRight": -y}
    for name, value in looks.items():
        out[:, BLENDSHAPES.index(name)] = np.maximum(value, 0.0)
    return out.reshape(*gaze.shape[:-1], len(BLENDSHAPES))


class SparseFit:
    """Lifts one frame of 68 points at a time to a dense mesh; keeps the previous frame's
    coefficients as a prior, so use one per sequence.

    Args:
        rig: the blendshape rig (default: a new Rig()).
        regularisation: pull of every coefficient towards 0, relative to a point's squared
            error in face heights; 1e-8..0.1 (more = calmer, weaker expressions: at 1e-3 the
            fit kept about a third of a speaker's lip motion). Only keeps the solve well posed.
        coherence: pull towards the previous frame's coefficients, same units; 0..1. Jitter
            is the smoother's job (drivers.landmarks), so this stays small too.
        iterations: pose / expression refinements per frame, 1..10.
    """

    def __init__(self, rig: Rig | None = None, regularisation: float = 1e-6, coherence: float = 1e-5,
                 iterations: int = 3) -> None:
        self._rig = rig or Rig()
        self._template = template().shape
        self._unfold = Unfolder(self._template)
        basis = self._rig.basis
        self._free = np.array([name not in UNSEEN for name in BLENDSHAPES])
        self._basis68 = T.landmarks68(basis[self._free])  # (K, 68, 3)
        self._rest68 = T.landmarks68(self._template)  # (68, 3)
        self._weights = np.ones(68)
        self._weights[:17] = CONTOUR_WEIGHT
        self._regularisation, self._coherence, self._iterations = regularisation, coherence, iterations
        self._previous = np.zeros(int(self._free.sum()))

    def __call__(self, points: np.ndarray, gaze: np.ndarray | None = None) -> np.ndarray:
        """The dense face for one frame.

        Args:
            points: (68, 2) float landmarks in the iBUG 300-W / dlib order, image pixels
                (x right, y down).
            gaze: (2,) gaze angles in radians (see gaze_coefficients), or None: eyes ahead.

        Returns:
            (478, 3) float64 mesh landmarks in the same pixels (z: relative depth, in pixels,
            away from the camera), as FaceTracker gives them.

        Raises:
            ValueError: points of another shape or not finite.
        """
        points = np.asarray(points, np.float64)
        if points.shape != (68, 2) or not np.isfinite(points).all():
            raise ValueError(f"expected (68, 2) finite landmarks, got {points.shape}")
        coefficients, pose = self._previous, None
        for _ in range(self._iterations):
            model = self._rest68 + np.tensordot(coefficients, self._basis68, axes=1)
            pose = orthographic_pose(model[POSE_POINTS], points[POSE_POINTS], POSE_STEPS, start=pose)
            coefficients = self._solve(points, pose)
        self._previous = coefficients
        full = np.zeros(len(BLENDSHAPES))
        full[self._free] = coefficients
        if gaze is not None:
            full += gaze_coefficients(gaze)
        shape = self._unfold(self._template + self._rig.apply(full))
        shape = _openings_of(shape, points, pose)
        return pose.to_image(shape)

    def _solve(self, points: np.ndarray, pose: HeadPose) -> np.ndarray:
        """Coefficients whose 68 points, under `pose`, best match `points` (bounded 0..1)."""
        project = pose.scale * pose.rotation[:2].T  # (3, 2): head-frame offsets -> pixels
        residual = points - pose.to_image(self._rest68)[:, :2]  # (68, 2)
        jacobian = (self._basis68 @ project).reshape(len(self._basis68), -1).T  # (136, K)
        w = np.repeat(self._weights, 2)[:, None]
        unit = pose.scale ** 2 * len(points)  # a face height of error at every point
        gram = jacobian.T @ (w * jacobian) + unit * (self._regularisation + self._coherence) * np.eye(jacobian.shape[1])
        rhs = jacobian.T @ (w[:, 0] * residual.ravel()) + unit * self._coherence * self._previous
        return box_least_squares(gram, rhs)


def orthographic_pose(model: np.ndarray, points: np.ndarray, iterations: int = 2, start: HeadPose | None = None) -> HeadPose:
    """The scaled-orthographic head pose that projects `model` onto `points`.

    Starts from the best affine projection made a scaled rotation, then alternates a 3D
    similarity fit (Umeyama) with the depth the current pose gives each point: the model
    supplies what the 2D points lack. From the affine start 2 alternations land within 0.05
    degrees of 200 (an in-plane start took 8 to come within 0.5-1 degree on 25-60 degree turns).

    Args:
        model: (N, 3) head-frame points, N >= 4, not all in a line.
        points: (N, 2) image points (pixels, y down).
        iterations: alternations, 0 or more.
        start: a pose to continue from (a nearby model's fit) instead of the affine start.

    Returns:
        A HeadPose with points[:, :2] ~ pose.to_image(model)[:, :2].
    """
    pose = start if start is not None else _affine_pose(model, points)
    rotation, translation, scale = pose.rotation, pose.translation, pose.scale
    for _ in range(iterations):
        depth = (scale * model @ rotation.T + translation)[:, 2]
        rotation, translation, scale = umeyama(model, np.column_stack([points, depth]))
    return HeadPose(rotation, translation, float(scale))


def _affine_pose(model: np.ndarray, points: np.ndarray) -> HeadPose:
    """The least-squares affine projection of `model` (N, 3) onto `points` (N, 2), made the
    nearest scaled rotation (its 2x3 matrix's singular values averaged into one scale)."""
    centre, middle = model.mean(axis=0), points.mean(axis=0)
    affine = np.linalg.lstsq(model - centre, points - middle, rcond=None)[0].T  # (2, 3): points ~ affine @ model
    u, singular, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    scale = float(singular.mean())
    return HeadPose(rotation, np.append(middle - scale * rotation[:2] @ centre, 0.0), scale)


def _openings_of(shape: np.ndarray, points: np.ndarray, pose: HeadPose) -> np.ndarray:
    """`shape` (478, 3, head frame) with its lid and inner-lip gaps set to those of the 68
    `points` under `pose`: the rig's fit leaves a blink a little open and closed lips a
    little apart."""
    down = pose.scale * pose.rotation[:2, 1]  # image pixels per head-frame unit of y
    to_head = down / float(down @ down)

    def gap(pairs: np.ndarray) -> np.ndarray:
        return np.maximum((points[pairs[:, 1]] - points[pairs[:, 0]]) @ to_head, 0.0)

    def model_gap(mesh: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        m68 = T.landmarks68(mesh)
        return m68[pairs[:, 1], 1] - m68[pairs[:, 0], 1]

    eyes = np.array([gap(pairs).mean() for pairs in EYE_PAIRS68])
    rest = template().shape
    eyes *= regions.eye_gaps(rest).mean(1) / np.array([model_gap(rest, pairs).mean() for pairs in EYE_PAIRS68])
    lips = regions.mouth_gap(shape) + gap(LIP_PAIRS68).mean() - model_gap(shape, LIP_PAIRS68).mean()
    return regions.set_openings(shape, eyes, lips)
