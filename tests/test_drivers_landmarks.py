"""Sparse landmarks drive a photo: the files of the usual face tools, lifted to dense dynamics."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from facedyn import drivers
from facedyn.drivers.landmark_files import from_tracks, parse_frame_file, parse_openface, parse_text, read_landmarks
from facedyn.drivers.landmarks import reject_spikes
from facedyn.drivers.parametric import MotionTrack
from facedyn.errors import InputError
from facedyn.eval import metrics as M
from facedyn.geometry import regions
from facedyn.io import iter_frames
from facedyn.rig import BLENDSHAPES
from facedyn.rig.sparse import SparseFit, orthographic_pose
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T
from tests.conftest import write_video

# Every landmark file of the test data, with its frame count and the frame rate it states.
FILES = {
    "landmarks68_lrnet_ffpp_real_normalized.txt": (757, None),
    "landmarks68_lrnet_deeperforensics_real_normalized.txt": (369, None),
    "landmarks68_vid2vid_faceforensics_0001": (30, None),
    "openface_facsvatar_demo_expressions.csv": (490, 25.0),
    "openface_facsvatar_head_test_first600.csv": (600, 30.0),
    "openface_smyle_conversation_partial_columns.csv": (705, 25.0),
}


@pytest.fixture(scope="module")
def tracked_clip(video_path):
    """woman_blinks_gaze_squint's first 90 frames, as 68 points (from the mesh) and as the video."""
    with FaceTracker() as tracker:
        sequence = drivers.track_landmarks(video_path("woman_blinks_gaze_squint"), tracker)
    return sequence


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_landmark_file_drives_a_photo(animator, image_path, testdata, name, caplog):
    frames, fps = FILES[name]
    driver = drivers.landmarks(testdata / "motion" / name)
    source = animator.load_source(image_path("woman_frontal_neutral"))
    with caplog.at_level(logging.WARNING):
        animation = animator.animate(source, driver)
    assert animation.frame_count == frames
    assert float(animation.fps) == (fps or 25.0)
    if fps is None:
        assert "states no frame rate" in caplog.text
    rendered = list(itertools.islice(animation, 3))
    assert len(rendered) == 3 and rendered[0].shape == animation.frame_size + (3,)
    assert float(drivers.landmarks(testdata / "motion" / name, fps=50).fps) == 50.0


def test_openface_failed_rows_are_missing_frames_not_motion(testdata):
    """The SMYLE file's first 252 rows are failures with a constant garbage pose: they are
    filled from the first tracked frame, and the AUs there are those of that frame."""
    track = drivers.landmarks(testdata / "motion" / "openface_smyle_conversation_partial_columns.csv")
    assert isinstance(track, MotionTrack) and len(track) == 705
    assert np.allclose(track.angles[:252], track.angles[252])
    assert np.allclose(track.coefficients[:252], track.coefficients[252])
    assert np.abs(track.angles).max() < 25  # the failures' 28 degree yaw is not driven


def _au_peaks(text: str, names: tuple[str, ...]) -> tuple[dict, np.ndarray]:
    header = [h.strip() for h in text.splitlines()[0].split(",")]
    rows = np.array([[float(c) for c in line.split(",")] for line in text.splitlines()[1:]])
    tracked = rows[:, header.index("success")] > 0
    return {name: np.where(tracked, rows[:, header.index(f"{name}_r")], 0) for name in names}, tracked


def _shapes(track: MotionTrack) -> np.ndarray:
    return np.array([f.dynamics.shape for f in track.open().frames])


def _calmest(au: dict, tracked: np.ndarray) -> int:
    return int(np.flatnonzero(tracked)[np.argmin(sum(au.values())[tracked])])


