"""Soft face regions and the eyelid / jaw moves used to set eye and mouth opening.

All functions work on meshes in the pose-free head frame (478, 3), y pointing down.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

from facedyn.geometry.folds import unfold
from facedyn.geometry.pose import template
from facedyn.tracking import topology as T

EYELIDS = np.concatenate([T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP])
EYES = np.concatenate([EYELIDS, T.RIGHT_IRIS, T.LEFT_IRIS])
BROWS = np.concatenate([T.RIGHT_BROW, T.LEFT_BROW])
MOUTH = np.unique(np.concatenate([T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER, T.LIPS_INNER_UPPER, T.LIPS_INNER_LOWER]))


def membership(shape: np.ndarray, region: np.ndarray, radius: float = 0.06) -> np.ndarray:
    """(478,) weight in 0..1 of each vertex in a region: 1 on it, falling off smoothly with
    2D head-frame distance (`radius` in face heights)."""
    d = np.linalg.norm(shape[:, None, :2] - shape[None, region, :2], axis=-1).min(axis=1)
    return np.exp(-((d / radius) ** 2))


def eye_gaps(shape: np.ndarray) -> np.ndarray:
    """(2, 7) vertical lid gaps (lower y - upper y) per eye [right, left] and lid pair."""
    return np.stack([shape[p[:, 1], 1] - shape[p[:, 0], 1] for p in (T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)])


def set_eye_gaps(shape: np.ndarray, gaps: np.ndarray, upper_share: float = 0.8) -> np.ndarray:
    """Move the lids so each lid pair's vertical gap becomes `gaps` (2, 7); returns a new mesh.

    The upper lid takes `upper_share` of the move, as in a real blink.
    """
    out = shape.copy()
    change = eye_gaps(shape) - gaps
    for k, pairs in enumerate((T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)):
        out[pairs[:, 0], 1] += upper_share * change[k]
        out[pairs[:, 1], 1] -= (1 - upper_share) * change[k]
    return out


def eye_widths(shape: np.ndarray) -> np.ndarray:
    """(2,) corner-to-corner widths of the eyes [right, left]."""
    return np.array([np.linalg.norm(shape[u[0], :2] - shape[u[-1], :2]) for u in (T.RIGHT_EYE_UPPER, T.LEFT_EYE_UPPER)])


def open_eyes(shape: np.ndarray, least: float) -> np.ndarray:
    """The face with each eye at least `least` open (mean lid gap over eye width), for a
    driver's reference caught mid-blink or squinting: its lid gaps are raised to at least an
    open eye's shape (the template's profile across the eye), the upper lid taking 80% of the
    move, the lid skin around following. Returns `shape` itself when both eyes are open.

    Args:
        shape: (478, 3) pose-free mesh (head frame, y down).
    """
    gaps, widths = eye_gaps(shape), eye_widths(shape)
    profile = eye_gaps(_template_shape()).mean(0)
    profile = profile / profile.mean()
    want = np.maximum(gaps, least * widths[:, None] * profile[None, :])
    if np.allclose(want, gaps):
        return shape
    out = shape.copy()
    for k, pairs in enumerate((T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS)):
        change = want[k] - gaps[k]
        for lid, share in ((pairs[:, 0], -0.8), (pairs[:, 1], 0.2)):
            order = np.argsort(shape[lid, 0])
            along = np.interp(shape[:, 0], shape[lid[order], 0], change[order], left=0.0, right=0.0)
            near = membership(shape, lid, radius=0.02)
            side = shape[:, 1] <= shape[lid, 1].max() if share < 0 else shape[:, 1] >= shape[lid, 1].min()
            out[:, 1] += share * along * near * side
    lids = np.concatenate([T.RIGHT_EYE_PAIRS.ravel(), T.LEFT_EYE_PAIRS.ravel()])
    out[lids, 1] = set_eye_gaps(shape, want)[lids, 1]  # exactly on the contours
    return out


@lru_cache(maxsize=1)
def _template_shape() -> np.ndarray:
    return template().shape


def jaw_weights(shape: np.ndarray) -> np.ndarray:
    """(478,) how much each vertex follows the jaw when the mouth opens: 1 on the lower lip
    and chin, 0 above the mouth corners, fading to the sides."""
    mouth_y = shape[[61, 291], 1].mean()
    chin_y = shape[T.CHIN, 1]
    below = np.clip((shape[:, 1] - mouth_y) / (0.25 * (chin_y - mouth_y)), 0, 1)
    half_width = 0.9 * np.abs(shape[T.FACE_OVAL, 0] - shape[T.NOSE_TIP, 0]).max()
    side = np.clip(1.2 - np.abs(shape[:, 0] - shape[T.NOSE_TIP, 0]) / half_width, 0, 1)
    w = below * side
    w[T.LIPS_INNER_UPPER[1:-1]] = 0.0
    w[T.LIPS_INNER_LOWER[1:-1]] = 1.0
    return w


def mouth_gap(shape: np.ndarray) -> float:
    """Vertical inner-lip gap at the centre (lower lip y - upper lip y)."""
    return float(shape[14, 1] - shape[13, 1])


def open_jaw(shape: np.ndarray, amount: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Lower the jaw by `amount` head-frame units (negative closes); returns a new mesh."""
    w = jaw_weights(shape) if weights is None else weights
    out = shape.copy()
    out[:, 1] += amount * w
    out[:, 2] += 0.3 * amount * w  # the chin swings back a little as it drops
    return out


