"""How far decoded dynamics put the face from the original: the distortion that rate control
weighs against bits.

The measure poses the rig's neutral face with each frame's head pose and rig coefficients
and averages the 2D distance of its vertices. It stands in for the keypoint distance that
`facedyn eval codec` measures on rendered video, without rendering: cheap enough to try
every stride of a clip. It leaves out the eye and lip openings, which are coded on every
frame whatever the stride.
"""

from __future__ import annotations

import numpy as np

from facedyn.drivers.parametric import COEFFICIENTS, PARAMETERS, neutral_dynamics, shared_rig
from facedyn.geometry.pose import angles_to_rotation


def posed_vertices(values: np.ndarray) -> np.ndarray:
    """The neutral face posed and expressed by each frame.

    Args:
        values: (N, len(PARAMETERS)) float frames in PARAMETERS order.

    Returns:
        (N, 478, 2) float64 vertex positions in face heights (x right, y down), orthographic.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] != len(PARAMETERS):
        raise ValueError(f"expected (N, {len(PARAMETERS)}) values, got {values.shape}")
    neutral = neutral_dynamics().shape.astype(np.float64)
    shapes = neutral + shared_rig().apply(values[:, COEFFICIENTS])
    rotations = np.array([angles_to_rotation(*angles) for angles in values[:, :3]])
    camera = np.einsum("nij,nvj->nvi", rotations, shapes)[..., :2]
    return camera * values[:, 5, None, None] + values[:, None, 3:5]


def mesh_distance(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean vertex distance, in face heights, between the faces of two (N, len(PARAMETERS))
    value arrays of the same frames (0 for identical frames)."""
    if np.shape(original) != np.shape(decoded):
        raise ValueError(f"expected two arrays of one shape, got {np.shape(original)} and {np.shape(decoded)}")
    return float(np.linalg.norm(posed_vertices(original) - posed_vertices(decoded), axis=-1).mean())
