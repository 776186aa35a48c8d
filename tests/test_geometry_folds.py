import numpy as np

from facedyn.drivers.parametric import neutral_dynamics, shared_rig
from facedyn.geometry.folds import folded, unfold
from facedyn.rig.expressions import expression_vector


def _rest():
    return neutral_dynamics().shape.astype(np.float64)


def test_fold_free_shape_comes_back_unchanged():
    rest = _rest()
    smile = rest + shared_rig().apply(expression_vector("smile", 0.3))
    assert not folded(smile, rest).any()
    assert unfold(smile, rest) is smile  # callers skip their own work when nothing changed


def test_a_brow_pushed_through_the_forehead_is_unfolded_locally():
    rest = _rest()
    pushed = rest.copy()
    pushed[[66, 105, 107], 1] -= 0.12  # inner right brow far above the skin over it
    assert folded(pushed, rest).sum() > 0
    fixed = unfold(pushed, rest)
    assert not folded(fixed, rest).any()
    moved = np.linalg.norm(fixed - pushed, axis=1) > 1e-6
    assert moved.sum() < 60  # a local repair, not a smoothed face
    assert fixed[66, 1] < rest[66, 1] - 0.03  # the brow still goes up


def test_strong_expressions_render_without_folds():
    rest = _rest()
    rig = shared_rig()
    for label in ("surprise", "angry", "sad", "laugh"):
        shape = rest + rig.apply(expression_vector(label, 1.5))
        assert not folded(unfold(shape, rest), rest).any(), label