def face_extent(shape: np.ndarray) -> np.ndarray:
    """(2,) width and height of the face oval's bounding box, in `shape`'s units."""
    oval = shape[T.FACE_OVAL, :2]
    return oval.max(axis=0) - oval.min(axis=0)


MOUTH_CORNERS = (61, 291)  # the outer lip corners, [right, left]


def mouth_width(shape: np.ndarray) -> float:
    """Distance between the outer lip corners in the image plane (x, y)."""
    return float(np.linalg.norm(shape[MOUTH_CORNERS[1], :2] - shape[MOUTH_CORNERS[0], :2]))


def set_mouth_width(shape: np.ndarray, width: float) -> np.ndarray:
    """The face with its mouth stretched or narrowed sideways to corner distance `width`:
    the lips scale in x about the mouth's centre, the skin around them following (the
    corners land exactly); returns a new mesh. `shape`: (478, 3) pose-free mesh."""
    now = mouth_width(shape)
    if now <= 1e-9:
        return shape.copy()
    centre = shape[list(MOUTH_CORNERS), 0].mean()
    follow = membership(shape, MOUTH, radius=0.04)
    out = shape.copy()
    out[:, 0] = centre + (shape[:, 0] - centre) * (1.0 + (width / now - 1.0) * follow)
    return out


def set_openings(shape: np.ndarray, eyes: np.ndarray, lips: float) -> np.ndarray:
    """The face with each eye's mean lid gap set to `eyes` (2,) [right, left] (the lids take
    the template's profile of gaps across the eye) and the inner-lip gap at the centre set to
    `lips` (the jaw opens, or the lips close with the jaw kept); returns a new mesh.

    Args:
        shape: (478, 3) pose-free mesh (head frame, y down).
        eyes: (2,) mean lid gaps, head-frame units, >= 0.
        lips: inner-lip gap at the centre, head-frame units.
    """
    profile = eye_gaps(_template_shape())
    shape = set_eye_gaps(shape, profile * (np.asarray(eyes, np.float64) / profile.mean(1))[:, None])
    change = lips - mouth_gap(shape)
    return open_jaw(shape, change) if change > 0 else close_lips(shape, -change)


def close_lips(shape: np.ndarray, amount: float) -> np.ndarray:
    """Bring the lips together by `amount` head-frame units at the centre (the jaw stays):
    every inner-lip pair's gap shrinks in proportion, the upper and lower lip each moving half,
    with the lips' thickness following and the skin beyond them a little; returns a new mesh."""
    gap = mouth_gap(shape)
    if amount <= 0 or gap <= 0:
        return shape.copy()
    share = min(amount / gap, 1.0)
    pairs = T.MOUTH_PAIRS
    close = share * (shape[pairs[:, 1], 1] - shape[pairs[:, 0], 1])  # (9,) per pair
    xs = shape[pairs[:, 0], 0]
    order = np.argsort(xs)
    along = np.interp(shape[:, 0], xs[order], close[order], left=0.0, right=0.0)  # closure under each vertex
    middle = (shape[pairs[:, 0], 1] + shape[pairs[:, 1], 1])[order] / 2
    above = shape[:, 1] < np.interp(shape[:, 0], xs[order], middle)  # the upper lip's side of the mouth
    upper = membership(shape, T.LIPS_INNER_UPPER, radius=0.03) * above
    lower = membership(shape, T.LIPS_INNER_LOWER, radius=0.03) * ~above
    out = shape.copy()
    out[:, 1] += 0.5 * along * (upper - lower)
    out[pairs[:, 0], 1] = shape[pairs[:, 0], 1] + 0.5 * close  # exactly on the contours
    out[pairs[:, 1], 1] = shape[pairs[:, 1], 1] - 0.5 * close
    return out


JAW_SPREAD = 0.08  # face heights above the mouth corners over which a closing jaw's move spreads
LIP_REACH = 0.07  # face heights: how far lips stretch to close over teeth; the jaw does the rest


