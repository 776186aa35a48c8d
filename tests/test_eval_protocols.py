"""The evaluation protocols, report and CLI, end to end on short real clips."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from facedyn.cli import main
from facedyn.eval import METHODS, EvalOptions, find_media, run_cross, run_self, write_report
from facedyn.eval.metrics import DLIB_SAME_PERSON
from facedyn.eval.protocols import LANDMARK_METHODS

OPTIONS = EvalOptions(max_frames=15, identity_frames=2, sheet_rows=3)


@pytest.fixture(scope="module")
def self_results(video_path):
    return run_self([video_path("man_greenscreen_expressions")], replace(OPTIONS, landmarks68=True))


def test_self_reenactment_facedyn_beats_static(self_results):
    (clip,) = self_results
    assert clip.error is None and clip.frames == 15
    assert set(clip.metrics) == set(METHODS)
    ours, still = clip.metrics["facedyn"], clip.metrics["static"]
    assert ours["akd_mesh"] < still["akd_mesh"] and ours["akd_dlib"] < still["akd_dlib"]
    assert ours["face_ssim"] > still["face_ssim"]
    assert ours["failures"] == 0.0 and ours["id_distance"] < DLIB_SAME_PERSON
    assert still["jitter"] == 0.0  # a still output is measured once, so it has no jitter
    assert [len(clip.samples[c]) for c in ("driver", "facedyn", *LANDMARK_METHODS, "landmark-warp")] == [3] * 5


def test_self_reenactment_from_the_clips_own_68_points(self_results):
    """facedyn driven by the clip's own 68 points (dlib's, the mesh's) follows the real frames
    nearly as well as driven by the video: much closer than a still, eyes in step (the mouth barely moves in these 15 frames).
    dlib's 68 points on these 15 nearly still frames move by sub-pixel changes of the lift
    (a pose fit that improved every 60-frame mean moved this one from 0.69 to 0.72 of the still's),
    so its bound is looser than the mesh's."""
    (clip,) = self_results
    video, still = clip.metrics["facedyn"], clip.metrics["static"]
    for method in LANDMARK_METHODS:
        ours = clip.metrics[method]
        assert ours["akd_mesh"] < 0.7 * still["akd_mesh"] and ours["akd_dlib"] < 0.8 * still["akd_dlib"]
        assert ours["akd_mesh"] < 2 * video["akd_mesh"]
        assert ours["corr_eyes"] > 0.6 and ours["failures"] == 0.0


def test_report_files(self_results, tmp_path):
    md = write_report(tmp_path, {"self": self_results}, {"max_frames": 15})
    data = json.loads((tmp_path / "report.json").read_text())
    summary = data["protocols"]["self"]["summary"]
    assert set(summary) == set(METHODS)
    assert summary["facedyn"]["akd_mesh"]["mean"] == pytest.approx(self_results[0].metrics["facedyn"]["akd_mesh"])
    text = md.read_text()
    for method in METHODS:
        assert f"| {method} |" in text
    sheet = cv2.imread(str(tmp_path / "sheets" / "self" / "man_greenscreen_expressions.png"))
    assert sheet is not None and sheet.shape[0] > 3 * 150
    assert not list(tmp_path.glob("**/.*.tmp"))


def test_cross_reenactment_keeps_identity_and_reports_bad_clips(image_path, video_path, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    results = run_cross([image_path("woman_frontal_neutral")], [video_path("woman_blinks_gaze_squint"), broken], OPTIONS)
    by_name = {r.name: r for r in results}
    bad = by_name["woman_frontal_neutral <- broken"]
    assert bad.error and "broken.mp4" in bad.error
    good = by_name["woman_frontal_neutral <- woman_blinks_gaze_squint"]
    assert good.error is None
    assert good.metrics["static"]["id_distance"] < 0.05
    assert good.metrics["facedyn"]["id_distance"] < DLIB_SAME_PERSON
    assert not set(LANDMARK_METHODS) & set(good.metrics)  # only asked for
    assert np.isfinite(good.metrics["facedyn"]["corr_eyes"])


def test_find_media_spreads_the_limit(tmp_path):
    for name in "abcdef":
        (tmp_path / f"{name}.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.stem for p in find_media(tmp_path, (".mp4",), limit=2)] == ["b", "e"]
    assert len(find_media(tmp_path, (".mp4",))) == 6


def test_cli_eval_self_writes_report(tmp_path, video_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "clip.mp4").symlink_to(video_path("woman_glasses_speaking"))
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "self", str(clips), "-o", str(out), "--max-frames", "8",
                                       "--identity-frames", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file() and (out / "report.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["self", "{tmp}/missing"], "is not a folder"),
    (["self", "{tmp}"], "holds no"),
    (["cross", "{tmp}", "{tmp}"], "holds no"),
])
def test_cli_eval_bad_folders_one_line_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["eval", *[a.format(tmp=tmp_path) for a in args], "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1