def test_au_only_openface_moves_mouth_and_brows_where_its_aus_peak(testdata):
    """The SMYLE file has no landmarks: its jaw drops and smiles drive the mouth. The
    FACSvatar demo, stripped of its landmarks, raises and lowers the brows with AU01 / AU04."""
    text = (testdata / "motion" / "openface_smyle_conversation_partial_columns.csv").read_text()
    au, tracked = _au_peaks(text, ("AU26", "AU12"))
    shapes = _shapes(parse_openface(text, "smyle"))
    rest, jaw, smile = _calmest(au, tracked), int(np.argmax(au["AU26"])), int(np.argmax(au["AU12"]))
    assert regions.mouth_gap(shapes[jaw]) > regions.mouth_gap(shapes[rest]) + 0.02
    assert shapes[smile, 291, 0] - shapes[smile, 61, 0] > shapes[rest, 291, 0] - shapes[rest, 61, 0] + 0.01

    text = _without_landmarks((testdata / "motion" / "openface_facsvatar_demo_expressions.csv").read_text())
    au, tracked = _au_peaks(text, ("AU01", "AU04"))
    assert au["AU01"].max() > 2 and au["AU04"].max() > 2  # the file does raise and lower them
    track = parse_openface(text, "demo_au")
    assert isinstance(track, MotionTrack)
    shapes = _shapes(track)
    rest, up, down = _calmest(au, tracked), int(np.argmax(au["AU01"])), int(np.argmax(au["AU04"]))
    brows = shapes[:, T.LEFT_EYE_UPPER, 1].mean(1) - shapes[:, np.r_[T.LEFT_BROW, T.RIGHT_BROW], 1].mean(1)
    assert brows[up] > brows[rest] + 0.01
    assert brows[down] < brows[rest] - 0.01


def test_openface_pose_follows_the_head(testdata):
    """OpenFace's own head pose (pose_R*) and the one fitted to its 68 points turn the same way."""
    text = (testdata / "motion" / "openface_facsvatar_head_test_first600.csv").read_text()
    sequence = parse_openface(text, "head_test")
    au_track = parse_openface(_without_landmarks(text), "head_test_au")
    template68 = T.landmarks68(_template())
    fitted = np.array([orthographic_pose(template68, p).angles for p in sequence.points])
    fitted -= fitted[0]
    for k in range(3):  # yaw, pitch, roll
        assert np.corrcoef(fitted[:, k], au_track.angles[:, k])[0, 1] > 0.9


@pytest.mark.parametrize("angles", [(25.0, -12.0, 8.0), (-50.0, 15.0, -5.0), (3.0, 2.0, 1.0)])
def test_orthographic_pose_converges_in_two_alternations(angles):
    """The affine start and 2 alternations land where 200 do, on the points the lift fits the
    pose to, with a pixel of detector noise; continuing from a converged pose keeps it."""
    from facedyn.geometry.pose import HeadPose, angles_to_rotation
    from facedyn.rig.sparse import POSE_POINTS

    model = T.landmarks68(_template())[POSE_POINTS]
    truth = HeadPose(angles_to_rotation(*angles), np.array([260.0, 240.0, 0.0]), 300.0)
    points = truth.to_image(model)[:, :2] + np.random.default_rng(1).normal(0, 1.0, (len(model), 2))
    converged = orthographic_pose(model, points, 200)
    assert np.abs(converged.angles - truth.angles).max() < 1.0
    assert np.abs(orthographic_pose(model, points).angles - converged.angles).max() < 0.1
    assert np.abs(orthographic_pose(model, points, 2, start=converged).angles - converged.angles).max() < 1e-6


def _template():
    from facedyn.geometry.pose import template

    return template().shape


def _without_landmarks(text: str) -> str:
    lines = text.splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    keep = [i for i, h in enumerate(header) if h[:2] not in ("x_", "y_", "X_", "Y_", "Z_")]
    return "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines)


