"""Motion files: FaceDynamics as numbers on disk (facedyn JSON/CSV, ARKit-style CSV).

facedyn motion format, version 1. JSON:

    {"format": "facedyn.motion", "version": 1, "fps": 30.0,
     "columns": ["time", "yaw", "pitch", "roll", "tx", "ty", "scale",
                 "gazeRightX", "gazeRightY", "gazeLeftX", "gazeLeftY", <52 ARKit names>,
                 "eyeOpenRight", "eyeOpenLeft", "lipGap", "mouthWidth"],
     "frames": [[0.0, 0.0, ...], ...]}

CSV: the same columns as a header row, one row per frame. Units: time in seconds; yaw,
pitch, roll in degrees relative to the clip's first frame (yaw > 0 turns the face towards
the image's left, pitch > 0 up, roll > 0 clockwise); tx, ty head movement in face heights
(x right, y down); scale head size relative to the first frame; gaze* the iris centre's
offset from the eye-corner midpoint over the eye width (information only: playback uses the
eyeLook* coefficients); blendshapes 0..1 (rig.BLENDSHAPES); eyeOpen* each eye's lid gap
over the driver's open eye (1 = open as at rest, 0 = shut, up to 3), lipGap the inner-lip
gap over the driver's face height (0 = closed) and mouthWidth the lip-corner distance over
the driver's at rest (1 = as at rest), all four optional (files before them play with
the lids and lips the coefficients make). Only yaw, pitch and roll are required. No pixels.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from facedyn.drivers.parametric import (
    LIMITS,
    MAX_FPS,
    MIN_FPS,
    OPENINGS,
    PARAMETER_LIMITS,
    Describer,
    MotionTrack,
    check_fps,
)
from facedyn.drivers.video import VideoDriver
from facedyn.errors import InputError
from facedyn.geometry import regions
from facedyn.io.files import check_output, existing_file, write_atomic
from facedyn.rig import BLENDSHAPES

FORMAT, VERSION = "facedyn.motion", 1
POSE_COLUMNS = ("time", "yaw", "pitch", "roll", "tx", "ty", "scale")
GAZE_COLUMNS = ("gazeRightX", "gazeRightY", "gazeLeftX", "gazeLeftY")
COLUMNS = (*POSE_COLUMNS, *GAZE_COLUMNS, *BLENDSHAPES, *OPENINGS)  # the openings are optional on reading


def track_video(path: str | Path, tracker, smoothing: bool = True) -> tuple[MotionTrack, np.ndarray]:
    """Extract a motion track from the face in a video.

    Expression offsets are taken against the clip's face at rest (see _rest_face) and solved
    into rig coefficients, with the eye and lip openings alongside (parametric.Describer);
    pose is relative to the first frame.

    Returns:
        (track, gaze (N, 4) [right x, right y, left x, left y]).

    Raises:
        InputError, NoFaceError: unreadable video, no face.
    """
    motion = VideoDriver(Path(path), "first", smoothing).open(tracker)
    frames = [frame.dynamics for frame in motion.frames]  # 5.7 KB a frame: the rest face needs them all
    rest = _rest_face(np.stack([d.shape for d in frames]))
    describe = Describer(motion.reference, motion.closed_gap, rest_shape=rest)
    track = MotionTrack.from_rows(float(motion.fps), np.stack([describe(d) for d in frames]))
    gaze = np.stack([d.gaze.ravel() for d in frames])
    return track, gaze


def _rest_face(shapes: np.ndarray) -> np.ndarray:
    """(478, 3) a clip's face at rest: its per-vertex median, with the mouth and jaw taken
    from its closed-mouth frames (the lowest 15% of lip gaps). Rig coefficient 0 means closed
    lips, as for expression labels; a talking clip's median mouth is a little open."""
    rest = np.median(shapes, axis=0)
    gaps = shapes[:, 14, 1] - shapes[:, 13, 1]
    closed = np.median(shapes[gaps <= np.percentile(gaps, 15)], axis=0)
    mouth = np.maximum(regions.jaw_weights(rest), regions.membership(rest, regions.MOUTH, radius=0.05))
    return rest + (closed - rest) * mouth[:, None]


def _rows(track: MotionTrack, gaze: np.ndarray | None) -> np.ndarray:
    n = len(track)
    translation = np.zeros((n, 2)) if track.translation is None else track.translation
    scale = np.ones(n) if track.scale is None else track.scale
    gaze = np.zeros((n, 4)) if gaze is None else gaze
    rows = [np.arange(n) / track.fps, track.angles, translation, scale, gaze, track.coefficients]
    return np.column_stack(rows if track.openings is None else [*rows, track.openings])


