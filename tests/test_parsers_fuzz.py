"""Property-based fuzzing of every parser of outside bytes and text: each returns a valid
result or raises facedyn.InputError, never anything else (no traceback reaches a user).

Bounded for `make test` (FACEDYN_FUZZ_SCALE=10 runs ten times as many examples)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facedyn.drivers import parse_duration, parse_reference
from facedyn.drivers.motion_file import COLUMNS, parse_motion
from facedyn.drivers.parametric import LIMITS, MAX_FPS, MIN_FPS, MotionTrack
from facedyn.drivers.pose import parse_angle
from facedyn.errors import InputError
from facedyn.io import iter_frames, load_image, probe_video
from facedyn.rig import BLENDSHAPES
from facedyn.rig.expressions import MAX_SECONDS, parse_timeline

SCALE = int(os.environ.get("FACEDYN_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, database=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def check_track(track: MotionTrack) -> None:
    """What a parsed motion promises the renderer."""
    n = len(track)
    assert n >= 1 and MIN_FPS <= track.fps <= MAX_FPS
    assert track.coefficients.shape == (n, len(BLENDSHAPES)) and np.isfinite(track.coefficients).all()
    assert track.coefficients.min() >= 0 and track.coefficients.max() <= 1
    assert np.abs(track.angles).max(initial=0) <= LIMITS["angles"][1]
    if track.scale is not None:
        assert LIMITS["scale"][0] <= track.scale.min() and track.scale.max() <= LIMITS["scale"][1]


def parses_or_refuses(text: str) -> None:
    try:
        track = parse_motion(text, "fuzz")
    except InputError as exc:
        assert "\n" not in str(exc)  # one line for the CLI
        return
    check_track(track)


# -- cells, rows and files that look like motion files ---------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**30, max_value=10**30),
    st.integers(min_value=10**300, max_value=10**400).map(lambda v: v * (-1) ** (v % 2)),  # past float range
    st.sampled_from([0, 1, -1, 0.04, 25, 1e308, -1e308, 1e-300, 180.0, 180.0001]),
)
cells = st.one_of(numbers.map(repr), numbers.map(str), st.text(max_size=8),
                  st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "0x10", "1,5", "\"3\"", "true", "None"]))
names = st.one_of(st.sampled_from(list(COLUMNS) + ["Timecode", "BlendShapeCount", "HeadYaw", "JawOpen", "x_0", ""]),
                  st.text(max_size=10))
json_leaf = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_any = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                                    max_size=4), max_leaves=20)


@st.composite
def motion_json(draw) -> str:
    columns = draw(st.one_of(st.lists(names, max_size=12), st.just(["time", "yaw", "pitch", "roll", "jawOpen"]), json_any))
    width = len(columns) if isinstance(columns, list) else 3
    rows = draw(st.one_of(st.lists(st.lists(st.one_of(numbers, json_leaf), min_size=width, max_size=width), max_size=6),
                          st.lists(json_any, max_size=4), json_any))
    doc = {"format": draw(st.sampled_from(["facedyn.motion", "facedyn.motion", "other", 7])),
           "version": draw(st.sampled_from([1, 1, 2, "1", None, True])),
           "fps": draw(st.one_of(numbers, json_leaf)), "columns": columns, "frames": rows}
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=2)):
        doc.pop(key, None)
    return json.dumps(doc, allow_nan=True)


@st.composite
def motion_csv(draw) -> str:
    header = draw(st.one_of(st.lists(names, min_size=1, max_size=10),
                            st.just(["time", "yaw", "pitch", "roll", "tx", "ty", "scale", "jawOpen"])))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    sep = draw(st.sampled_from([",", ", ", ";"]))
    return newline.join(sep.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", newline, newline * 3]))


timecodes = st.one_of(
    st.builds(lambda h, m, s, f: f"{h:02d}:{m:02d}:{s:02d}:{f:.3f}", st.integers(0, 99), st.integers(0, 99),
              st.integers(0, 99), st.floats(0, 1e6, allow_nan=False)),
    cells,
)


@st.composite
def arkit_csv(draw) -> str:
    shapes = draw(st.lists(st.sampled_from(["EyeBlinkLeft", "JawOpen", "MouthSmileLeft", "HeadYaw", "HeadRoll", "Nope"]),
                           max_size=5))
    header = ["Timecode", "BlendShapeCount", *shapes]
    rows = draw(st.lists(st.builds(lambda t, rest: [t, "61", *rest], timecodes,
                                   st.lists(cells, min_size=len(shapes), max_size=len(shapes))), max_size=6))
    return "\n".join(",".join(r) for r in [header, *rows])


@fuzz(300)
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused(text):
    parses_or_refuses(text)


@fuzz(200)
@given(motion_json())
def test_motion_json_is_parsed_or_refused(text):
    parses_or_refuses(text)


@fuzz(200)
@given(motion_csv())
def test_motion_csv_is_parsed_or_refused(text):
    parses_or_refuses(text)


@fuzz(150)
@given(arkit_csv())
def test_arkit_csv_is_parsed_or_refused(text):
    parses_or_refuses(text)


@pytest.fixture(scope="module")
def real_motion_heads(testdata):
    """The first lines of every real motion CSV: mutating them reaches deep into the parsers."""
    return [b"".join(p.open("rb").readlines()[:6]) for p in sorted((testdata / "motion").glob("*.csv"))]


@fuzz(150)
@given(data=st.data())
def test_mutated_real_files_are_parsed_or_refused(real_motion_heads, data):
    raw = bytearray(data.draw(st.sampled_from(real_motion_heads)))
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.integers(0, len(raw) - 1))
        raw[where] = data.draw(st.sampled_from(list(b",.-:0123456789e\n\r\x00 abcN")))
    parses_or_refuses(raw.decode("utf-8", errors="replace"))


def test_deeply_nested_json_is_refused():
    with pytest.raises(InputError, match="not valid JSON"):
        parse_motion('{"frames": ' + "[" * 100_000, "deep")


# -- the small command-line grammars ------------------------------------------------------------

@fuzz(300)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"[a-z-]{1,8}(:[0-9.e]{1,5})?@[0-9.e]{1,6}s?-[0-9.e]{1,8}s?(, ?)?",
                                                     fullmatch=True)))
def test_timeline_is_parsed_or_refused(text):
    try:
        clips = parse_timeline(text)
    except InputError:
        return
    assert clips and all(0 <= c.start < c.end <= MAX_SECONDS for c in clips)


@fuzz(300)
@given(st.one_of(st.text(max_size=30), st.from_regex(r"-?[0-9.e]{1,6}(s:[-+0-9.e]{1,6})?(, ?[0-9.]{1,4}s:[-0-9.]{1,5})*",
                                                     fullmatch=True), st.floats(), st.integers(-10**400, 10**400)))
def test_angle_is_parsed_or_refused(text):
    try:
        keys = parse_angle(text, "yaw")
    except InputError:
        return
    assert all(math.isfinite(v) and abs(v) <= 180 for v in keys.values)
    assert all(b > a for a, b in zip(keys.times, keys.times[1:], strict=False))


@fuzz(300)
@given(st.one_of(st.text(max_size=12), st.from_regex(r"-?[0-9.e]{1,8}[sf]?", fullmatch=True)),
       st.floats(min_value=1, max_value=120))
def test_duration_is_parsed_or_refused(text, fps):
    try:
        seconds = parse_duration(text, fps)
    except InputError:
        return
    assert 0.1 <= seconds <= MAX_SECONDS


@fuzz(200)
@given(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans(), st.floats()))
def test_reference_is_parsed_or_refused(value):
    try:
        ref = parse_reference(value)
    except InputError:
        return
    assert ref in ("first", "auto") or (isinstance(ref, int) and ref >= 0)


# -- photos and videos: bytes from outside, through Pillow and FFmpeg ---------------------------

@fuzz(60)
@given(st.binary(max_size=400))
def test_image_bytes_are_read_or_refused(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    try:
        image = load_image(path)
    except InputError:
        return
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


@pytest.fixture(scope="module")
def small_files(testdata):
    """A real JPEG and a real H.264 MP4, small, to mutate."""
    return (testdata / "images" / "woman_sad.jpg").read_bytes(), (testdata / "videos" / "woman_smile_happy.mp4").read_bytes()


def mutated(data, raw: bytes, flips: int, path) -> None:
    """Write `raw` with up to `flips` random bytes changed, cut at a random length, to `path`."""
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, flips))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw[: data.draw(st.integers(16, len(raw)))]))


@fuzz(60)
@given(data=st.data())
def test_mutated_photo_is_read_or_refused(tmp_path, small_files, data):
    path = tmp_path / "fuzz.jpg"
    mutated(data, small_files[0], 20, path)
    try:
        image = load_image(path)
    except InputError:
        return
    assert image.ndim == 3 and image.dtype == np.uint8


@fuzz(40)
@given(data=st.data())
def test_mutated_video_is_read_or_refused(tmp_path, small_files, data):
    path = tmp_path / "fuzz.mp4"
    mutated(data, small_files[1], 30, path)
    try:
        info = probe_video(path)
        frames = sum(1 for _ in iter_frames(path, info.frame_count))
    except InputError:
        return
    assert info.frame_count >= 1 and info.width > 0 and frames >= 0


# -- landmark files ------------------------------------------------------------------------------

def landmarks_parse_or_refuse(parse, text: str) -> None:
    from facedyn.drivers.landmark_files import LandmarkSequence

    try:
        result = parse(text, "fuzz")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    if isinstance(result, LandmarkSequence):
        assert result.points.ndim == 3 and result.points.shape[1] in (68, 478) and np.isfinite(result.points).all()
    elif isinstance(result, MotionTrack):
        check_track(result)
    else:
        assert result.shape == (68, 2) and np.isfinite(result).all()


@st.composite
def landmark_text(draw) -> str:
    width = draw(st.sampled_from([2, 3, 135, 136, 137]))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=70))
    sep = draw(st.sampled_from([" ", ",", ", ", "\t", ";"]))
    return draw(st.sampled_from(["", "version: 1\nn_points: 68\n{\n"])) + "\n".join(sep.join(r) for r in rows)


@st.composite
def openface_text(draw) -> str:
    base = ["frame", "face_id", "timestamp", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz", "gaze_angle_x",
            "gaze_angle_y", "AU01_r", "AU26_r", "AU45_r", "x_0", "y_0"]
    header = draw(st.lists(st.one_of(st.sampled_from(base), names), min_size=1, max_size=10))
    rows = draw(st.lists(st.lists(st.one_of(cells, st.sampled_from(["0", "1", "0.04"])), min_size=len(header),
                                  max_size=len(header)), max_size=8))
    sep = draw(st.sampled_from([",", ", ", ",  "]))
    return draw(st.sampled_from(["\n", "\r\n"])).join(sep.join(r) for r in [header] + rows)


@fuzz(300)
@given(landmark_text())
def test_landmark_text_parses_or_refuses(text):
    from facedyn.drivers.landmark_files import parse_frame_file, parse_text

    landmarks_parse_or_refuse(parse_text, text)
    landmarks_parse_or_refuse(parse_frame_file, text)


@fuzz(300)
@given(openface_text())
def test_openface_parses_or_refuses(text):
    from facedyn.drivers.landmark_files import parse_openface

    landmarks_parse_or_refuse(parse_openface, text)


@fuzz(100)
@given(st.tuples(st.integers(0, 3), st.sampled_from([0, 5, 68, 478]), st.integers(1, 4)),
       st.sampled_from(["f8", "f4", "i4", "u1", "c8", "b1"]), st.sampled_from([0.0, np.nan, np.inf, 1e300, -0.5]))
def test_landmark_arrays_are_taken_or_refused(shape, dtype, poison):
    from facedyn.drivers.landmark_files import from_array

    array = np.ones(shape, dtype=dtype)
    if array.size and dtype in ("f8", "f4"):
        with np.errstate(over="ignore"):
            array.flat[0] = poison
    landmarks_parse_or_refuse(lambda a, name: from_array(a, name), array)
