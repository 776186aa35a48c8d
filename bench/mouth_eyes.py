"""Mouths and eyes, pair by pair: does the output close its lips when the driver does, open
as wide, blink shut, and keep its teeth white? With contact sheets at 2x zoom.

For each photo x driving video (cross-reenactment, working crop): the output and the driver
are tracked with MediaPipe; per pair it prints mouth and eye correlation over time, the
output's lip gap on the driver's closed frames, both lip-gap extremes, the eye opening on
the driver's blink frames (output and driver, each over its own median), and the teeth's
saturation over that of teeth under the photo's light (eval.metrics.teeth_reference). Then the mean and the worst pair.

    .venv/bin/python bench/mouth_eyes.py [--images a,b] [--videos x,y] [--frames 150] [--sheets out/mouth_eyes]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import cv2
import numpy as np

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
COLUMNS = ("r_mouth", "r_eyes", "gap_closed", "gap_min", "drv_gap_min", "gap_max", "drv_gap_max", "blink", "drv_blink",
           "teeth")


def track(frames: list[np.ndarray], tracker) -> np.ndarray:
    tracker.reset_video()
    return np.array([p if (p := tracker.track(f)) is not None else np.full((478, 3), np.nan) for f in frames])


def measure(out_frames, out_pts, drv_pts, teeth_reference: float) -> dict[str, float]:
    from facedyn.eval import metrics as M

    out_sig, drv_sig = M.expression_signals(out_pts), M.expression_signals(drv_pts)
    closure = M.mouth_closure(M.lip_gaps(out_pts), M.lip_gaps(drv_pts))
    blink, drv_blink = M.blink_depth(out_sig[:, 0], drv_sig[:, 0])
    return {
        "r_mouth": M.correlation(out_sig[:, 1], drv_sig[:, 1]), "r_eyes": M.correlation(out_sig[:, 0], drv_sig[:, 0]),
        "gap_closed": closure["gap_closed"], "gap_min": closure["gap_min"], "drv_gap_min": closure["driver_gap_min"],
        "gap_max": closure["gap_max"], "drv_gap_max": closure["driver_gap_max"], "blink": blink, "drv_blink": drv_blink,
        "teeth": M.teeth_shift(np.array([M.teeth_saturation(f, p) for f, p in zip(out_frames, out_pts, strict=True)]),
                                teeth_reference),
    }


def zoom(frame: np.ndarray, points: np.ndarray, region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A crop around `region`'s landmarks, 2x (at least) and resized to `size` (w, h)."""
    if np.isnan(points).any():
        return np.zeros((size[1], size[0], 3), np.uint8)
    lo, hi = points[region, :2].min(0), points[region, :2].max(0)
    centre, half = (lo + hi) / 2, max(hi[0] - lo[0], 1.0) * 0.75
    m = np.float32([[size[0] / (2 * half), 0, size[0] / 2 - centre[0] * size[0] / (2 * half)],
                    [0, size[0] / (2 * half), size[1] / 2 - centre[1] * size[0] / (2 * half)]])
    return cv2.warpAffine(frame, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def sheet(drv_frames, drv_pts, out_frames, out_pts, title: str) -> np.ndarray:
    """Rows: the driver's widest-open mouth, most-closed mouth, deepest blink; columns: driver
    mouth | output mouth | driver eyes | output eyes."""
    from facedyn.eval import metrics as M
    from facedyn.tracking import topology as T

    gaps, eyes = M.lip_gaps(drv_pts), M.expression_signals(drv_pts)[:, 0]
    picks = {"widest": int(np.nanargmax(gaps)), "closed": int(np.nanargmin(gaps)), "blink": int(np.nanargmin(eyes))}
    mouth = np.concatenate([T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER])
    both_eyes = np.concatenate([T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP])
    rows = []
    for name, k in picks.items():
        tiles = [zoom(drv_frames[k], drv_pts[k], mouth, (240, 160)), zoom(out_frames[k], out_pts[k], mouth, (240, 160)),
                 zoom(drv_frames[k], drv_pts[k], both_eyes, (320, 160)), zoom(out_frames[k], out_pts[k], both_eyes, (320, 160))]
        row = np.concatenate(tiles, 1)
        cv2.putText(row, f"{name} #{k}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
        rows.append(row)
    head = np.zeros((22, rows[0].shape[1], 3), np.uint8)
    cv2.putText(head, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([head, *rows], 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=None, help="comma-separated stems (default: all test images)")
    parser.add_argument("--videos", default=None, help="comma-separated stems (default: all test videos)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--sheets", type=Path, default=None, help="write a contact sheet per pair here")
    parser.add_argument("--reference", default="first")
    opts = parser.parse_args()
    from facedyn import AnimatorConfig, RenderConfig, drivers
    from facedyn.animator import Animator
    from facedyn.eval import metrics as M
    from facedyn.io import iter_frames
    from facedyn.tracking import FaceTracker

    def stems(arg, folder, suffix):
        if arg:
            return [TESTDATA / folder / f"{s}{suffix}" for s in arg.split(",")]
        return sorted((TESTDATA / folder).glob(f"*{suffix}"))

    images, videos = stems(opts.images, "images", ".jpg"), stems(opts.videos, "videos", ".mp4")
    if opts.sheets:
        opts.sheets.mkdir(parents=True, exist_ok=True)
    rows = []
    with Animator(AnimatorConfig(render=RenderConfig(paste_back=False))) as anim, FaceTracker() as tracker:
        for video in videos:
            drv_frames = list(itertools.islice(iter_frames(video), opts.frames))
            drv_pts = track(drv_frames, tracker)
            for image in images:
                source = anim.load_source(image)
                motion = drivers.video(video, opts.reference)
                out_frames = list(itertools.islice(iter(anim.animate(source, motion)), len(drv_frames)))
                out_pts = track(out_frames, tracker)
                values = measure(out_frames, out_pts, drv_pts, M.teeth_reference(source.layers.image, source.layers.landmarks))
                name = f"{image.stem} <- {video.stem}"
                rows.append((name, values))
                print(f"{name[:58]:58s} " + " ".join(f"{k}={v:+.3f}" for k, v in values.items()), flush=True)
                if opts.sheets:
                    picture = sheet(drv_frames, drv_pts, out_frames, out_pts, name)
                    cv2.imwrite(str(opts.sheets / f"{image.stem}__{video.stem}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    table = np.array([[v[c] for c in COLUMNS] for _, v in rows])
    print(f"\n{len(rows)} pairs, {opts.frames} frames each")
    print("| measure | mean | worst | worst pair |\n|---|---:|---:|---|")
    worst_high = {"gap_closed", "gap_min", "blink", "teeth"}
    for j, c in enumerate(COLUMNS):
        col = table[:, j]
        if not np.isfinite(col).any():
            continue
        key = np.abs(col) if c == "teeth" else col
        k = int(np.nanargmax(key) if c in worst_high else np.nanargmin(key))
        print(f"| {c} | {np.nanmean(col):.3f} | {col[k]:.3f} | {rows[k][0]} |")


if __name__ == "__main__":
    sys.exit(main())
