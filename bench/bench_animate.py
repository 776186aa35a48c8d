"""Speed and memory of `animate`: per stage and end to end, at 256 and 512 working size.

Prints a table: per-frame median milliseconds and frames per second for each stage
(decode, track, retarget, render, encode) over every frame of the driving clip (>= 200),
then end-to-end throughput, time to the first frame out, and peak RSS, each end-to-end run
in a fresh process so its peak memory is its own.

    .venv/bin/python bench/bench_animate.py [--photo P] [--driving V]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
PHOTO = TESTDATA / "images" / "woman_frontal_neutral.jpg"
DRIVING = TESTDATA / "videos" / "woman_expressions_head_motion.mp4"  # 300 frames, 512x512, 30 fps


def stages(photo: Path, driving: Path, size: int) -> dict[str, list[float]]:
    """Per-frame seconds of each stage, run one after another on the same frames."""
    from facedyn import AnimatorConfig, RenderConfig, drivers
    from facedyn.animator import Animator
    from facedyn.dynamics import dynamics_from_landmarks
    from facedyn.io import VideoWriter, iter_frames, probe_video

    times: dict[str, list[float]] = {k: [] for k in ("decode", "track", "retarget", "render", "encode")}
    frames = []
    clock = time.perf_counter()
    for frame in iter_frames(driving):
        now = time.perf_counter()
        times["decode"].append(now - clock)
        frames.append(frame)
        clock = time.perf_counter()
    with Animator(AnimatorConfig(size=size, render=RenderConfig(paste_back=False))) as anim:
        source = anim.load_source(photo)
        animation = anim.animate(source, drivers.video(driving))
        tracker = anim.tracker
        tracker.reset_video()
        points = []
        for frame in frames:
            t = time.perf_counter()
            points.append(tracker.track(frame))
            times["track"].append(time.perf_counter() - t)
        _, ref_pose = dynamics_from_landmarks(points[0])
        targets = []
        for p in points:
            t = time.perf_counter()
            dyn, _ = dynamics_from_landmarks(p, ref_pose)
            targets.append(animation.retargeter(dyn))
            times["retarget"].append(time.perf_counter() - t)
        outs = []
        for (target, pose), frame, p in zip(targets, frames, points, strict=True):
            t = time.perf_counter()
            outs.append(animation.renderer.render(target, pose, frame, p))
            times["render"].append(time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp, VideoWriter(Path(tmp) / "o.mp4", probe_video(driving).fps) as writer:
        for out in outs:
            t = time.perf_counter()
            writer.write(out)
            times["encode"].append(time.perf_counter() - t)
    return times


def end_to_end(photo: Path, driving: Path, size: int, paste_back: bool) -> dict[str, float]:
    """Run in a child process: the whole `animate` from nothing to a written file."""
    start = time.perf_counter()
    from facedyn import AnimatorConfig, RenderConfig, drivers
    from facedyn.animator import Animator

    first: list[float] = []

    def progress(done: int, total: int | None) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp, Animator(AnimatorConfig(size=size, render=RenderConfig(paste_back))) as anim:
        animation = anim.animate(anim.load_source(photo), drivers.video(driving))
        loop = time.perf_counter()
        animation.save(Path(tmp) / "o.mp4", progress=progress)
        n = animation.frame_count
        done = time.perf_counter()
    return {
        "frames": n,
        "fps_streaming": n / (done - loop),
        "fps_total": n / (done - start),
        "first_frame_s": first[0],
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage: ru_maxrss survives exec
    and would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--driving", type=Path, default=DRIVING)
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "PASTE_BACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(end_to_end(args.photo, args.driving, int(args.child[0]), args.child[1] == "1")))
        return

    print(f"photo {args.photo.name}, driving {args.driving.name}, {os.cpu_count()} CPUs\n")
    print(f"{'stage':<22}{'size':>6}{'frames':>8}{'median ms':>11}{'fps':>9}")
    for size in (256, 512):
        for name, values in stages(args.photo, args.driving, size).items():
            med = statistics.median(values)
            print(f"{name:<22}{size:>6}{len(values):>8}{med * 1000:>11.2f}{1 / med:>9.1f}")
    print(f"\n{'end to end':<22}{'size':>6}{'frames':>8}{'fps':>9}{'fps incl. setup':>17}"
          f"{'first frame s':>15}{'peak RSS MB':>13}")
    for size, paste in ((256, 0), (512, 0), (512, 1)):
        cmd = [sys.executable, __file__, "--photo", str(args.photo), "--driving", str(args.driving),
               "--child", str(size), str(paste)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        label = "animate" + (" (paste-back)" if paste else "")
        print(f"{label:<22}{size:>6}{r['frames']:>8}{r['fps_streaming']:>9.1f}{r['fps_total']:>17.1f}"
              f"{r['first_frame_s']:>15.2f}{r['peak_rss_mb']:>13.0f}")


if __name__ == "__main__":
    main()