def close_mouth(shape: np.ndarray) -> np.ndarray:
    """The face with its mouth closed, for a photo whose mouth is open (done once per photo;
    the animation then opens it as far as the driver's). Returns `shape` itself when the
    mouth is closed already.

    Where each pair of inner-lip points meets: at the centre the lips close up to LIP_REACH
    between them (lips stretch over teeth) and the jaw rises by the rest, so they meet near
    the upper lip; towards the corners they meet halfway, so the closed line runs through the
    corners. The vertical move of the whole lower face is then one harmonic field on the mesh
    surface (each free vertex the mean of its neighbours): zero on the upper face down to a
    little above the corners and at the inner corners, each contour point's own move at the
    upper lip's inner edge and across the whole lower lip, the jaw's rise on the chin block
    (the lower 40% between lower lip and chin); closed lips touch in depth too. Raising
    the jaw with `jaw_weights` instead turns the skin over beside the corners once an "O"
    closes by more than the weights' ramp. Folds are then smoothed out with the lip contours,
    the chin and the upper face held; slivers at the corners of a wide "O" may stay turned (a
    few pixels).

    Args:
        shape: (478, 3) pose-free mesh (head frame, y down).
    """
    gap = mouth_gap(shape)
    if gap <= 0.005:
        return shape
    upper, lower = T.MOUTH_PAIRS[:, 0], T.MOUTH_PAIRS[:, 1]
    gaps = np.maximum(shape[lower, 1] - shape[upper, 1], 0.0)
    centre = shape[[78, 308], 0].mean()
    half_width = max(float(np.ptp(shape[[78, 308], 0])) / 2, 1e-6)
    towards_corner = np.clip(np.abs(shape[upper, 0] - centre) / half_width, 0, 1) ** 2
    upper_share = 0.5 * min(gap, LIP_REACH) / gap
    upper_share = upper_share + (0.5 - upper_share) * towards_corner
    chin, held = _chin_block(shape), _held_when_closing(shape)
    jaw = max(gap - LIP_REACH, 0.0)
    lower_move = (1 - upper_share) * gaps
    # The lower lip rises as a whole with its inner edge, column by column across it: stretched
    # (it moves most), its dark inner rim smears into a band that reads as parted lips, and a
    # free outer edge sags towards the still corners and folds the lip over. The upper lip,
    # moving less, stretches (held whole too, it folds at the corners).
    upper_lip, lower_lip = T.LIPS_UPPER_RINGS[:, 1:-1], T.LIPS_LOWER_RINGS[:, 1:-1]
    move = _harmonic(shape, held, {
        "upper lip": (upper_lip[0], -upper_share * gaps),  # the field is the upward move
        "lower lip": (lower_lip.ravel(), np.tile(lower_move, 4)),
        "chin": (chin, jaw),
    })
    closed = shape.copy()
    closed[:, 1] -= move
    closed[:, 2] -= 0.3 * np.maximum(move, 0.0)  # the chin swings forward as it rises (open_jaw's reverse)
    closed[T.MOUTH_PAIRS, 2] = closed[T.MOUTH_PAIRS, 2].mean(1, keepdims=True)  # closed lips touch in depth too
    return unfold(closed, shape, 60, pinned=np.concatenate([upper_lip[0], lower_lip.ravel(), chin, held]))


def _chin_block(shape: np.ndarray) -> np.ndarray:
    """Face vertices in the lower 40% between the lower lip and the chin: they move with the jaw."""
    lip_y, chin_y = shape[14, 1], shape[T.CHIN, 1]
    return np.flatnonzero(shape[:468, 1] >= lip_y + 0.6 * (chin_y - lip_y))


def _held_when_closing(shape: np.ndarray) -> np.ndarray:
    """Vertices a closing mouth leaves in place: the upper face down to JAW_SPREAD above the
    mouth corners, and the inner corners."""
    held = shape[:, 1] <= shape[[61, 291], 1].min() - JAW_SPREAD
    held[[78, 308]] = True
    held[T.MOUTH_PAIRS.ravel()] = False
    return np.flatnonzero(held)


def _harmonic(shape: np.ndarray, zero: np.ndarray, values: dict) -> np.ndarray:
    """(478,) a scalar field on the mesh surface: 0 at `zero`, the given values at the given
    vertices ({name: (indices, values)}), and every other vertex the mean of its neighbours."""
    n = T.N_VERTICES
    field = np.zeros(n)
    known = np.zeros(n, bool)
    known[zero] = True
    for index, value in values.values():
        field[index] = value
        known[index] = True
    known[468:] = True  # the irises are not on the surface
    tris = T.face_triangles()
    edges = np.unique(np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1), axis=0)
    i, j = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    degree = np.bincount(i, minlength=n).astype(np.float64)
    adjacency = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    laplacian = (adjacency - coo_matrix((degree, (np.arange(n),) * 2), shape=(n, n))).tocsr()
    free = np.flatnonzero(~known)
    field[free] = splu(laplacian[free][:, free].tocsc()).solve(-(laplacian[free][:, known] @ field[known]))
    return field
