"""Calibrate the rig's amplitudes against real expressions in the test videos.

How: every video in TESTDATA/videos is tracked (MediaPipe mesh, video mode) and each frame's
mesh is taken into the pose-free head frame. The clip's neutral is the per-vertex median
mesh (the face at rest most of the time). For six motions the script measures, per frame,
how far the face moved from that neutral, in face heights:

    jawOpen      inner-lip gap at the centre (lower lip 14 minus upper lip 13, y)
    mouthSmile   lip-corner travel along (outwards, upwards) / sqrt(2) direction, mean of corners
    browInnerUp  rise of the inner halves of the brows
    browDown     drop of the brows
    eyeWide      rise of the upper-lid centre above its neutral
    mouthPucker  share of the mouth width (corner to corner) lost

takes the 98th percentile of each video, and uses the largest of these over the videos as
the amplitude of coefficient 1: the most expressive clip for a motion (a wide-open surprised
mouth, a broad grin, raised or frowned brows, a pucker) stands for a full activation, and the
percentile keeps single tracking glitches out. The result is written to
src/facedyn/data/rig_calibration.json with the per-video percentiles.

    python tools/calibrate_rig.py [TESTDATA]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from facedyn.drivers.video import fill_gaps
from facedyn.geometry.pose import fit_head_pose
from facedyn.io import iter_frames
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T

PERCENTILE = 98
OUT = Path(__file__).resolve().parents[1] / "src" / "facedyn" / "data" / "rig_calibration.json"


def head_frame_meshes(tracker: FaceTracker, path: Path) -> np.ndarray:
    tracker.reset_video()
    tracked = fill_gaps(((None, tracker.track(f)) for f in iter_frames(path)), [], path)
    return np.array([fit_head_pose(p).to_head_frame(p) for _, p in tracked])


def measures(shapes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame motion away from the clip's median mesh, in face heights."""
    neutral = np.median(shapes, axis=0)
    d = shapes - neutral
    nose_x = neutral[T.NOSE_TIP, 0]
    brows = np.concatenate([T.RIGHT_BROW, T.LEFT_BROW])
    inner = brows[np.abs(neutral[brows, 0] - nose_x) < np.median(np.abs(neutral[brows, 0] - nose_x))]
    corner_out = np.sign(neutral[[61, 291], 0] - nose_x)
    smile = ((d[:, [61, 291], 0] * corner_out - d[:, [61, 291], 1]) / np.sqrt(2)).mean(1)
    width = np.linalg.norm(shapes[:, 61, :2] - shapes[:, 291, :2], axis=1)
    lids = np.array([T.RIGHT_EYE_UPPER[4], T.LEFT_EYE_UPPER[4]])
    return {
        "jawOpen": (shapes[:, 14, 1] - shapes[:, 13, 1]) - (neutral[14, 1] - neutral[13, 1]),
        "mouthSmile": smile,
        "browInnerUp": -d[:, inner, 1].mean(1),
        "browDown": d[:, brows, 1].mean(1),
        "eyeWide": -d[:, lids, 1].mean(1),
        "mouthPucker": 1 - width / np.median(width),
    }


def main() -> None:
    testdata = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "testdata"
    per_video = {}
    with FaceTracker() as tracker:
        for path in sorted((testdata / "videos").glob("*.mp4")):
            m = measures(head_frame_meshes(tracker, path))
            per_video[path.stem] = {k: round(float(np.percentile(v, PERCENTILE)), 4) for k, v in m.items()}
            print(path.stem, per_video[path.stem])
    amplitudes = {k: max(v[k] for v in per_video.values()) for k in next(iter(per_video.values()))}
    OUT.write_text(json.dumps({"how": __doc__.split("\n\n")[1:3], "percentile": PERCENTILE,
                               "amplitudes": amplitudes, "per_video": per_video}, indent=1) + "\n")
    print("amplitudes", amplitudes, "->", OUT)


if __name__ == "__main__":
    main()