MOTION_SUFFIXES = (".json", ".csv")
MAX_FILE_BYTES = 256 * 2**20  # a motion file is numbers for a few minutes: larger is not one


def save_motion(track: MotionTrack, path: str | Path, gaze: np.ndarray | None = None, inputs: tuple = ()) -> Path:
    """Write a motion file, JSON or CSV by the suffix (atomically).

    Args:
        inputs: paths the output may not overwrite (the tracked video).

    Raises:
        InputError: a suffix other than .json or .csv, a missing folder, or an input as output.
        OutputError: the file cannot be written.
    """
    path = check_output(path, MOTION_SUFFIXES, inputs, kind="motion file")
    rows = np.round(_rows(track, gaze), 5)
    columns = list(COLUMNS[: rows.shape[1]])
    if path.suffix.lower() == ".json":
        data = {"format": FORMAT, "version": VERSION, "fps": track.fps, "columns": columns, "frames": rows.tolist()}
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, separators=(",", ":"))))
    else:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(columns)
                w.writerows(rows.tolist())
        write_atomic(path, write)
    return path


def load_motion(path: str | Path) -> MotionTrack:
    """Read a facedyn motion file (.json or .csv) or an ARKit-style face-capture CSV (detected
    by its Timecode and PascalCase blendshape columns).

    Raises:
        InputError: missing, unreadable or malformed file, with the row and column at fault.
    """
    path = existing_file(path, "motion file", "a motion file (.json or .csv)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB; it is not a motion file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read motion file {path}: {exc}; motion files are UTF-8 text") from None
    return replace(parse_motion(text, path.name), path=path)


def parse_motion(text: str, name: str = "motion") -> MotionTrack:
    """Parse the text of a motion file: JSON (it starts with "{"), else CSV.

    Args:
        text: the file's text.
        name: the file's name, for messages.

    Raises:
        InputError: anything malformed, with the row and column at fault; never another error.
    """
    if text.lstrip().startswith("{"):
        return _from_json(text, name)
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise InputError(f"{name} is not a readable CSV file: {exc}") from None
    filled = [k for k, row in enumerate(rows) if any(cell.strip() for cell in row)]
    if not filled:
        raise InputError(f"{name} is empty")
    rows = rows[filled[0]: filled[-1] + 1]  # blank lines before and after the table are fine
    first_row = filled[0] + 2  # the file line of the first data row
    header = [h.strip() for h in rows[0]]
    if "Timecode" in header:
        return _from_arkit(header, rows[1:], name, first_row)
    fps = _fps_from_times(_column(header, rows[1:], "time", name, first_row), name)
    return _from_table(header, rows[1:], fps, name, first_row)


