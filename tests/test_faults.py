"""Faults while writing, in real processes: signals, a full disk, two runs racing for one
output, an evaluation without its networks. Every wait here is bounded in time."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facedyn.io import iter_frames, probe_video
from tests import corpus

DRIVER = "woman_expressions_head_motion"  # 300 frames: long enough to be caught mid-write


def _default_sigint() -> None:
    # A suite started in the background by a shell (nohup, &) inherits SIGINT ignored, and
    # Python then installs no Ctrl-C handler; the child should behave as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def facedyn(*args, preexec_fn=None, **kwargs) -> subprocess.Popen:
    """The console entry point (signal handling included) in a child process."""

    def preexec() -> None:
        _default_sigint()
        if preexec_fn is not None:
            preexec_fn()

    return subprocess.Popen([sys.executable, "-m", "facedyn.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec, **kwargs)


def wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("facedyn: error:")]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP),
                                       (signal.SIGINT, 130)])
def test_a_signal_while_writing_leaves_nothing(sig, code, tmp_path, image_path, video_path):
    out = tmp_path / "out.mp4"
    proc = facedyn("animate", image_path("woman_frontal_neutral"), "--driving", video_path(DRIVER), "-o", out)
    try:
        started = wait_for(lambda: any(p.stat().st_size > 0 for p in temp_files(tmp_path)), 120)
        assert started, "the run never started writing"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr[-2000:]
    errors = error_lines(stderr)
    assert len(errors) == 1 and "nothing was written" in errors[0], stderr[-2000:]
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def _limit_file_size(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # SIGXFSZ left at its default: facedyn ignores it
    return preexec


def test_a_full_disk_gives_one_line_and_no_partial_file(tmp_path, image_path, video_path):
    out = tmp_path / "out.mp4"
    proc = facedyn("animate", image_path("woman_frontal_neutral"), "--driving", video_path("woman_glasses_speaking"),
                   "-o", out, preexec_fn=_limit_file_size(64 * 1024))
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr[-2000:]
    errors = error_lines(stderr)
    assert len(errors) == 1 and "cannot write" in errors[0] and "nothing was written" in errors[0], stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_two_runs_writing_one_output_leave_one_valid_video(tmp_path, image_path, video_path):
    out = tmp_path / "out.mp4"
    driver = video_path("woman_glasses_speaking")
    runs = [facedyn("animate", image_path(name), "--driving", driver, "-o", out, "--no-paste-back")
            for name in ("woman_frontal_neutral", "woman_sad")]
    try:
        results = [p.communicate(timeout=300) for p in runs]
    finally:
        for p in runs:
            p.kill()
    assert [p.returncode for p in runs] == [0, 0], [r[1][-1000:] for r in results]
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    assert probe_video(out).frame_count == probe_video(driver).frame_count
    frames = list(iter_frames(out))
    assert len(frames) == probe_video(driver).frame_count and np.ptp(frames[0]) > 0


BLOCK_DLIB = '''
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    """Makes dlib look not installed, in this process and in the workers it spawns."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "dlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


@pytest.fixture
def without_dlib(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_DLIB)
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def test_eval_without_its_networks_says_what_to_install(without_dlib, tmp_path, video_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "a.mp4").symlink_to(video_path("woman_glasses_speaking"))
    proc = facedyn("eval", "self", clips, "-o", tmp_path / "report", "--workers", "2")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr[-2000:]
    errors = error_lines(stderr)
    assert len(errors) == 1 and "dlib" in errors[0] and "pip install" in errors[0], stderr[-2000:]


def test_eval_workers_that_cannot_start_end_in_a_report_not_a_hang(without_dlib, tmp_path, video_path):
    """Past the up-front check (a network lost between check and start), the pool must still end."""
    script = (f"from facedyn.eval import EvalOptions, run_self\n"
              f"from pathlib import Path\n"
              f"results = run_self([Path({str(video_path('woman_glasses_speaking'))!r})], EvalOptions(max_frames=4), 2)\n"
              f"print(results[0].error)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "could not start" in proc.stdout and "dlib" in proc.stdout


def test_eval_on_a_width_not_a_multiple_of_16(tmp_path, testdata):
    """PyAV hands such frames out as strided views; dlib once refused them (no report at all)."""
    from facedyn.eval import EvalOptions, run_self

    frames = [f[:, :250] for f in corpus._face_frames(testdata, 10)]
    clip = corpus.write_clip(tmp_path / "odd.mp4", [np.ascontiguousarray(f) for f in frames])
    (result,) = run_self([clip], EvalOptions(max_frames=10, identity_frames=2, sheet_rows=2))
    assert result.error is None and result.frames == 10
    assert np.isfinite(result.metrics["facedyn"]["akd_dlib"])