def test_lifting_68_points_keeps_the_dense_motion(video_path):
    """The mesh's own 68 points, lifted back to 478: eye and mouth opening follow the mesh."""
    with FaceTracker() as tracker:
        tracker.reset_video()
        dense = np.array([tracker.track(f) for f in itertools.islice(iter_frames(video_path("woman_blinks_gaze_squint")), 90)])
    fit = SparseFit()
    lifted = np.array([fit(T.landmarks68(p)[:, :2]) for p in dense])
    a, b = M.expression_signals(dense), M.expression_signals(lifted)
    assert M.correlation(b[:, 0], a[:, 0]) > 0.95 and M.correlation(b[:, 1], a[:, 1]) > 0.95
    assert np.min(b[:, 0]) < 0.35 * np.median(b[:, 0])  # the blinks close


def test_track_landmarks68_then_animate_follows_the_video(animator, image_path, video_path, tracked_clip):
    """track -> landmarks68 -> animate: the target face opens its eyes and mouth as when
    driven by the video itself (> 0.85 correlation)."""
    source = animator.load_source(image_path("man_glasses_beard_smile"))
    openings = []
    for driver in (drivers.video(video_path("woman_blinks_gaze_squint")),
                   drivers.landmarks(tracked_clip.points, fps=tracked_clip.fps)):
        animation = animator.animate(source, driver)
        targets = [animation.retargeter(f.dynamics)[0] for f in itertools.islice(animation.motion.frames, 150)]
        openings.append(np.array([[T.eye_opening(t).mean(), T.mouth_opening(t)] for t in targets]))
    video, landmarks = openings
    assert M.correlation(landmarks[:, 0], video[:, 0]) > 0.85
    assert M.correlation(landmarks[:, 1], video[:, 1]) > 0.85


def test_spikes_are_rejected_but_a_one_frame_blink_is_kept():
    rng = np.random.default_rng(0)
    base = T.landmarks68(_template())[:, :2] * 200 + 300
    points = np.repeat(base[None], 9, axis=0) + rng.normal(0, 0.2, (9, 68, 2))
    points[4, 8] += [0, 40]  # the chin slips for one frame
    points[6, [37, 38, 43, 44], 1] += 8  # a blink caught on one frame
    out = reject_spikes(points)
    assert np.abs(out[4, 8] - base[8]).max() < 2
    assert np.allclose(out[6, [37, 38, 43, 44]], points[6, [37, 38, 43, 44]])


def test_layouts_are_detected_and_normalised_values_said(tmp_path, caplog):
    base = T.landmarks68(_template())[:, :2]
    rows = np.stack([base, base + 0.01]).reshape(2, -1)
    (tmp_path / "rows.txt").write_text("\n".join(" ".join(f"{v:.4f}" for v in r) for r in rows))
    with caplog.at_level(logging.WARNING):
        seq = read_landmarks(tmp_path / "rows.txt")
    assert seq.points.shape == (2, 68, 2) and "[-1, 1]" in caplog.text
    pixels = base * 300 + 400
    drivers.save_landmarks(np.stack([pixels, pixels + 1]), tmp_path / "a.npy")
    drivers.save_landmarks(np.stack([pixels, pixels + 1]), tmp_path / "a.csv")
    drivers.save_landmarks(np.stack([pixels, pixels + 1]), tmp_path / "pts")
    for path in ("a.npy", "a.csv", "pts"):
        again = read_landmarks(tmp_path / path)
        assert np.allclose(again.points[1], pixels + 1, atol=0.01), path
    assert sorted(p.name for p in (tmp_path / "pts").iterdir()) == ["00000.pts", "00001.pts"]
    np.savez(tmp_path / "dense.npz", landmarks=np.zeros((3, 478, 3)) + 5.0)
    assert read_landmarks(tmp_path / "dense.npz").points.shape == (3, 478, 3)


@pytest.mark.parametrize("content, words", [
    ("1 2 3\n", ["1 line(s)", "68 lines of x,y", "136 values"]),
    ("1 2 3 4\n", ["row 1", "4 values", "expected 136"]),
    (" ".join(["1"] * 135 + ["abc"]) + "\n", ["row 1, column 136", "'abc'"]),
    (" ".join(["1"] * 135 + ["nan"]) + "\n", ["row 1, column 136", "finite"]),
    ("", ["empty"]),
    ("\n".join(["1,2"] * 67), ["67 line(s)", "68 lines of x,y per frame"]),
])
def test_bad_text_says_where(content, words):
    with pytest.raises(InputError) as err:
        parse_text(content, "bad.txt")
    assert "bad.txt" in str(err.value) and all(w in str(err.value) for w in words)


