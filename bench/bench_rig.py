"""Rig solve speed and how much of real expression motion the rig explains.

    python bench/bench_rig.py [TESTDATA]

Speed: one frame at a time (as a live driver would call it), median over the frames of every
test video. Explained variance: per video, the expression offsets (head-frame mesh minus the
clip's per-vertex median) against the rig's reconstruction of them,
1 - |offsets - apply(solve(offsets))|^2 / |offsets|^2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from facedyn.drivers.video import VideoDriver
from facedyn.rig import Rig
from facedyn.tracking import FaceTracker


def main() -> None:
    testdata = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "testdata"
    rig = Rig()
    rows, times = [], []
    with FaceTracker() as tracker:
        for path in sorted((testdata / "videos").glob("*.mp4")):
            motion = VideoDriver(path).open(tracker)
            shapes = np.array([f.dynamics.shape for f in motion.frames], dtype=np.float64)
            offsets = shapes - np.median(shapes, axis=0)
            solved = []
            for frame in offsets:
                start = time.perf_counter()
                solved.append(rig.solve(frame))
                times.append(time.perf_counter() - start)
            residual = offsets - rig.apply(np.array(solved))
            explained = 1 - (residual**2).sum() / (offsets**2).sum()
            rows.append((path.stem, len(shapes), explained))
    print("| video | frames | variance explained |\n|---|---|---|")
    for name, n, ev in rows:
        print(f"| {name} | {n} | {ev:.3f} |")
    print(f"| all (mean) | {sum(r[1] for r in rows)} | {np.mean([r[2] for r in rows]):.3f} |")
    t = np.array(times) * 1000
    print(f"\nsolve, one frame per call: median {np.median(t):.3f} ms, p90 {np.percentile(t, 90):.3f} ms, "
          f"max {t.max():.3f} ms over {len(t)} frames")


if __name__ == "__main__":
    main()
