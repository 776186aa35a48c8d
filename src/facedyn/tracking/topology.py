"""Index constants of MediaPipe's 478-point face mesh (468 face points + 2 x 5 iris points).

"Left" and "right" are the person's own: the person's right eye appears on the image's left.
Contours are ordered; eyelids and lips run from one corner to the other.
"""

from functools import lru_cache

import numpy as np

N_VERTICES = 478

FACE_OVAL = np.array([
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
])

RIGHT_EYE_UPPER = np.array([33, 246, 161, 160, 159, 158, 157, 173, 133])
RIGHT_EYE_LOWER = np.array([33, 7, 163, 144, 145, 153, 154, 155, 133])
LEFT_EYE_UPPER = np.array([263, 466, 388, 387, 386, 385, 384, 398, 362])
LEFT_EYE_LOWER = np.array([263, 249, 390, 373, 374, 380, 381, 382, 362])

# The mesh ring just above each upper-lid contour, point for point (inner to outer as
# RIGHT_EYE_UPPER[1:-1]): the lash band of the lid lies between the two.
RIGHT_LASH_RING = np.array([247, 30, 29, 27, 28, 56, 190])
LEFT_LASH_RING = np.array([467, 260, 259, 257, 258, 286, 414])

RIGHT_IRIS = np.array([468, 469, 470, 471, 472])  # centre first
LEFT_IRIS = np.array([473, 474, 475, 476, 477])

RIGHT_BROW = np.array([46, 53, 52, 65, 55, 70, 63, 105, 66, 107])
LEFT_BROW = np.array([276, 283, 282, 295, 285, 300, 293, 334, 296, 336])

LIPS_OUTER_UPPER = np.array([61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291])
LIPS_OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291])
LIPS_INNER_UPPER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308])
LIPS_INNER_LOWER = np.array([78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308])
# Each lip's rings of vertices from its inner contour out to its outer one, corner to corner:
# column i of every ring lies across the lip from LIPS_INNER_*[i].
LIPS_UPPER_RINGS = np.array([LIPS_INNER_UPPER, [62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292],
                             [76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306], LIPS_OUTER_UPPER])
LIPS_LOWER_RINGS = np.array([LIPS_INNER_LOWER, [62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292],
                             [76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306], LIPS_OUTER_LOWER])

# The 68 points of the iBUG 300-W / dlib layout on the mesh: each is the mean of two mesh
# vertices (one vertex twice where it fits alone). 0-16 jaw from the person's right ear to
# the left, 17-21 right brow and 22-26 left brow (outer to outer), 27-30 nose bridge, 31-35
# nostrils, 36-41 right eye and 42-47 left eye (outer corner first, clockwise in the image),
# 48-59 outer lips and 60-67 inner lips (from the right corner). Chosen against dlib's
# predictor on video frames; on 23 held-out photos the mean distance to dlib's points is
# 0.15 of the eye distance, about dlib's own scatter on paintings and turned faces.
LANDMARKS68 = np.array([
    [127, 127], [234, 234], [93, 177], [132, 58], [58, 172], [136, 136], [149, 150], [148, 176], [152, 152],  # jaw
    [377, 400], [378, 379], [365, 365], [397, 288], [288, 361], [323, 361], [454, 454], [356, 356],
    [70, 46], [63, 53], [105, 52], [66, 65], [107, 55], [336, 285], [296, 295], [334, 282], [293, 283],  # brows
    [300, 276],
    [193, 417], [197, 6], [5, 195], [4, 4], [75, 75], [97, 97], [2, 2], [326, 326], [305, 305],  # nose
    [33, 33], [159, 160], [158, 159], [133, 133], [153, 153], [144, 144], [362, 362], [385, 386], [386, 387],  # eyes
    [263, 263], [373, 373], [380, 380],
    [61, 61], [39, 40], [37, 37], [0, 0], [267, 267], [269, 270], [291, 291], [321, 405], [314, 314],  # outer lips
    [17, 17], [84, 84], [91, 181],
    [78, 78], [81, 82], [13, 13], [311, 312], [308, 308], [317, 402], [14, 14], [87, 178],  # inner lips
])


def landmarks68(points: np.ndarray) -> np.ndarray:
    """The 68-point layout read off mesh landmarks: (..., 478, D) -> (..., 68, D)."""
    if points.shape[-2] != N_VERTICES:
        raise ValueError(f"expected (..., 478, D) landmarks, got {points.shape}")
    return (points[..., LANDMARKS68[:, 0], :] + points[..., LANDMARKS68[:, 1], :]) / 2


NOSE_TIP = 1
FOREHEAD = 10
CHIN = 152


def closed_loop(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """A polygon from two corner-to-corner contours: upper forwards, lower backwards."""
    return np.concatenate([upper, lower[-2:0:-1]])


RIGHT_EYE_LOOP = closed_loop(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)
LEFT_EYE_LOOP = closed_loop(LEFT_EYE_UPPER, LEFT_EYE_LOWER)
MOUTH_INNER_LOOP = closed_loop(LIPS_INNER_UPPER, LIPS_INNER_LOWER)

# Vertical lid pairs (upper, lower) without the corners: their gap is the eye opening.
RIGHT_EYE_PAIRS = np.stack([RIGHT_EYE_UPPER[1:-1], RIGHT_EYE_LOWER[1:-1]], axis=1)
LEFT_EYE_PAIRS = np.stack([LEFT_EYE_UPPER[1:-1], LEFT_EYE_LOWER[1:-1]], axis=1)
MOUTH_PAIRS = np.stack([LIPS_INNER_UPPER[1:-1], LIPS_INNER_LOWER[1:-1]], axis=1)


def eye_opening(points: np.ndarray) -> np.ndarray:
    """Eye opening: mean lid gap over eye width, per eye.

    Args:
        points: (..., 478, 2 or 3) landmarks, any units, y pointing down.

    Returns:
        (..., 2) float, [right eye, left eye]; about 0.25-0.35 open, under 0.1 closed.
    """
    out = []
    for pairs, upper in ((RIGHT_EYE_PAIRS, RIGHT_EYE_UPPER), (LEFT_EYE_PAIRS, LEFT_EYE_UPPER)):
        gap = np.linalg.norm(points[..., pairs[:, 0], :2] - points[..., pairs[:, 1], :2], axis=-1)
        width = np.linalg.norm(points[..., upper[0], :2] - points[..., upper[-1], :2], axis=-1)
        out.append(gap.mean(axis=-1) / np.maximum(width, 1e-9))
    return np.stack(out, axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Mouth opening: inner-lip gap at the centre over mouth width.

    Args:
        points: (..., 478, 2 or 3) landmarks, any units.

    Returns:
        (...,) float; near 0 closed, about 0.5 wide open.
    """
    gap = np.linalg.norm(points[..., 13, :2] - points[..., 14, :2], axis=-1)
    width = np.linalg.norm(points[..., 61, :2] - points[..., 291, :2], axis=-1)
    return gap / np.maximum(width, 1e-9)


def face_size(points: np.ndarray) -> np.ndarray:
    """Face size in the landmarks' units: the larger side of the 2D face-oval box. (..., 478, 2+) -> (...)"""
    oval = points[..., FACE_OVAL, :2]
    extent = oval.max(axis=-2) - oval.min(axis=-2)
    return extent.max(axis=-1)


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """(T, 3) int triangles of MediaPipe's face-mesh surface (eyes and mouth are holes),
    recovered as the 3-cycles of its tessellation edges."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in FACEMESH_TESSELATION for c in neighbours[a] & neighbours[b]}
    return np.array(sorted(tris), dtype=np.int64)
