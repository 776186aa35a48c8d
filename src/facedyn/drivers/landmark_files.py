"""Landmark files: sparse 68-point (or dense 478-point) face landmarks per frame, as the
usual face tools write them. Read by `read_landmarks`; the layout is found from the path
and the content, or forced with `layout`:

- "rows": one frame per line, 136 numbers `x0 y0 x1 y1 ... x67 y67`, separated by spaces
  or commas (LRNet, face-alignment dumps);
- "frames": a folder of per-frame text files (vid2vid: 68 lines `x,y`), or of 300-W/300-VW
  `.pts` files, read in name order (numbers in names counted as numbers: 2 before 10); a
  single such file is one frame;
- "numpy": `.npy` / `.npz` arrays of shape (N, 68, 2), (N, 68, 3) or (N, 478, 3) (an .npz
  holds one array, or one named "landmarks");
- "openface": an OpenFace 2.x FeatureExtraction CSV. Its x_0..x_67 / y_0..y_67 columns are
  the landmarks, gaze_angle_x/y the gaze; rows with success 0 are missing frames, filled
  from their neighbours. A file without landmark columns drives the face from its action
  units, head pose and gaze instead (see `au_motion`).

Coordinates are image pixels (x right, y down). Values that all lie in [-1, 1] or [0, 1]
are taken as normalised (said in a notice) and read as a 512-pixel frame: the driver uses
only the motion, so the frame's size does not matter.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facedyn.drivers.parametric import MotionTrack, check_fps
from facedyn.errors import InputError, OutputError
from facedyn.io.files import check_output, existing_file, os_error_reason, write_atomic
from facedyn.rig import BLENDSHAPES
from facedyn.rig.sparse import gaze_coefficients

log = logging.getLogger(__name__)

LAYOUTS = ("auto", "rows", "frames", "numpy", "openface")
MAX_FILE_BYTES = 512 * 2**20  # 478 points x 3 x 8 bytes is 11 KB a frame: 45 minutes at 30 fps
MAX_FRAME_FILES = 200_000
NORMALISED_SIZE = 512.0  # pixels of the frame a normalised file is read into
FRAME_SUFFIXES = (".txt", ".csv", ".pts", ".lms")


@dataclass(frozen=True)
class LandmarkSequence:
    """Landmarks per frame, read from a file.

    points: (N, K, D) float64 in pixels (x right, y down), K = 68 (iBUG 300-W / dlib order)
        or 478 (MediaPipe mesh), D = 2 or 3 (a third column is depth, ignored for 68).
    fps: the frame rate the file states (OpenFace timestamps), or None.
    missing: indices of frames the file marks as failed, filled from their neighbours.
    gaze: (N, 2) float gaze angles (x, y) in radians from OpenFace, or None.
    path: the file or folder it was read from.
    """

    points: np.ndarray
    fps: float | None = None
    missing: tuple[int, ...] = ()
    gaze: np.ndarray | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.points)


def read_landmarks(path: str | Path, layout: str = "auto") -> LandmarkSequence | MotionTrack:
    """Read a landmark file or folder.

    Args:
        path: the file or folder.
        layout: one of LAYOUTS ("auto": from the path and the content).

    Returns:
        A LandmarkSequence, or a MotionTrack for an OpenFace file without landmark columns.

    Raises:
        InputError: a missing, unreadable, empty or malformed file, naming the file, row and
            column at fault.
    """
    if layout not in LAYOUTS:
        raise InputError(f"landmark layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    path = Path(path)
    if path.is_dir():
        if layout not in ("auto", "frames"):
            raise InputError(f"{path} is a folder; the {layout!r} layout is a single file")
        return _with_path(_read_folder(path), path)
    path = existing_file(path, "landmark file", "a landmark file (.txt, .csv, .pts, .npy, .npz) or a folder of them")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB; it is not a landmark file")
    if layout == "numpy" or (layout == "auto" and path.suffix.lower() in (".npy", ".npz")):
        return _with_path(_read_numpy(path), path)
    text = _text(path)
    if layout == "openface" or (layout == "auto" and looks_like_openface(text)):
        result = parse_openface(text, path.name)
    elif layout == "frames":
        result = LandmarkSequence(to_pixels(parse_frame_file(text, path.name)[None], path.name))
    else:
        result = parse_text(text, path.name)
    return _with_path(result, path)


def _with_path(result, path: Path):
    return replace(result, path=path)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; read as text by the layout asked for, it must be UTF-8 "
                         "(a .npy/.npz array is read with the numpy layout, or auto)") from None
    except OSError as exc:
        raise InputError(f"cannot read landmark file {path}: {exc}") from None


def looks_like_openface(text: str) -> bool:
    """True when the first line of `text` is an OpenFace CSV header."""
    header = text.lstrip().split("\n", 1)[0]
    names = {cell.strip() for cell in header.split(",")}
    return "success" in names and ("x_0" in names or "AU01_r" in names or "pose_Rx" in names)


def parse_text(text: str, name: str = "landmarks") -> LandmarkSequence:
    """A text file of numbers: rows of 136 (one frame each), or points of 2 or 3 (x y [z],
    68 lines per frame).

    Raises:
        InputError: anything else, naming the row and column.
    """
    rows = _number_rows(text, name)
    widths = {len(r) for _, r in rows}
    if widths <= {2, 3}:
        if len(rows) % 68:
            raise InputError(f"{name} has {len(rows)} line(s) of 2 or 3 values; expected 68 lines of x,y per frame, "
                             "or one frame per row of 136 values (x0 y0 ... x67 y67)")
        return LandmarkSequence(to_pixels(np.array([r[:2] for _, r in rows]).reshape(-1, 68, 2), name))
    for line, row in rows:
        if len(row) != 136:
            raise InputError(f"{name}: row {line} has {len(row)} values; expected 136 (x0 y0 x1 y1 ... x67 y67), "
                             "one frame per row")
    return LandmarkSequence(to_pixels(np.array([r for _, r in rows]).reshape(-1, 68, 2), name))


_SPLIT = re.compile(r"[,\s;]+")


def _number_rows(text: str, name: str) -> list[tuple[int, list[float]]]:
    """(file line, numbers) per non-empty line; the first bad cell raises with its place."""
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        cells = [c for c in _SPLIT.split(raw.strip()) if c]
        if not cells:
            continue
        values = []
        for column, cell in enumerate(cells, start=1):
            values.append(_number(cell, f"{name}: row {line}, column {column}"))
        rows.append((line, values))
    if not rows:
        raise InputError(f"{name} is empty; expected landmarks, one frame per row")
    return rows


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        shown = cell if len(cell) <= 20 else cell[:17] + "..."
        raise InputError(f"{where}: expected a number, got {shown!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {cell!r}")
    return value


def parse_frame_file(text: str, name: str = "frame") -> np.ndarray:
    """One frame: 68 lines `x,y` (or `x y`), or a 300-W `.pts` file (version / n_points
    header, the points between braces).

    Returns:
        (68, 2) float64.

    Raises:
        InputError: anything else, naming the line.
    """
    if "{" in text:
        header, _, rest = text.partition("{")
        body, closed, _ = rest.partition("}")
        if not closed:
            raise InputError(f"{name}: a .pts file's points must end with '}}'")
        count = re.search(r"n_points\s*:\s*(\d+)", header)
        if count and int(count.group(1)) != 68:
            raise InputError(f"{name} has {count.group(1)} points; expected 68 (the iBUG 300-W layout)")
        offset = header.count("\n") + 1
        text = "\n" * (offset - 1) + body
    rows = _number_rows(text, name)
    for line, row in rows:
        if len(row) != 2:
            raise InputError(f"{name}: row {line} has {len(row)} values; expected 2 (x,y)")
    if len(rows) != 68:
        raise InputError(f"{name} has {len(rows)} points; expected 68 (the iBUG 300-W / dlib layout)")
    return np.array([r for _, r in rows])


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _read_folder(folder: Path) -> LandmarkSequence:
    try:
        files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()]
    except OSError as exc:
        raise InputError(f"cannot read folder {folder}: {exc}") from None
    if not files:
        raise InputError(f"{folder} has no landmark files ({', '.join(FRAME_SUFFIXES)}); expected one per frame")
    if len(files) > MAX_FRAME_FILES:
        raise InputError(f"{folder} has {len(files)} files; at most {MAX_FRAME_FILES} frames are read from a folder")
    frames = [parse_frame_file(_text(p), p.name) for p in sorted(files, key=_natural_key)]
    return LandmarkSequence(to_pixels(np.array(frames), folder.name))


def _read_numpy(path: Path) -> LandmarkSequence:
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            array = data
        else:
            with data:
                array = _pick_array(data, path.name)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise InputError(f"cannot read {path.name} as a numpy array: {str(exc)[:200]}") from None
    return from_array(array, path.name)


def _pick_array(data, name: str) -> np.ndarray:
    keys = list(data.keys())
    if "landmarks" in keys:
        return data["landmarks"]
    if len(keys) != 1:
        raise InputError(f"{name} holds {len(keys)} arrays ({', '.join(keys[:5])}); "
                         "expected one, or one named 'landmarks'")
    return data[keys[0]]


def from_array(array: np.ndarray, name: str = "landmarks") -> LandmarkSequence:
    """Landmarks from an array of shape (N, 68, 2), (N, 68, 3) or (N, 478, 3).

    Raises:
        InputError: another shape, a non-numeric dtype, or values that are not finite.
    """
    array = np.asarray(array)
    _check_shape(array, name)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{name}: expected numbers, got an array of {array.dtype}")
    array = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        frame, point, axis = bad[0]
        raise InputError(f"{name}: frame {frame}, point {point}, {'xyz'[axis]}: expected a finite number, "
                         f"got {array[frame, point, axis]}")
    return LandmarkSequence(to_pixels(array, name))


def from_tracks(points: np.ndarray, fps: float | None = None, path: Path | None = None,
                name: str = "landmarks") -> LandmarkSequence:
    """Landmarks from a tracker's output, where a frame without a face is a row of NaN.

    Args:
        points: (N, 68, 2), (N, 68, 3) or (N, 478, 3) float pixels; NaN rows are frames without a face,
            filled from their neighbours and listed in `missing`.

    Raises:
        InputError: another shape, or no frame with a face.
    """
    points = np.asarray(points, dtype=np.float64)
    _check_shape(points, name)
    ok = np.isfinite(points).all(axis=(1, 2))
    if not ok.any():
        raise InputError(f"{name}: no frame has landmarks")
    missing = tuple(np.flatnonzero(~ok).tolist())
    return LandmarkSequence(fill_frames(points, ok) if missing else points, fps, missing, path=path)


def _check_shape(array: np.ndarray, name: str) -> None:
    """Raises InputError unless `array` is (N, 68, 2), (N, 68, 3) or (N, 478, 3) with N >= 1."""
    if array.ndim != 3 or len(array) == 0 or array.shape[1:] not in ((68, 2), (68, 3), (478, 3)):
        raise InputError(f"{name}: expected landmarks of shape (N, 68, 2), (N, 68, 3) or (N, 478, 3), "
                         f"got {array.shape}")


def to_pixels(points: np.ndarray, name: str) -> np.ndarray:
    """`points` (N, K, D) as pixels: normalised values ([-1, 1] or [0, 1], said in a notice)
    are spread over a NORMALISED_SIZE frame; pixels stay as they are."""
    xy = points[..., :2]
    if np.abs(xy).max() > 1.0:
        return points
    out = points.copy()
    if xy.min() < 0:
        log.warning("%s: coordinates lie in [-1, 1]; reading them as normalised, in a %d-pixel frame",
                    name, NORMALISED_SIZE)
        out[..., :2] = (xy + 1.0) * NORMALISED_SIZE / 2
    else:
        log.warning("%s: coordinates lie in [0, 1]; reading them as normalised, in a %d-pixel frame",
                    name, NORMALISED_SIZE)
        out[..., :2] = xy * NORMALISED_SIZE
    return out


# ---- OpenFace 2.x FeatureExtraction CSV ------------------------------------------------------

def parse_openface(text: str, name: str = "openface.csv") -> LandmarkSequence | MotionTrack:
    """An OpenFace 2.x CSV: its 68 landmarks, or (without landmark columns) a MotionTrack
    from its action units, head pose and gaze.

    Handles CRLF, `", "` and `",  "` separators, files without a face_id column (early
    builds) and several faces (face_id 0 is used). Rows with success 0 are missing frames:
    filled from their neighbours (held at the ends) and counted in a notice.

    Raises:
        InputError: malformed content, naming the row and column; a file with no usable row.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        raise InputError(f"{name} has no frames; expected an OpenFace header and one row per frame")
    header = [h.strip() for h in lines[0].split(",")]
    col = {h: i for i, h in enumerate(header)}
    if "success" not in col:
        raise InputError(f"{name}: no 'success' column; is it an OpenFace FeatureExtraction CSV?")
    wanted = _openface_columns(col)
    table = np.empty((len(lines) - 1, len(wanted)))
    for r, line in enumerate(lines[1:]):
        cells = line.split(",")
        if len(cells) != len(header):
            raise InputError(f"{name}: row {r + 2} has {len(cells)} values, the header has {len(header)} columns")
        for k, c in enumerate(wanted):
            table[r, k] = _number(cells[col[c]].strip(), f"{name}: row {r + 2}, column {c!r}")
    values = {c: table[:, k] for k, c in enumerate(wanted)}
    if "face_id" in values:  # several faces: keep the first
        keep = values["face_id"] == values["face_id"].min()
        values = {c: v[keep] for c, v in values.items()}
    ok = values["success"] > 0.5
    if not ok.any():
        raise InputError(f"{name}: every row has success 0 (OpenFace found no face); nothing to drive with")
    missing = tuple(int(i) for i in np.flatnonzero(~ok))
    fps = _openface_fps(values.get("timestamp"), ok, name)
    gaze = fill_frames(np.column_stack([values["gaze_angle_x"], values["gaze_angle_y"]]), ok) \
        if "gaze_angle_x" in values and "gaze_angle_y" in values else None
    if "x_0" in values:
        xy = np.stack([np.column_stack([values[f"x_{i}"], values[f"y_{i}"]]) for i in range(68)], axis=1)
        return LandmarkSequence(fill_frames(xy, ok), fps, missing, gaze)
    if missing:  # a landmark driver counts its missing frames itself; a MotionTrack has no such list
        log.warning("%s: %d of %d frames have success 0 (no face tracked); they are filled from their neighbours",
                    name, len(missing), len(ok))
    return au_motion(values, ok, fps or 25.0, gaze, name)


