"""Build src/facedyn/data/head_template.npz: the frontal head frame that poses are fitted to.

1. The astronaut portrait shipped in scikit-image is meshed and turned frontal from its own
   axes (eye corners left-right, chin-forehead up), scaled to face height 1.
2. Each frame of the test videos is fitted to it; the vertices whose head-frame position
   varies least over all frames (over all expressions) form the rigid set, and the template
   shape becomes the mean head-frame shape over all frames (a face of many people).

Run once by a developer (needs ../shared/testdata or FACEDYN_TESTDATA):
    .venv/bin/python tools/make_template.py
"""

import os
from pathlib import Path

import numpy as np
from skimage import data

from facedyn.geometry.pose import Template, angles_to_rotation, fit_head_pose
from facedyn.io import iter_frames
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T

OUT = Path(__file__).resolve().parents[1] / "src/facedyn/data/head_template.npz"
TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata"))
N_RIGID = 120


def frontal_from_axes(pts: np.ndarray) -> np.ndarray:
    x = (pts[263] - pts[33]) + (pts[362] - pts[133]) + (pts[454] - pts[234])
    x /= np.linalg.norm(x)
    down = pts[152] - pts[10]
    y = down - x * (down @ x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    head = (pts - pts.mean(0)) @ np.stack([x, y, z], axis=1)
    return head / np.linalg.norm(down)


def non_rigid_regions() -> np.ndarray:
    idx = [T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP, T.RIGHT_IRIS, T.LEFT_IRIS, T.RIGHT_BROW, T.LEFT_BROW,
           T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER, T.LIPS_INNER_UPPER, T.LIPS_INNER_LOWER]
    return np.unique(np.concatenate(idx))


def main() -> None:
    with FaceTracker() as tracker:
        astro = data.astronaut()
        box = max(tracker.detect_faces(astro), key=lambda b: b.width * b.height)
        shape = frontal_from_axes(tracker.landmarks_in_box(astro, box))
        nose_y = shape[T.NOSE_TIP, 1]
        candidates = np.setdiff1d(np.where(shape[:, 1] < nose_y + 0.05)[0], non_rigid_regions())
        tmpl = Template(shape, candidates)
        heads, raw = [], []
        for video in sorted((TESTDATA / "videos").glob("*.mp4")):
            tracker.reset_video()
            for frame in iter_frames(video):
                pts = tracker.track(frame)
                if pts is not None:
                    heads.append(fit_head_pose(pts, tmpl).to_head_frame(pts))
                    raw.append(pts)
    heads = np.array(heads)
    for _ in range(2):  # refit on the rigid set found, then choose again
        spread = heads[:, candidates].std(axis=0).sum(axis=1)
        rigid = candidates[np.argsort(spread)[:N_RIGID]]
        mean = heads.mean(axis=0)
        tmpl = Template(mean - mean[rigid].mean(0), rigid)
        heads = np.array([fit_head_pose(h, tmpl).to_head_frame(h) for h in heads])
    # People in these videos face the camera on average: make their median pitch zero.
    pitch = np.median([fit_head_pose(p, tmpl).angles[1] for p in raw])
    level = angles_to_rotation(0.0, float(pitch), 0.0)
    tmpl = Template(tmpl.shape @ level.T, rigid)
    print(f"{len(heads)} frames; rigid vertices: {len(rigid)}; pitch levelled by {pitch:.1f} deg")
    np.savez_compressed(OUT, shape=tmpl.shape.astype(np.float32), rigid=np.sort(rigid).astype(np.int16))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
