"""Drivers without a video: expressions, imagine, pose keyframes, motion files, ARKit CSV."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from facedyn import drivers
from facedyn.cli import main
from facedyn.drivers.parametric import OPENINGS
from facedyn.drivers.pose import parse_angle
from facedyn.errors import InputError
from facedyn.geometry.pose import rotation_to_angles
from facedyn.rig import BLENDSHAPES
from facedyn.rig.expressions import EXPRESSIONS
from facedyn.tracking import topology as T


def test_expression_track_rises_and_returns():
    track = drivers.expression("surprise", duration=2.0, intensity=0.8, fps=25)
    assert len(track) == 50 and track.fps == 25
    jaw = track.coefficients[:, BLENDSHAPES.index("jawOpen")]
    full = EXPRESSIONS["surprise"]["jawOpen"]
    assert jaw[0] == 0 and jaw[25] == pytest.approx(0.8 * full) and jaw[-1] < 0.05
    held = drivers.expression("surprise", duration=2.0, returns=False)
    assert held.coefficients[-1, BLENDSHAPES.index("jawOpen")] == pytest.approx(full)


def test_parametric_motion_opens_into_dynamics():
    motion = drivers.expression("blink", duration=0.4, fps=25).open()
    shapes = np.array([f.dynamics.shape for f in motion.frames])
    opening = T.eye_opening(shapes).mean(1)
    assert opening[0] > 0.15 and opening.min() < 0.05  # the eyes close at the apex (lid x offsets remain)


def test_imagine_is_reproducible_and_blinks_at_human_rates():
    a = drivers.imagine(60.0, seed=7, style="calm")
    b = drivers.imagine(60.0, seed=7, style="calm")
    c = drivers.imagine(60.0, seed=8, style="calm")
    assert np.array_equal(a.coefficients, b.coefficients) and np.array_equal(a.angles, b.angles)
    assert not np.array_equal(a.coefficients, c.coefficients)
    blink = a.coefficients[:, BLENDSHAPES.index("eyeBlinkLeft")]
    starts = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    assert 6 <= len(starts) <= 30  # 15 a minute expected
    assert np.abs(a.angles).max() < 10
    with pytest.raises(InputError, match="unknown style"):
        drivers.imagine(5, style="wild")


def test_pose_keyframes_turn_any_driver():
    keys = parse_angle("0s:0, 1s:20, 2s:-20", "yaw")
    assert keys(0.5) == pytest.approx(10) and keys(3) == -20
    assert parse_angle("7")(5.0) == 7
    for bad in ("0s:0, 1s", "1s:0, 0.5s:3"):
        with pytest.raises(InputError, match="--yaw"):
            parse_angle(bad, "yaw")
    motion = drivers.with_pose(drivers.expression("smile", 2.0, fps=10), yaw="0s:0, 1s:20").open()
    yaws = [rotation_to_angles(f.dynamics.rotation)[0] for f in motion.frames]
    assert yaws[0] == pytest.approx(0, abs=1e-6) and yaws[10] == pytest.approx(20) and yaws[-1] == pytest.approx(20)
    still = drivers.expression("smile", 1.0)
    assert drivers.with_pose(still, "0", 0.0, "0s:0, 1s:0") is still  # no turn: the driver itself


def test_pose_offset_beyond_25_degrees_warns(caplog):
    drivers.with_pose(drivers.expression("smile", 1.0), yaw=30)
    assert "quality drops" in caplog.text


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_motion_file_round_trip(tmp_path, suffix):
    track = drivers.imagine(3.0, seed=1, style="lively")
    path = drivers.save_motion(track, tmp_path / f"m{suffix}")
    back = drivers.motion(path)
    assert back.fps == track.fps and len(back) == len(track)
    assert np.allclose(back.coefficients, track.coefficients, atol=1e-4)
    assert np.allclose(back.angles, track.angles, atol=1e-4)


def test_motion_json_is_documented_schema(tmp_path):
    path = drivers.save_motion(drivers.expression("a", 0.5), tmp_path / "m.json")
    data = json.loads(path.read_text())
    assert data["format"] == "facedyn.motion" and data["version"] == 1
    assert data["columns"][:7] == ["time", "yaw", "pitch", "roll", "tx", "ty", "scale"]
    assert data["columns"][-52:] == list(BLENDSHAPES)


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows.__setitem__(3, rows[3].replace(",0.0,", ",abc,", 1)), "row 4, column"),
    (lambda rows: rows.__setitem__(2, rows[2].rsplit(",", 1)[0]), "row 3 has"),
])
def test_malformed_csv_names_row_and_column(tmp_path, edit, message):
    path = drivers.save_motion(drivers.expression("a", 0.5), tmp_path / "m.csv")
    rows = path.read_text().splitlines()
    edit(rows)
    path.write_text("\n".join(rows))
    with pytest.raises(InputError, match=message):
        drivers.motion(path)


def test_arkit_csv_drives(testdata):
    track = drivers.motion(testdata / "motion" / "livelinkface_sentien_smile_tongue_headrot_60fps.csv")
    assert len(track) == 1628 and track.fps == 60
    assert track.coefficients[:, BLENDSHAPES.index("mouthSmileLeft")].max() > 0.9
    assert -12 < track.angles[:, 0].min() < -9 and 13 < track.angles[:, 0].max() < 16  # yaw -10.5..+14.5 deg
    zero_head = drivers.motion(testdata / "motion" / "livelinkface_jm_mouth_smile_5s_60fps.csv")
    assert np.all(zero_head.angles == 0) and zero_head.coefficients[:, BLENDSHAPES.index("jawOpen")].max() > 0.8


def test_arkit_csv_bad_timecode(tmp_path, testdata):
    rows = (testdata / "motion" / "livelinkface_jm_mouth_smile_5s_60fps.csv").read_text().splitlines()[:5]
    rows[2] = "garbage" + rows[2][rows[2].index(","):]
    (tmp_path / "bad.csv").write_text("\n".join(rows))
    with pytest.raises(InputError, match="row 3, column 'Timecode'"):
        drivers.motion(tmp_path / "bad.csv")


def test_cli_express_imagine_and_errors(tmp_path, image_path):
    runner = CliRunner()
    photo = str(image_path("woman_sad"))
    out = tmp_path / "e.mp4"
    ok = runner.invoke(main, ["express", photo, "--expression", "smile", "--duration", "10f", "--intensity", "0.8",
                              "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert out.stat().st_size > 1000
    ok = runner.invoke(main, ["imagine", photo, "--duration", "13f", "--seed", "3", "-o", str(tmp_path / "i.mp4")])
    assert ok.exit_code == 0, ok.output
    for args, message in ((["express", photo, "-o", str(out)], "exactly one of --expression"),
                          (["express", photo, "--timeline", "smile@1-0", "-o", str(out)], "ends before"),
                          (["express", photo, "--expression", "smile", "--duration", "xs", "-o", str(out)], "--duration"),
                          (["animate", photo, "-o", str(out)], "exactly one of --driving")):
        bad = runner.invoke(main, args)
        assert bad.exit_code == 2 and message in bad.output, (args, bad.output)


# -- openings: the lid and lip motion the rig cannot express travels beside it -------------------

def _retargeted_openings(animation, count: int) -> np.ndarray:
    """(count, 2) eye and mouth opening of the retargeted face (geometry, no rendering)."""
    shapes = [animation.retargeter(f.dynamics)[0] for f in itertools.islice(animation.motion.frames, count)]
    return np.array([[T.eye_opening(s).mean(), T.mouth_opening(s)] for s in shapes])


def test_tracked_openings_follow_speech_and_blinks(animator, image_path, video_path, tmp_path):
    """A speaker's mouth and eyes, through track -> motion file -> animate, open and close as
    when driven by the video itself (without the openings columns the rig alone gave r 0.81
    for the eyes and 0.89 for the mouth on this clip)."""
    from dataclasses import replace

    video = video_path("man_speaking_outdoors")
    track, gaze = drivers.track_video(video, animator.tracker)
    assert track.openings is not None and track.openings.shape == (len(track), len(OPENINGS))
    back = drivers.motion(drivers.save_motion(track, tmp_path / "m.csv", gaze))
    assert np.allclose(back.openings, track.openings, atol=1e-4)
    source = animator.load_source(image_path("woman_frontal_neutral"))
    video_driven = _retargeted_openings(animator.animate(source, drivers.video(video)), 150)
    r = {}
    for motion in (back, replace(back, openings=None)):
        played = _retargeted_openings(animator.animate(source, motion), 150)
        r[motion.openings is not None] = [np.corrcoef(played[:, k], video_driven[:, k])[0, 1] for k in (0, 1)]
    print(f"r eyes, mouth: with openings {r[True]}, without {r[False]}")
    assert min(r[True]) >= 0.95
    assert r[True][0] > r[False][0] + 0.1  # the openings, not the rig, carry the blinks


def test_motion_files_without_openings_still_play(tmp_path):
    path = drivers.save_motion(drivers.expression("a", 0.5), tmp_path / "m.json")
    data = json.loads(path.read_text())
    assert "lipGap" not in data["columns"]  # the rig makes this one's openings
    assert drivers.motion(path).openings is None


def test_openings_out_of_range_name_row_and_column(tmp_path):
    track = drivers.expression("a", 0.5)
    rows = track.rows()
    rows[:, -len(OPENINGS):] = 1.0
    rows[2, -1] = 7.0
    with pytest.raises(InputError, match="openings"):
        drivers.MotionTrack.from_rows(track.fps, rows)
    rows[2, -1] = 0.1
    path = drivers.save_motion(drivers.MotionTrack.from_rows(track.fps, rows), tmp_path / "m.csv")
    text = path.read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",5"
    path.write_text("\n".join(text))
    with pytest.raises(InputError, match="row 4, column 'mouthWidth'"):
        drivers.motion(path)


def test_rows_play_their_openings_exactly():
    """Each opening a row asks for is the one its face has: lid gaps, lip gap, mouth width."""
    from facedyn.drivers.parametric import dynamics_from_row, neutral_dynamics
    from facedyn.geometry import regions

    rest = neutral_dynamics().shape.astype(np.float64)
    row = drivers.expression("smile", 0.6).rows()[10]
    row[-4:] = 0.3, 0.8, 0.05, 1.15
    shape = dynamics_from_row(row).shape.astype(np.float64)
    assert regions.eye_gaps(shape).mean(1) == pytest.approx(regions.eye_gaps(rest).mean(1) * [0.3, 0.8], rel=1e-4)
    lips = regions.mouth_gap(rest) + 0.05 * regions.face_extent(rest)[1]
    assert regions.mouth_gap(shape) == pytest.approx(lips, rel=1e-4)
    assert regions.mouth_width(shape) == pytest.approx(1.15 * regions.mouth_width(rest), rel=1e-4)
