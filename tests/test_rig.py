"""The blendshape rig, the expression library and envelopes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from facedyn.errors import InputError
from facedyn.geometry.pose import template
from facedyn.rig import BLENDSHAPES, Rig
from facedyn.rig.expressions import EXPRESSIONS, POSED_MAX, envelope, expression_vector, parse_timeline, timeline_coefficients
from facedyn.tracking import topology as T

ANTAGONISTS = [("eyeLookUpLeft", "eyeLookDownLeft"), ("eyeLookUpRight", "eyeLookDownRight"),
               ("eyeLookInLeft", "eyeLookOutLeft"), ("eyeLookInRight", "eyeLookOutRight"),
               ("jawLeft", "jawRight"), ("mouthLeft", "mouthRight")]


@pytest.fixture(scope="module")
def rig():
    return Rig()


def test_52_arkit_names_each_moving_the_mesh(rig):
    assert len(BLENDSHAPES) == len(set(BLENDSHAPES)) == 52
    assert {"eyeBlinkLeft", "eyeWideRight", "jawOpen", "mouthSmileLeft", "mouthFunnel", "browInnerUp",
            "cheekSquintLeft", "noseSneerRight", "tongueOut"} <= set(BLENDSHAPES)
    assert rig.basis.shape == (52, 478, 3)
    assert (np.abs(rig.basis).max(axis=(1, 2)) > 0.005).all()  # every shape moves something


def test_shapes_move_the_right_parts(rig):
    s = template().shape
    blink = rig.apply({"eyeBlinkLeft": 1.0})
    closed = s + blink
    left_gap = closed[T.LEFT_EYE_PAIRS[:, 1], 1] - closed[T.LEFT_EYE_PAIRS[:, 0], 1]
    assert np.abs(left_gap).max() < 1e-6  # the left eye closes fully
    assert np.abs(blink[T.RIGHT_EYE_LOOP]).max() < 1e-6  # the right eye does not move
    jaw = rig.apply({"jawOpen": 1.0})
    assert jaw[14, 1] - jaw[13, 1] > 0.1 and abs(jaw[10]).max() < 1e-9  # mouth opens, forehead still
    smile = rig.apply({"mouthSmileLeft": 1.0})
    assert smile[291, 0] > 0.02 and smile[291, 1] < -0.02 and np.abs(smile[61]).max() < 1e-6  # left corner out and up only


def test_round_trip_recovers_coefficients(rig):
    rng = np.random.default_rng(0)
    c = np.clip(rng.uniform(-0.6, 1.0, (40, 52)), 0, 1)
    for a, b in ANTAGONISTS:  # exact opposites: only one of a pair can be told apart
        ia, ib = BLENDSHAPES.index(a), BLENDSHAPES.index(b)
        first = rng.random(40) < 0.5
        c[first, ib] = 0
        c[~first, ia] = 0
    solved = rig.solve(rig.apply(c))
    assert solved.shape == (40, 52)
    assert np.abs(solved - c).max() < 0.01
    assert rig.solve(rig.apply(c[0])).shape == (52,)


def test_solve_bounds_and_shape_errors(rig):
    big = rig.apply({"jawOpen": 1.0}) * 3 - rig.apply({"eyeBlinkLeft": 1.0})
    c = rig.solve(big)
    assert c.min() >= 0 and c.max() <= 1 and c[BLENDSHAPES.index("jawOpen")] == 1.0
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 478, 3\)"):
        rig.solve(np.zeros((468, 3)))
    with pytest.raises(ValueError, match="unknown blendshape"):
        rig.apply({"jawopen": 1.0})


def test_solve_is_fast(rig):
    offsets = rig.apply(np.random.default_rng(1).uniform(0, 0.5, (200, 52)))
    start = time.perf_counter()
    rig.solve(offsets)
    assert (time.perf_counter() - start) / 200 < 0.01  # loose guard; bench/bench_rig.py measures the target


def test_expression_library_uses_rig_names():
    required = {"neutral", "smile", "laugh", "surprise", "sad", "angry", "disgust", "fear", "contempt",
                "wink-left", "wink-right", "blink", "pucker", "a", "e", "o"}
    assert required <= set(EXPRESSIONS)
    for mix in EXPRESSIONS.values():
        assert set(mix) <= set(BLENDSHAPES)
    smile = EXPRESSIONS["smile"]["mouthSmileLeft"]
    assert expression_vector("smile", 0.5)[BLENDSHAPES.index("mouthSmileLeft")] == pytest.approx(0.5 * smile)
    assert expression_vector("angry", 1.5).max() == POSED_MAX  # posed mixes are capped, not unbounded
    with pytest.raises(InputError, match="unknown expression 'grin'"):
        expression_vector("grin")


def test_envelope_onset_apex_offset():
    t = np.linspace(0, 2, 201)
    w = envelope(t, 0.0, 2.0)
    assert w[0] == 0 and w[-1] == pytest.approx(0, abs=1e-9) and w[100] == 1.0
    assert np.all(np.diff(w[:50]) >= 0) and np.all(np.diff(w[150:]) <= 0)
    held = envelope(t, 0.0, 1.0, returns=False)
    assert held[-1] == 1.0


def test_timeline_parse_and_blend():
    clips = parse_timeline("surprise@0-1.2s, smile:0.6@1.5-3s")
    assert [(c.label, c.intensity, c.start, c.end) for c in clips] == [("surprise", 1.0, 0.0, 1.2), ("smile", 0.6, 1.5, 3.0)]
    c = timeline_coefficients(clips, np.array([0.6, 2.25]))
    np.testing.assert_allclose(c[0], expression_vector("surprise"))  # at the apex, only the surprise
    np.testing.assert_allclose(c[1], expression_vector("smile", 0.6))
    for bad, message in (("smile@2-1s", "ends before"), ("smile 1-2", "item 1"), ("smile@0-1, grin@1-2", "unknown expression")):
        with pytest.raises(InputError, match=message):
            parse_timeline(bad)


def test_the_rig_leaves_other_threads_blas_results_alone():
    """Rig.apply/solve once limited BLAS to one thread per call; that limit is process-wide, so
    a product on another thread (the pipeline's tracker) got 1 or 2 threads by timing, and
    different last bits. Now a concurrent product gives the same bits every time."""
    rig = Rig()
    rng = np.random.default_rng(0)
    c, a, x = rng.random(52), rng.standard_normal((52, 1434)), rng.random(52)
    stop = threading.Event()

    def busy_rig() -> None:
        while not stop.is_set():
            rig.solve(rig.apply(c))

    worker = threading.Thread(target=busy_rig)
    worker.start()
    try:
        expected = x @ a
        seen, deadline = set(), time.monotonic() + 2.0
        while time.monotonic() < deadline:
            seen.add((x @ a).tobytes())
    finally:
        stop.set()
        worker.join()
    assert seen == {expected.tobytes()}