def _openface_columns(col: dict) -> list[str]:
    names = ["success"] + [c for c in ("face_id", "timestamp", "gaze_angle_x", "gaze_angle_y",
                                       "pose_Rx", "pose_Ry", "pose_Rz") if c in col]
    names += [c for c in col if re.fullmatch(r"AU\d\d_r", c)]
    if "x_0" in col:
        points = [f"{a}_{i}" for i in range(68) for a in ("x", "y")]
        absent = [p for p in points if p not in col]
        if absent:
            raise InputError(f"openface file has x_0 but no {absent[0]} column; expected x_0..x_67 and y_0..y_67")
        names += points
    return names


def _openface_fps(times: np.ndarray | None, ok: np.ndarray, name: str) -> float | None:
    if times is None or len(times) < 2:
        return None
    steps = np.diff(times)
    step = float(np.median(steps))
    if not step > 0:
        raise InputError(f"{name}: the timestamp column must increase from row to row")
    rate = 1.0 / step
    rate = float(round(rate)) if abs(rate - round(rate)) < 0.01 * rate else round(rate, 3)
    try:
        return check_fps(rate)
    except InputError:
        raise InputError(f"{name}: its timestamps give {rate:g} frames per second; timestamps are seconds") from None


def fill_frames(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """`values` (N, ...) with the rows where `ok` is False interpolated from the good rows
    around them (held at the ends)."""
    good = np.flatnonzero(ok)
    flat = values.reshape(len(values), -1)
    out = np.empty_like(flat)
    frames = np.arange(len(values))
    for k in range(flat.shape[1]):
        out[:, k] = np.interp(frames, good, flat[good, k])
    return out.reshape(values.shape)


# OpenFace action units -> ARKit blendshapes: (AU, blendshapes it drives, weight). An AU's
# intensity (0..5) becomes a coefficient of intensity / AU_FULL, capped at 1: AU_FULL is a
# strong, clearly visible action. Lips part (AU25) opens the jaw a little, a jaw drop
# (AU26) fully; the two add up.
AU_FULL = 3.0
AU_MAP = (
    ("AU01", ("browInnerUp",), 1.0),
    ("AU02", ("browOuterUpLeft", "browOuterUpRight"), 1.0),
    ("AU04", ("browDownLeft", "browDownRight"), 1.0),
    ("AU05", ("eyeWideLeft", "eyeWideRight"), 1.0),
    ("AU06", ("cheekSquintLeft", "cheekSquintRight"), 1.0),
    ("AU07", ("eyeSquintLeft", "eyeSquintRight"), 1.0),
    ("AU09", ("noseSneerLeft", "noseSneerRight"), 1.0),
    ("AU10", ("mouthUpperUpLeft", "mouthUpperUpRight"), 1.0),
    ("AU12", ("mouthSmileLeft", "mouthSmileRight"), 1.0),
    ("AU14", ("mouthDimpleLeft", "mouthDimpleRight"), 1.0),
    ("AU15", ("mouthFrownLeft", "mouthFrownRight"), 1.0),
    ("AU17", ("mouthShrugLower",), 1.0),
    ("AU20", ("mouthStretchLeft", "mouthStretchRight"), 1.0),
    ("AU23", ("mouthPressLeft", "mouthPressRight"), 1.0),
    ("AU25", ("jawOpen",), 0.3),
    ("AU26", ("jawOpen",), 1.0),
    ("AU45", ("eyeBlinkLeft", "eyeBlinkRight"), 1.0),
)


def au_motion(values: dict, ok: np.ndarray, fps: float, gaze: np.ndarray | None, name: str) -> MotionTrack:
    """A MotionTrack from OpenFace action units (AU_MAP), head rotation (pose_R*, relative
    to the first tracked frame) and gaze angles (relative to their median: OpenFace measures
    them from the camera, which is rarely straight ahead); failed rows filled from their
    neighbours.

    Raises:
        InputError: a file with no AU intensity columns.
    """
    present = [au for au, _, _ in AU_MAP if f"{au}_r" in values]
    if not present:
        raise InputError(f"{name}: no landmark (x_0..x_67) and no action unit (AU01_r, ...) columns; "
                         "nothing to drive with")
    coefficients = np.zeros((len(ok), len(BLENDSHAPES)))
    for au, shapes, weight in AU_MAP:
        if f"{au}_r" in values:
            level = fill_frames(values[f"{au}_r"], ok) / AU_FULL * weight
            for shape in shapes:
                coefficients[:, BLENDSHAPES.index(shape)] += level
    if gaze is not None:
        coefficients += gaze_coefficients(gaze - np.median(gaze[ok], axis=0))
    angles = np.zeros((len(ok), 3))
    if all(f"pose_R{a}" in values for a in "xyz"):
        # OpenFace: Rx pitch (> 0 looks down), Ry yaw (> 0 turns towards the image's left),
        # Rz roll, in radians in the camera frame; facedyn: yaw > 0 towards the image's left,
        # pitch > 0 up, roll > 0 clockwise.
        rx, ry, rz = (fill_frames(values[f"pose_R{a}"], ok) for a in "xyz")
        raw = np.degrees(np.column_stack([ry, -rx, rz]))
        angles = raw - raw[int(np.flatnonzero(ok)[0])]
    angles = np.clip(angles, -180.0, 180.0)
    return MotionTrack(fps, np.clip(coefficients, 0.0, 1.0), angles)


# ---- writing ---------------------------------------------------------------------------------

LANDMARK_SUFFIXES = (".txt", ".csv", ".npy")


def save_landmarks(points: np.ndarray, path: str | Path, inputs: tuple = ()) -> Path:
    """Write 68-point landmarks, atomically: `.txt`/`.csv` one frame per row of 136 numbers
    (x0 y0 ... x67 y67, pixels), `.npy` an (N, 68, 2) float32 array, and a path without a
    suffix a new folder of 300-W `.pts` files (00000.pts, ...).

    Args:
        points: (N, 68, 2) float pixels.
        inputs: paths the output may not overwrite (the tracked video).

    Raises:
        InputError: another suffix, an existing folder, a missing parent, an input as output.
        OutputError: the file system refused the write.
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ValueError(f"expected (N, 68, 2) landmarks, got {points.shape}")
    path = check_landmark_output(path, inputs)
    if path.suffix:
        if path.suffix.lower() == ".npy":
            write_atomic(path, lambda tmp: _save_npy(tmp, points))
        else:
            sep = "," if path.suffix.lower() == ".csv" else " "
            rows = "\n".join(sep.join(f"{v:.2f}" for v in frame.ravel()) for frame in points) + "\n"
            write_atomic(path, lambda tmp: tmp.write_text(rows))
        return path
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for k, frame in enumerate(points):
            body = "\n".join(f"{x:.2f} {y:.2f}" for x, y in frame)
            (tmp / f"{k:05d}.pts").write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
        os.rename(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot write {path}: {os_error_reason(exc)}; nothing was written") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def check_landmark_output(path: str | Path, inputs: tuple = ()) -> Path:
    """The output path of `save_landmarks`, checked before any work: a file with one of
    LANDMARK_SUFFIXES, or (no suffix) a new folder for .pts files.

    Raises:
        InputError: another suffix, an existing folder, a missing parent, an input as output.
    """
    path = Path(path)
    if path.suffix:
        return check_output(path, LANDMARK_SUFFIXES, inputs, kind="landmark file")
    if path.exists():
        raise InputError(f"the output folder {path} exists; give a new folder name for the .pts files")
    if not path.parent.is_dir():
        raise InputError(f"cannot write to {path}: the folder {path.parent} does not exist")
    return path


def _save_npy(tmp: Path, points: np.ndarray) -> None:
    with tmp.open("wb") as f:
        np.save(f, points.astype(np.float32), allow_pickle=False)
