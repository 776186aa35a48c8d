"""Shared fixtures: the real test media and one Animator for the session."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from facedyn import Animator
from facedyn.eval.ratedistortion import ordinary_scheduling
from facedyn.io import VideoWriter

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))


@pytest.fixture(autouse=True)
def _no_real_time_threads():
    """A test that leaves a thread of this process on another scheduling policy than it
    started with fails: a busy real-time thread can starve everything else, test alarms
    included (SVT-AV1 run as root did this, and a later browser test hung CI). The threads
    are put back first (eval.ratedistortion.ordinary_scheduling)."""
    with ordinary_scheduling() as restore:
        yield
        moved = restore()
    assert not moved, f"threads {moved} were left on another scheduling policy (real-time?)"


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not (TESTDATA / "images").is_dir():
        pytest.fail(f"test media not found at {TESTDATA}; set FACEDYN_TESTDATA")
    return TESTDATA


@pytest.fixture(scope="session")
def image_path(testdata):
    return lambda name: testdata / "images" / f"{name}.jpg"


@pytest.fixture(scope="session")
def video_path(testdata):
    return lambda name: testdata / "videos" / f"{name}.mp4"


@pytest.fixture(scope="session")
def animator():
    with Animator() as anim:
        yield anim


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    with VideoWriter(path, Fraction(fps)) as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.fixture
def faceless_video(tmp_path) -> Path:
    """A real, decodable video with no face in it (smooth colour gradients)."""
    x = np.linspace(0, 255, 128, dtype=np.float32)
    frames = [np.stack(np.meshgrid(x, x) + [np.full((128, 128), 10.0 * i)], -1).astype(np.uint8) for i in range(10)]
    return write_video(tmp_path / "noface.mp4", frames)
