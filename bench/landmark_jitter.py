"""Jitter and lag of the landmark driver, per landmark file: the lifted dense landmarks with
and without smoothing (outlier rejection + One-Euro), as RMS acceleration in face heights per
frame squared (eval.metrics.rms_acceleration), and the lag of the mouth opening (the frame
shift that best aligns smoothed with raw).

    .venv/bin/python bench/landmark_jitter.py [--frames 300]
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))


def lag(raw: np.ndarray, smooth: np.ndarray, most: int = 5) -> int:
    """Frames by which `smooth` trails `raw` (best correlation of the two signals)."""
    scores = [np.corrcoef(raw[: len(raw) - k], smooth[k:])[0, 1] for k in range(most + 1)]
    return int(np.argmax(scores))


def main() -> None:
    from facedyn import drivers
    from facedyn.eval import metrics as M
    from facedyn.tracking import topology as T

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    files = sorted(p for p in (TESTDATA / "motion").iterdir() if p.name.startswith(("landmarks68", "openface")))
    print("| file | frames | jitter raw | jitter smoothed | ratio | mouth lag (frames) |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in files:
        runs = []
        for smoothing in (False, True):
            driver = drivers.landmarks(path, smoothing=smoothing)
            if not isinstance(driver, drivers.LandmarkDriver):
                break  # action units only: no landmarks to smooth
            runs.append(np.array(list(itertools.islice(driver.dense_landmarks(), args.frames))))
        if len(runs) < 2:
            continue
        raw, smooth = (M.rms_acceleration(r) for r in runs)
        mouth = [T.mouth_opening(r) for r in runs]
        print(f"| {path.name} | {len(runs[0])} | {raw:.5f} | {smooth:.5f} | {smooth / raw:.2f} | {lag(*mouth)} |")


if __name__ == "__main__":
    main()