def test_bad_files_and_folders_say_what_is_wrong(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((4, 70, 2)))
    (tmp_path / "empty").mkdir()
    (tmp_path / "pts.pts").write_text("version: 1\nn_points: 5\n{\n1 2\n}\n")
    cases = {"wrong.npy": "(4, 70, 2)", "empty": "no landmark files", "missing.txt": "not found",
             "pts.pts": "5 points"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
            read_landmarks(tmp_path / name, "frames" if name.endswith(".pts") else "auto")
    with pytest.raises(InputError, match=r"frame 0, point 3, y"):
        a = np.zeros((2, 68, 2))
        a[0, 3, 1] = np.nan
        drivers.landmarks(a)
    with pytest.raises(InputError, match="68"):
        parse_frame_file("1,2\n" * 60, "f.txt")
    np.save(tmp_path / "good.npy", np.zeros((4, 68, 2)))
    with pytest.raises(InputError, match="not a text file.*numpy layout"):
        read_landmarks(tmp_path / "good.npy", "rows")  # a wrong forced layout


def test_openface_quirks(testdata):
    """CRLF and ', ' separators, no face_id (early builds), several faces."""
    text = "frame, timestamp, confidence, success, AU26_r, pose_Rx, pose_Ry, pose_Rz\r\n"
    text += "".join(f"{k + 1}, {k / 30:.3f}, 0.9, 1, {k % 4}, 0, 0.1, 0\r\n" for k in range(10))
    track = parse_openface(text, "early.csv")
    assert isinstance(track, MotionTrack) and track.fps == 30.0 and len(track) == 10
    assert track.coefficients[3, BLENDSHAPES.index("jawOpen")] == pytest.approx(1.0)
    with pytest.raises(InputError, match="row 3 has 7 values"):
        parse_openface(text.replace("2, 0.033, 0.9, 1, 1, 0, 0.1, 0", "2, 0.033, 0.9, 1, 1, 0, 0.1"), "x.csv")
    with pytest.raises(InputError, match="success 0"):
        parse_openface(text.replace(", 0.9, 1,", ", 0.9, 0,"), "x.csv")


def test_lifted_points_keep_the_mouth_motion(video_path):
    """The rig's fit follows the 68 points' own motion: what it misses of each point's
    movement since the first frame stays small (a strong prior once left speech at a third)."""
    with FaceTracker() as tracker:
        tracker.reset_video()
        dense = np.array([tracker.track(f) for f in itertools.islice(iter_frames(video_path("man_greenscreen_expressions")), 60)])
    points = T.landmarks68(dense)[..., :2]
    fit = SparseFit()
    lifted = T.landmarks68(np.array([fit(p) for p in points]))[..., :2]
    missed = lifted - points
    missed -= missed[0]  # the template's own face shape is a constant offset
    heights = T.face_size(dense)[:, None]
    mouth_missed = (np.linalg.norm(missed[:, 48:], axis=-1) / heights).mean()
    mouth_moved = (np.linalg.norm(points[:, 48:] - points[0, 48:], axis=-1) / heights).mean()
    assert mouth_missed < 0.35 * mouth_moved


def test_a_later_reference_frame_means_no_change(tracked_clip):
    """LandmarkDriver(reference=k): frame k's dynamics are the motion's reference."""
    sequence = drivers.LandmarkSequence(tracked_clip.points[:20], 25.0)
    motion = drivers.LandmarkDriver(sequence, 25.0, reference=7).open()
    frames = list(motion.frames)
    assert len(frames) == 20
    shapes = np.array([f.dynamics.shape for f in frames])
    gaps = np.abs(shapes - motion.reference.shape).mean(axis=(1, 2))
    assert np.argmin(gaps) == 7 and gaps[7] < 1e-6
    with pytest.raises(InputError, match="below 20"):
        drivers.LandmarkDriver(sequence, 25.0, reference=20)


def test_tracks_with_lost_frames_are_filled_and_counted():
    points = np.tile(T.landmarks68(_template())[:, :2] * 200 + 300, (5, 1, 1))
    points[1:3] += 10
    points[2] = np.nan
    sequence = from_tracks(points, 30.0)
    assert sequence.missing == (2,) and np.isfinite(sequence.points).all()
    np.testing.assert_allclose(sequence.points[2], points[1] - 5)  # halfway from frame 1 back to frame 3
    with pytest.raises(InputError, match="no frame has landmarks"):
        from_tracks(np.full((3, 68, 2), np.nan))
    with pytest.raises(InputError, match=r"got \(3, 5, 2\)"):
        from_tracks(np.zeros((3, 5, 2)))


def test_cli_track_landmarks68_then_animate(tmp_path, image_path, video_path):
    """The user's round trip: track a clip to a 68-point file, drive a photo with it."""
    from click.testing import CliRunner

    from facedyn.cli import main
    from facedyn.io import probe_video

    clip = write_video(tmp_path / "clip.mp4", list(itertools.islice(iter_frames(video_path("woman_blinks_gaze_squint")), 20)))
    track68 = tmp_path / "clip68.txt"
    runner = CliRunner()
    result = runner.invoke(main, ["track", str(clip), "-o", str(track68), "--format", "landmarks68"])
    assert result.exit_code == 0, result.output
    assert len(track68.read_text().splitlines()) == 20
    out = tmp_path / "out.mp4"
    result = runner.invoke(main, ["animate", str(image_path("woman_frontal_neutral")), "--landmarks", str(track68),
                                  "--fps", "30", "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = probe_video(out)
    assert info.frame_count == 20 and info.fps == 30


def test_collapsed_points_are_refused_or_filled(tracked_clip, image_path, tmp_path):
    """Frames whose 68 points all sit on one spot (a detector's zeros for a missed face) are
    no face: a file of nothing else is refused in one line (it was an internal error), a few
    such frames in a track are filled from their neighbours."""
    from click.testing import CliRunner

    from facedyn.cli import main

    zeros = tmp_path / "zeros68.txt"
    zeros.write_text("\n".join(" ".join(["0"] * 136) for _ in range(5)))
    result = CliRunner().invoke(main, ["animate", str(image_path("woman_frontal_neutral")), "--landmarks", str(zeros),
                                       "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code == 2 and "no frame's 68 points span a face" in result.output
    assert not (tmp_path / "out.mp4").exists()
    points = tracked_clip.points[:30].copy()
    points[10:12] = 0.0
    motion = drivers.landmarks(points, fps=25).open()
    frames = list(motion.frames)
    assert motion.missing_frames == [10, 11] and len(frames) == 30
    assert all(np.isfinite(f.landmarks).all() for f in frames)


def test_mirrored_points_are_refused_or_filled(tracked_clip):
    """68 points mirrored without renumbering (left and right swapped) are no face: refused
    when most frames are, filled from their neighbours when a few are."""
    points = tracked_clip.points[:30].copy()
    flipped = points.copy()
    flipped[..., 0] = 1000.0 - flipped[..., 0]
    with pytest.raises(InputError, match="30 of 30 frames are mirrored"):
        drivers.landmarks(flipped, fps=25)
    mixed = points.copy()
    mixed[10:13] = flipped[10:13]
    motion = drivers.landmarks(mixed, fps=25).open()
    tilt = np.array([np.linalg.norm(f.dynamics.angles - motion.reference.angles) for f in motion.frames])
    assert motion.missing_frames == [10, 11, 12]
    assert tilt.max() < 15  # the head does not turn over on the mirrored frames
