import numpy as np
import pytest

from facedyn.drivers.parametric import neutral_dynamics, shared_rig
from facedyn.geometry.folds import OPENINGS, unfold
from facedyn.render.renderer import RenderConfig, Renderer
from facedyn.render.shading import FoldShader
from facedyn.rig.expressions import expression_vector
from facedyn.tracking import topology as T

SKIN = np.array([225.0, 185.0, 165.0])
SIZE = 400


def _pixels(shape):
    return shape[:, :2] * SIZE * 0.8 + SIZE / 2


def _identity_warp():
    """Each pixel shows the source pixel under it (creases are laid out on the source)."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return np.dstack([xs, ys])


def _shaded(label, skin=SKIN, strength=1.0):
    rest = neutral_dynamics().shape.astype(np.float64)
    target = rest + shared_rig().apply(expression_vector(label))
    frame = np.full((SIZE, SIZE, 3), 200, np.uint8)
    FoldShader(rest, _pixels(rest), skin, strength).shade(frame, _pixels(target), target, 320, _identity_warp())
    return frame, _pixels(target)


def _local_minima(profile):
    inner = profile[1:-1]
    return int(np.sum((inner < profile[:-2]) & (inner <= profile[2:]) & (inner < 196)))


def test_nothing_is_drawn_at_rest():
    rest = neutral_dynamics().shape.astype(np.float64)
    frame = np.full((SIZE, SIZE, 3), 200, np.uint8)
    FoldShader(rest, _pixels(rest), SKIN).shade(frame, _pixels(rest), rest, 320, _identity_warp())
    assert (frame == 200).all()


def test_lowered_brows_darken_under_them_warmly_and_leave_the_forehead_top():
    frame, points = _shaded("angry")
    x, y = np.round(points[28]).astype(int)  # under the lowered brow
    assert frame[y, x, 1] < 190
    assert frame[y, x, 0] > frame[y, x, 1]  # a warm shadow, not grey
    x, y = np.round(points[10]).astype(int)  # top of the forehead: stretched, not squeezed
    assert frame[y, x, 1] == 200


def _gradients(patch):
    """Summed absolute change of a (h, w) patch down its columns and along its rows."""
    patch = patch.astype(float)
    return np.abs(np.diff(patch, axis=0)).sum(), np.abs(np.diff(patch, axis=1)).sum()


def test_raised_brows_line_the_forehead_across():
    frame, points = _shaded("surprise")
    x = int(round(points[334, 0]))  # above the middle of the left brow
    top, bottom = int(points[10, 1]), int(points[334, 1]) - 3
    column = frame[top:bottom, x, 1].astype(int)
    assert _local_minima(column) >= 2  # separate creases, not one even shadow
    assert column.max() >= 198  # skin between them keeps its brightness
    down, along = _gradients(frame[top:bottom, x - 8: x + 9, 1])
    assert down > 1.3 * along  # the lines run across the forehead


def test_drawn_brows_line_the_glabella_upright():
    frame, points = _shaded("angry")
    y = int(round(points[9, 1]))
    left, right = np.round(points[[55, 285], 0]).astype(int)
    assert _local_minima(frame[y, left:right, 1].astype(int)) >= 2  # a crease either side of the midline
    down, along = _gradients(frame[y - 6: y + 7, left:right, 1])
    assert along > 1.3 * down  # the lines run up and down (in a V, as the brows draw in)


def test_strength_zero_is_off():
    frame, _ = _shaded("angry", strength=0.0)
    assert (frame == 200).all()


def test_a_grey_photo_gets_a_grey_shadow():
    frame, points = _shaded("angry", skin=np.array([150.0, 150.0, 150.0]))
    x, y = np.round(points[28]).astype(int)
    assert frame[y, x, 1] < 190 and frame[y, x, 0] == frame[y, x, 1] == frame[y, x, 2]


def test_a_turned_head_is_not_squeezed():
    """Compression is measured on 3D areas: turning the head foreshortens the side of the
    nose in the front view, and that must not read as a fold."""
    rest = neutral_dynamics().shape.astype(np.float64)
    a = np.radians(10)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    shader = FoldShader(rest, _pixels(rest), SKIN)
    assert shader.compression(rest @ turn.T).max() == 0


@pytest.fixture(scope="module")
def renderer(animator, image_path):
    source = animator.load_source(image_path("woman_frontal_neutral"))
    return Renderer(source.layers, RenderConfig(paste_back=False))


def test_renderer_unfolds_a_target_before_drawing(renderer):
    layers = renderer.layers
    rest = layers.pose.to_head_frame(layers.landmarks)
    head = rest.copy()
    head[T.LEFT_BROW, 1] += 0.12  # the brow pushed through the eye: triangles turn over
    target = layers.pose.to_image(head)
    repaired = layers.pose.to_image(unfold(head, rest, pinned=OPENINGS))
    assert not np.allclose(repaired, target)
    np.testing.assert_array_equal(renderer.render(target, layers.pose), renderer.render(repaired, layers.pose))
