"""Motion files: FaceDynamics as numbers on disk (facedyn JSON/CSV, ARKit-style CSV).

facedyn motion format, version 1. JSON:

    {"format": "facedyn.motion", "version": 1, "fps": 30.0,
     "columns": ["time", "yaw", "pitch", "roll", "tx", "ty", "scale",
                 "gazeRightX", "gazeRightY", "gazeLeftX", "gazeLeftY", <52 ARKit names>],
     "frames": [[0.0, 0.0, ...], ...]}

CSV: the same columns as a header row, one row per frame. Units: time in seconds; yaw,
pitch, roll in degrees relative to the clip's first frame (yaw > 0 turns the face towards
the image's left, pitch > 0 up, roll > 0 clockwise); tx, ty head movement in face heights
(x right, y down); scale head size relative to the first frame; gaze* the iris centre's
offset from the eye-corner midpoint over the eye width (information only: playback uses the
eyeLook* coefficients); blendshapes 0..1 (rig.BLENDSHAPES). No pixels.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from facedyn.drivers.parametric import MotionTrack, shared_rig
from facedyn.drivers.video import VideoDriver
from facedyn.errors import InputError
from facedyn.geometry.pose import rotation_to_angles
from facedyn.io.files import write_atomic
from facedyn.rig import BLENDSHAPES

FORMAT, VERSION = "facedyn.motion", 1
POSE_COLUMNS = ("time", "yaw", "pitch", "roll", "tx", "ty", "scale")
GAZE_COLUMNS = ("gazeRightX", "gazeRightY", "gazeLeftX", "gazeLeftY")
COLUMNS = (*POSE_COLUMNS, *GAZE_COLUMNS, *BLENDSHAPES)


def track_video(path: str | Path, tracker, smoothing: bool = True) -> tuple[MotionTrack, np.ndarray]:
    """Extract a motion track from the face in a video.

    Expression offsets are taken against the clip's per-vertex median mesh (the face at rest
    most of the time) and solved into rig coefficients; pose is relative to the first frame.

    Returns:
        (track, gaze (N, 4) [right x, right y, left x, left y]).

    Raises:
        InputError, NoFaceError: unreadable video, no face.
    """
    motion = VideoDriver(Path(path), "first", smoothing).open(tracker)
    frames = [f.dynamics for f in motion.frames]
    shapes = np.array([d.shape for d in frames], dtype=np.float64)
    ref = motion.reference.rotation
    angles = np.array([rotation_to_angles(d.rotation @ ref.T) for d in frames])
    coefficients = shared_rig().solve(shapes - np.median(shapes, axis=0))
    gaze = np.array([d.gaze.ravel() for d in frames])
    track = MotionTrack(float(motion.fps), coefficients, angles,
                        np.array([d.translation for d in frames]), np.array([d.scale for d in frames]))
    return track, gaze


def _rows(track: MotionTrack, gaze: np.ndarray | None) -> np.ndarray:
    n = len(track)
    translation = np.zeros((n, 2)) if track.translation is None else track.translation
    scale = np.ones(n) if track.scale is None else track.scale
    gaze = np.zeros((n, 4)) if gaze is None else gaze
    return np.column_stack([np.arange(n) / track.fps, track.angles, translation, scale, gaze, track.coefficients])


def save_motion(track: MotionTrack, path: str | Path, gaze: np.ndarray | None = None) -> Path:
    """Write a motion file, JSON or CSV by the suffix (atomically).

    Raises:
        InputError: a suffix other than .json or .csv, or a missing folder.
    """
    path = Path(path)
    if path.suffix.lower() not in (".json", ".csv"):
        raise InputError(f"motion files end in .json or .csv, got {path.name}")
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}; create it first")
    rows = np.round(_rows(track, gaze), 5)
    if path.suffix.lower() == ".json":
        data = {"format": FORMAT, "version": VERSION, "fps": track.fps, "columns": list(COLUMNS), "frames": rows.tolist()}
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, separators=(",", ":"))))
    else:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(COLUMNS)
                w.writerows(rows.tolist())
        write_atomic(path, write)
    return path


def load_motion(path: str | Path) -> MotionTrack:
    """Read a facedyn motion file (.json or .csv) or an ARKit-style face-capture CSV (detected
    by its Timecode and PascalCase blendshape columns).

    Raises:
        InputError: unreadable or malformed file, with the row and column at fault.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read motion file {path}: {exc}") from None
    if path.suffix.lower() == ".json":
        return _from_json(text, path.name)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputError(f"{path.name} is empty")
    header = [h.strip() for h in rows[0]]
    if "Timecode" in header:
        return _from_arkit(header, rows[1:], path.name)
    fps = _fps_from_times(_column(header, rows[1:], "time", path.name), path.name)
    return _from_table(header, rows[1:], fps, path.name)


