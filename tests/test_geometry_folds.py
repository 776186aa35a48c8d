import numpy as np

from facedyn.drivers.parametric import neutral_dynamics, shared_rig
from facedyn.geometry.folds import OPENINGS, Unfolder, folded, unfold
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


def test_skin_beside_a_pinned_lip_makes_way():
    """The renderer pins the lid and lip contours; a contour moved past the skin next to it
    leaves triangles with two pinned corners, whose free corner neighbour averaging cannot
    carry across (the unfold before this left 8 of 14 folded)."""
    rest = _rest()
    raised = rest.copy()
    raised[[80, 81, 82, 13, 312, 311, 310], 1] -= 0.02  # the inner upper lip, up into the lip's skin
    assert folded(raised, rest).sum() == 14
    fixed = unfold(raised, rest, pinned=OPENINGS)
    assert not folded(fixed, rest).any()
    assert np.array_equal(fixed[OPENINGS], raised[OPENINGS])


def test_one_unfolder_for_many_shapes_matches_unfold_of_each():
    """The renderer and the drivers keep one Unfolder per rest mesh; what it keeps between
    calls (rest areas, the pinned edges built at the first fold) must not change a result."""
    rest = _rest()
    rig = shared_rig()
    raised = rest.copy()
    raised[[80, 81, 82, 13, 312, 311, 310], 1] -= 0.02
    shapes = [rest + rig.apply(expression_vector("smile", 0.3)), raised,
              rest + rig.apply(expression_vector("surprise", 1.5)), raised + 0.001]
    unfolder = Unfolder(rest, pinned=OPENINGS)
    for shape in shapes + shapes[::-1]:
        assert np.array_equal(unfolder(shape), unfold(shape, rest, pinned=OPENINGS))
