import numpy as np

from facedyn.drivers.parametric import neutral_dynamics, shared_rig
from facedyn.render.shading import FoldShader
from facedyn.rig.expressions import expression_vector

SKIN = np.array([225.0, 185.0, 165.0])


def _frame_and_points(shape, size=400):
    points = shape[:, :2] * size * 0.8 + size / 2
    return np.full((size, size, 3), 200, np.uint8), points


def test_lowered_brows_darken_between_them_and_nothing_else_changes_at_rest():
    rest = neutral_dynamics().shape.astype(np.float64)
    shader = FoldShader(rest, SKIN)
    frame, points = _frame_and_points(rest)
    still = frame.copy()
    shader.shade(still, points, rest, 320)
    np.testing.assert_array_equal(still, frame)  # nothing compressed, nothing drawn

    angry = rest + shared_rig().apply(expression_vector("angry"))
    frame, points = _frame_and_points(angry)
    shader.shade(frame, points, angry, 320)
    x, y = np.round(points[28]).astype(int)  # under the lowered brow
    assert frame[y, x, 1] < 190
    assert frame[y, x, 0] > frame[y, x, 1]  # a warm shadow, not grey
    x, y = np.round(points[10]).astype(int)  # top of the forehead: never shaded
    assert frame[y, x, 1] == 200


def test_strength_zero_is_off():
    rest = neutral_dynamics().shape.astype(np.float64)
    angry = rest + shared_rig().apply(expression_vector("angry"))
    frame, points = _frame_and_points(angry)
    before = frame.copy()
    FoldShader(rest, SKIN, strength=0.0).shade(frame, points, angry, 320)
    np.testing.assert_array_equal(frame, before)


def test_a_grey_photo_gets_a_grey_shadow():
    rest = neutral_dynamics().shape.astype(np.float64)
    angry = rest + shared_rig().apply(expression_vector("angry"))
    frame, points = _frame_and_points(angry)
    FoldShader(rest, np.array([150.0, 150.0, 150.0])).shade(frame, points, angry, 320)
    x, y = np.round(points[28]).astype(int)
    assert frame[y, x, 1] < 190 and frame[y, x, 0] == frame[y, x, 1] == frame[y, x, 2]
