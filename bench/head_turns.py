"""Head turns: how far the output turns against its driver, and what the hair and neck do.

    .venv/bin/python bench/head_turns.py [--images DIR] [--videos DIR] [--drivers 3] [--out out/head_turns]

For every image and each of the `--drivers` most head-moving videos (by the spread of their
tracked yaw, pitch and roll), renders the working crop, tracks the output, and prints per pair:
the yaw, pitch and roll amplitude ratios (the output's tracked change in angle over the
driver's, a least-squares slope through zero on frames where the driver turns at least 3
degrees), the same for the pose the renderer was asked for ("asked"), and the tear measure
(facedyn.eval.metrics.warp_tears) at its worst frame. Writes a contact sheet per pair at the
driver's largest yaw, pitch and roll frames: driver | output | output's hair and neck at 2x.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from facedyn import AnimatorConfig, RenderConfig, drivers
from facedyn.animator import Animator
from facedyn.eval.metrics import head_rotations, turn_ratio, turns, warp_tears
from facedyn.geometry.pose import fit_head_pose, rotation_to_angles
from facedyn.io import iter_frames
from facedyn.tracking import FaceTracker

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))


def tracked_rotations(frames, tracker: FaceTracker) -> np.ndarray:
    """(N, 3, 3) each frame's tracked head rotation, NaN where no face is found."""
    tracker.reset_video()
    points = [tracker.track(frame) for frame in frames]
    return head_rotations(np.array([p if p is not None else np.full((478, 3), np.nan) for p in points]))


def most_moving(videos: list[Path], tracker: FaceTracker, count: int) -> list[Path]:
    """The `count` videos whose tracked head angles spread the most (sum of p95 - p5)."""
    spread = {}
    for video in videos:
        rotations = tracked_rotations(iter_frames(video), tracker)
        angles = np.array([rotation_to_angles(r) for r in rotations if np.isfinite(r).all()])
        spread[video] = float(np.nansum(np.nanpercentile(angles, 95, axis=0) - np.nanpercentile(angles, 5, axis=0)))
        print(f"  {video.stem:<34} angle spread {spread[video]:5.1f} deg", flush=True)
    return sorted(videos, key=spread.get, reverse=True)[:count]


def run_pair(anim: Animator, source, video: Path, tracker: FaceTracker) -> dict:
    animation = anim.animate(source, drivers.video(video))
    frames, drv, asked, tears = [], [], [], []
    layers = source.layers
    for frame in animation.motion.frames:
        target, pose = animation.retargeter(frame.dynamics)
        frames.append(animation.renderer.render(target, pose, frame.image, frame.landmarks))
        drv.append(fit_head_pose(frame.landmarks).rotation)
        asked.append(pose.rotation)
        tears.append(warp_tears(animation.renderer.last_map, layers.mask, layers.landmarks))
    start = layers.pose.rotation
    drv, asked = turns(np.array(drv), drv[0]), turns(np.array(asked), start)
    out = turns(tracked_rotations(frames, tracker), start)
    return {"frames": frames, "driver": drv, "asked": asked, "out": out, "tears": np.array(tears)}


def sheet(video: Path, result: dict, png: Path, tile: int = 256) -> None:
    """Driver | output | 2x zoom of the output's top and sides, at the largest yaw, pitch and roll."""
    driving = list(iter_frames(video))
    rows = []
    for axis, name in enumerate(("yaw", "pitch", "roll")):
        i = int(np.nanargmax(np.abs(result["driver"][:, axis])))
        out = result["frames"][i]
        h, w = out.shape[:2]
        zoom = cv2.resize(out[: h // 2, w // 4: 3 * w // 4], (tile, tile), interpolation=cv2.INTER_CUBIC)
        neck = cv2.resize(out[h // 2:, w // 4: 3 * w // 4], (tile, tile), interpolation=cv2.INTER_CUBIC)
        tiles = [cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA) for img in (driving[i], out)] + [zoom, neck]
        label = f"{name} {result['driver'][i, axis]:+.0f} -> {result['out'][i, axis]:+.0f} f{i}"
        cv2.putText(tiles[0], label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles], axis=1))
    cv2.imwrite(str(png), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=TESTDATA / "images")
    parser.add_argument("--videos", type=Path, default=TESTDATA / "videos")
    parser.add_argument("--drivers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("out/head_turns"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with FaceTracker() as tracker, Animator(AnimatorConfig(render=RenderConfig(paste_back=False))) as anim:
        print("drivers by head motion:")
        videos = most_moving(sorted(args.videos.glob("*.mp4")), tracker, args.drivers)
        print(f"\n{'image':<32}{'driver':<30}{'yaw':>6}{'pitch':>6}{'roll':>6}  {'asked y/p/r':>17}{'tears':>7}")
        table = []
        for image in images:
            source = anim.load_source(image)
            for video in videos:
                r = run_pair(anim, source, video, tracker)
                got = [turn_ratio(r["out"][:, k], r["driver"][:, k]) for k in range(3)]
                asked = [turn_ratio(r["asked"][:, k], r["driver"][:, k]) for k in range(3)]
                worst = float(np.nanmax(r["tears"]))
                table.append(got + asked + [worst])
                print(f"{image.stem[:31]:<32}{video.stem[:29]:<30}{got[0]:6.2f}{got[1]:6.2f}{got[2]:6.2f}  "
                      f"{asked[0]:5.2f}{asked[1]:6.2f}{asked[2]:6.2f}{worst:7.3f}", flush=True)
                sheet(video, r, args.out / f"{image.stem}__{video.stem}.png")
        mean = np.nanmean(np.array(table), axis=0)
        print(f"{'mean':<62}{mean[0]:6.2f}{mean[1]:6.2f}{mean[2]:6.2f}  {mean[3]:5.2f}{mean[4]:6.2f}{mean[5]:6.2f}"
              f"{np.nanmax(np.array(table)[:, 6]):7.3f}")


if __name__ == "__main__":
    main()