def _from_json(text: str, name: str) -> MotionTrack:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{name} is not a facedyn motion file (format must be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise InputError(f"{name} has motion format version {data.get('version')!r}; this facedyn reads version {VERSION}")
    fps = data.get("fps")
    if not isinstance(fps, int | float) or fps <= 0:
        raise InputError(f"{name}: fps must be a positive number, got {fps!r}")
    return _from_table(list(data.get("columns", [])), data.get("frames", []), float(fps), name)


def _from_table(header: list[str], rows: list, fps: float, name: str) -> MotionTrack:
    table = _numbers(header, rows, name)
    col = {h: i for i, h in enumerate(header)}
    missing = [c for c in ("yaw", "pitch", "roll") if c not in col]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    n = len(table)
    coefficients = np.zeros((n, len(BLENDSHAPES)))
    for k, shape in enumerate(BLENDSHAPES):
        if shape in col:
            coefficients[:, k] = table[:, col[shape]]
    angles = table[:, [col["yaw"], col["pitch"], col["roll"]]]
    translation = table[:, [col["tx"], col["ty"]]] if "tx" in col and "ty" in col else None
    scale = table[:, col["scale"]] if "scale" in col else None
    return MotionTrack(fps, np.clip(coefficients, 0, 1), angles, translation, scale)


def _numbers(header: list[str], rows: list, name: str, first_row: int = 2) -> np.ndarray:
    """Rows of numbers; the first bad cell raises with its row (file line) and column."""
    if not rows:
        raise InputError(f"{name} has no frames")
    out = np.zeros((len(rows), len(header)))
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise InputError(f"{name}: row {r + first_row} has {len(row)} values, the header has {len(header)} columns")
        for c, value in enumerate(row):
            try:
                out[r, c] = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{name}: row {r + first_row}, column {header[c]!r}: expected a number, got {value!r}") from None
            if not np.isfinite(out[r, c]):
                raise InputError(f"{name}: row {r + first_row}, column {header[c]!r}: expected a finite number, got {value!r}")
    return out


def _column(header: list[str], rows: list, column: str, name: str) -> np.ndarray:
    if column not in header:
        raise InputError(f"{name}: missing column {column!r}")
    c = header.index(column)
    return _numbers([column], [[row[c] if c < len(row) else ""] for row in rows], name)[:, 0]


def _fps_from_times(times: np.ndarray, name: str) -> float:
    steps = np.diff(times)
    if len(steps) == 0 or np.median(steps) <= 0:
        raise InputError(f"{name}: the time column must increase from row to row")
    rate = 1.0 / float(np.median(steps))
    return float(round(rate)) if abs(rate - round(rate)) < 0.005 * rate else round(rate, 3)  # 59.94 from rounding -> 60


_TIMECODE = re.compile(r"^(\d+):(\d+):(\d+):(\d+(?:\.\d+)?)$")
TIMECODE_BASE = 60.0  # Live Link Face counts the frame field on a 60-per-second base


def _from_arkit(header: list[str], rows: list, name: str) -> MotionTrack:
    """Live Link Face CSV: Timecode, BlendShapeCount, 52 PascalCase blendshapes, head and eye
    rotations in radians."""
    times = []
    for r, row in enumerate(rows):
        m = _TIMECODE.match(row[0].strip()) if row else None
        if not m:
            raise InputError(f"{name}: row {r + 2}, column 'Timecode': expected HH:MM:SS:FF.fff, got {row[0] if row else ''!r}")
        h, mnt, s, f = (float(g) for g in m.groups())
        times.append(3600 * h + 60 * mnt + s + f / TIMECODE_BASE)
    fps = _fps_from_times(np.array(times), name)
    renamed = [h[0].lower() + h[1:] if h[:1].isupper() else h for h in header]
    wanted = [i for i, h in enumerate(renamed) if h in BLENDSHAPES or h in ("headYaw", "headPitch", "headRoll")]
    if not any(renamed[i] in BLENDSHAPES for i in wanted):
        raise InputError(f"{name}: no ARKit blendshape columns (EyeBlinkLeft, JawOpen, ...)")
    table = _numbers([header[i] for i in wanted], [[row[i] if i < len(row) else "" for i in wanted] for row in rows], name)
    columns = [renamed[i] for i in wanted]
    col = {h: k for k, h in enumerate(columns)}
    angles = np.zeros((len(rows), 3))
    for k, key in enumerate(("headYaw", "headPitch", "headRoll")):
        if key in col:
            angles[:, k] = np.degrees(table[:, col[key]])
    coefficients = np.zeros((len(rows), len(BLENDSHAPES)))
    for k, shape in enumerate(BLENDSHAPES):
        if shape in col:
            coefficients[:, k] = table[:, col[shape]]
    return MotionTrack(fps, np.clip(coefficients, 0, 1), angles)