def _from_json(text: str, name: str) -> MotionTrack:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{name} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{name} is not a facedyn motion file (format must be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise InputError(f"{name} has motion format version {data.get('version')!r}; this facedyn reads version {VERSION}")
    fps, columns, frames = data.get("fps"), data.get("columns"), data.get("frames")
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        raise InputError(f"{name}: fps must be a number, got {fps!r}")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError(f"{name}: columns must be a list of column names, got {_short(columns)}")
    if not isinstance(frames, list):
        raise InputError(f"{name}: frames must be a list of rows, got {_short(frames)}")
    return _from_table(columns, frames, _checked_fps(fps, name), name, first_row=1)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _checked_fps(fps: float, name: str) -> float:
    try:
        return check_fps(fps)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def _from_table(header: list[str], rows: list, fps: float, name: str, first_row: int = 2) -> MotionTrack:
    table = _numbers(header, rows, name, first_row)
    col = {h: i for i, h in enumerate(header)}
    missing = [c for c in ("yaw", "pitch", "roll") if c not in col]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    _check_ranges(table, header, name, first_row)
    n = len(table)
    coefficients = np.zeros((n, len(BLENDSHAPES)))
    for k, shape in enumerate(BLENDSHAPES):
        if shape in col:
            coefficients[:, k] = table[:, col[shape]]
    angles = table[:, [col["yaw"], col["pitch"], col["roll"]]]
    translation = table[:, [col["tx"], col["ty"]]] if "tx" in col and "ty" in col else None
    scale = table[:, col["scale"]] if "scale" in col else None
    openings = table[:, [col[c] for c in OPENINGS]] if all(c in col for c in OPENINGS) else None
    return MotionTrack(fps, np.clip(coefficients, 0, 1), angles, translation, scale, openings)


def _check_ranges(table: np.ndarray, header: list[str], name: str, first_row: int) -> None:
    for c, column in enumerate(header):
        if column not in PARAMETER_LIMITS:
            continue
        lo, hi = LIMITS[PARAMETER_LIMITS[column]]
        bad = np.flatnonzero((table[:, c] < lo) | (table[:, c] > hi))
        if len(bad):
            r = bad[0]
            raise InputError(f"{name}: row {r + first_row}, column {column!r}: {table[r, c]:g} is outside {lo:g}..{hi:g}")


def _numbers(header: list[str], rows: list, name: str, first_row: int = 2) -> np.ndarray:
    """Rows of numbers; the first bad cell raises with its row (file line) and column."""
    if not rows:
        raise InputError(f"{name} has no frames")
    out = np.zeros((len(rows), len(header)))
    for r, row in enumerate(rows):
        where = f"{name}: row {r + first_row}"
        if not isinstance(row, list | tuple):
            raise InputError(f"{where} is not a list of numbers, got {_short(row)}")
        if len(row) != len(header):
            raise InputError(f"{where} has {len(row)} values, the header has {len(header)} columns")
        for c, value in enumerate(row):
            try:
                if isinstance(value, bool):
                    raise TypeError
                out[r, c] = float(value)
            except (TypeError, ValueError, OverflowError):
                raise InputError(f"{where}, column {header[c]!r}: expected a number, got {_short(value)}") from None
            if not np.isfinite(out[r, c]):
                raise InputError(f"{where}, column {header[c]!r}: expected a finite number, got {_short(value)}")
    return out


def _column(header: list[str], rows: list, column: str, name: str, first_row: int) -> np.ndarray:
    if column not in header:
        raise InputError(f"{name}: missing column {column!r}; is it a facedyn motion CSV (see `facedyn track`)?")
    c = header.index(column)
    return _numbers([column], [[row[c] if c < len(row) else ""] for row in rows], name, first_row)[:, 0]


def _fps_from_times(times: np.ndarray, name: str) -> float:
    if len(times) < 2:
        raise InputError(f"{name}: needs at least 2 frames to know its frame rate, has {len(times)}")
    steps = np.diff(times)
    if not np.median(steps) > 0:
        raise InputError(f"{name}: the time column must increase from row to row")
    rate = 1.0 / float(np.median(steps))
    if not MIN_FPS <= rate <= MAX_FPS:
        raise InputError(f"{name}: its times give {rate:.3g} frames per second; times are seconds, "
                         f"{MIN_FPS:g}..{MAX_FPS:g} fps")
    return float(round(rate)) if abs(rate - round(rate)) < 0.005 * rate else round(rate, 3)  # 59.94 from rounding -> 60


_TIMECODE = re.compile(r"^(\d+):(\d+):(\d+):(\d+(?:\.\d+)?)$")
TIMECODE_BASE = 60.0  # Live Link Face counts the frame field on a 60-per-second base


def _from_arkit(header: list[str], rows: list, name: str, first_row: int = 2) -> MotionTrack:
    """Live Link Face CSV: Timecode, BlendShapeCount, 52 PascalCase blendshapes, head and eye
    rotations in radians."""
    times = []
    for r, row in enumerate(rows):
        m = _TIMECODE.match(row[0].strip()) if row else None
        if not m:
            got = _short(row[0]) if row else "an empty row"
            raise InputError(f"{name}: row {r + first_row}, column 'Timecode': expected HH:MM:SS:FF.fff, got {got}")
        h, mnt, s, f = (float(g) for g in m.groups())
        times.append(3600 * h + 60 * mnt + s + f / TIMECODE_BASE)
    fps = _fps_from_times(np.array(times), name)
    renamed = [h[0].lower() + h[1:] if h[:1].isupper() else h for h in header]
    wanted = [i for i, h in enumerate(renamed) if h in BLENDSHAPES or h in ("headYaw", "headPitch", "headRoll")]
    if not any(renamed[i] in BLENDSHAPES for i in wanted):
        raise InputError(f"{name}: no ARKit blendshape columns (EyeBlinkLeft, JawOpen, ...)")
    table = _numbers([header[i] for i in wanted], [[row[i] if i < len(row) else "" for i in wanted] for row in rows], name,
                     first_row)
    columns = [renamed[i] for i in wanted]
    col = {h: k for k, h in enumerate(columns)}
    angles = np.zeros((len(rows), 3))
    for k, key in enumerate(("headYaw", "headPitch", "headRoll")):
        if key in col:
            angles[:, k] = np.degrees(table[:, col[key]])
    _check_ranges(angles, ["yaw", "pitch", "roll"], name, first_row)
    coefficients = np.zeros((len(rows), len(BLENDSHAPES)))
    for k, shape in enumerate(BLENDSHAPES):
        if shape in col:
            coefficients[:, k] = table[:, col[shape]]
    return MotionTrack(fps, np.clip(coefficients, 0, 1), angles)
