"""Speed and memory of `animate`: per stage and end to end, at 256 and 512 working size.

Prints a table: per-frame median milliseconds and frames per second for each stage
(decode, track, retarget, render, encode) over every frame of the driving clip (>= 200),
then end-to-end throughput, time to the first frame out, and peak RSS, each end-to-end run
in a fresh process so its peak memory is its own, repeated (--runs, default 3: the median
and the spread): the video driver at 256 and 512 (crop and paste-back), paste-back into the
largest test photo, and every non-video driver (expression, imagine, an ARKit motion file,
68-point landmarks, a codec stream). Writes the figures to bench/results.json (with the
machine and date), which the README's speed table is taken from.

    .venv/bin/python bench/bench_animate.py [--photo P] [--driving V] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
LARGE_PHOTO = TESTDATA / "images" / "man_bw_photo.jpg"  # 2048x2048: the largest test photo
MOTION_FILE = TESTDATA / "motion" / "livelinkface_alex_rom_eyes_brows_30fps_first1000.csv"  # ARKit, 1000 frames
LANDMARK_FILE = TESTDATA / "motion" / "landmarks68_lrnet_ffpp_real_normalized.txt"  # 68 points
RESULTS = Path(__file__).resolve().parent / "results.json"


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


def open_driver(spec: str, tmp: Path):
    """A driver from "kind:argument": video:PATH, expression:LABEL, imagine:SECONDS,
    motion:PATH, landmarks:PATH or codec:PATH (a video, encoded to a .fdyn here first)."""
    from facedyn import drivers

    kind, _, arg = spec.partition(":")
    if kind == "video":
        return drivers.video(arg)
    if kind == "expression":
        return drivers.expression(arg, duration=12.0)
    if kind == "imagine":
        return drivers.imagine(float(arg), seed=1)
    if kind == "motion":
        return drivers.motion(arg)
    if kind == "landmarks":
        return drivers.landmarks(arg, fps=25)
    if kind == "codec":
        from facedyn import codec
        from facedyn.tracking import FaceTracker

        stream = tmp / "clip.fdyn"
        with FaceTracker() as tracker:
            codec.encode_motion(drivers.video(arg).open(tracker), stream, codec.CodecConfig(bitrate=1000))
        return codec.StreamDriver(stream)
    raise ValueError(f"unknown driver {spec!r}")


def end_to_end(photo: Path, driver: str, size: int, paste_back: bool) -> dict[str, float]:
    """Run in a child process: the whole `animate` from nothing to a written file."""
    start = time.perf_counter()
    from facedyn import AnimatorConfig, RenderConfig
    from facedyn.animator import Animator

    first: list[float] = []

    def progress(done: int, total: int | None) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        prepared = open_driver(driver, Path(tmp))
        if driver.startswith("codec:"):
            start = time.perf_counter()  # the stream was encoded just now: only its decoding is timed
        with Animator(AnimatorConfig(size=size, render=RenderConfig(paste_back))) as anim:
            animation = anim.animate(anim.load_source(photo), prepared)
            loop = time.perf_counter()
            animation.save(Path(tmp) / "o.mp4", progress=progress)
            n = animation.frame_count
            done = time.perf_counter()
            out_h, out_w = animation.frame_size
    return {
        "frames": n,
        "output": f"{out_w}x{out_h}",
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


def end_to_end_runs(photo: Path, driver: str, size: int, paste_back: bool, runs: int) -> dict:
    """`runs` fresh-process runs of end_to_end: each run's figures, and their medians."""
    cmd = [sys.executable, __file__, "--photo", str(photo), "--driving", driver, "--child", str(size), str(int(paste_back))]
    results = []
    for _ in range(runs):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    keys = ("fps_streaming", "fps_total", "first_frame_s", "peak_rss_mb")
    return {"frames": results[0]["frames"], "output": results[0]["output"], "runs": results,
            **{k: statistics.median(r[k] for r in results) for k in keys},
            **{f"{k}_range": [min(r[k] for r in results), max(r[k] for r in results)] for k in keys}}


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(), "platform": platform.platform()}


def markdown(results: dict) -> str:
    """The README's speed tables from a results.json."""
    lines = ["| stage | size | frames | median ms | fps |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {s['stage']} | {s['size']} | {s['frames']} | {s['median_ms']:.2f} | {s['fps']:.1f} |"
              for s in results["stages"]]
    lines += ["", f"| end to end (median of {results['runs']} runs, min-max) | size | frames | output | fps | "
              "fps incl. set-up | first frame s | peak RSS MB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in results["end_to_end"]:
        (lo, hi), (flo, fhi) = e["fps_streaming_range"], e["first_frame_s_range"]
        lines.append(f"| {e['run']} | {e['size']} | {e['frames']} | {e['output']} | {e['fps_streaming']:.1f} "
                     f"({lo:.1f}-{hi:.1f}) | {e['fps_total']:.1f} | {e['first_frame_s']:.2f} ({flo:.2f}-{fhi:.2f}) | "
                     f"{e['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--driving", default=str(DRIVING), help="a video (or, with --child, a driver spec)")
    parser.add_argument("--large-photo", type=Path, default=LARGE_PHOTO, help="paste-back into this photo's size")
    parser.add_argument("--runs", type=int, default=3, help="fresh-process runs of each end-to-end figure")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the figures are written")
    parser.add_argument("--markdown", action="store_true", help="print the README's tables from --json and stop")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "PASTE_BACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.json.read_text())))
        return
    if args.child:
        spec = args.driving if ":" in args.driving.split("/")[0] else f"video:{args.driving}"
        print(json.dumps(end_to_end(args.photo, spec, int(args.child[0]), args.child[1] == "1")))
        return

    driving = Path(args.driving)
    print(f"photo {args.photo.name}, driving {driving.name}, {os.cpu_count()} CPUs\n")
    print(f"{'stage':<22}{'size':>6}{'frames':>8}{'median ms':>11}{'fps':>9}")
    stage_rows = []
    for size in (256, 512):
        for name, values in stages(args.photo, driving, size).items():
            med = statistics.median(values)
            stage_rows.append({"stage": name, "size": size, "frames": len(values), "median_ms": med * 1000, "fps": 1 / med})
            print(f"{name:<22}{size:>6}{len(values):>8}{med * 1000:>11.2f}{1 / med:>9.1f}")

    runs = [
        ("animate (crop)", args.photo, f"video:{driving}", 256, False),
        ("animate (crop)", args.photo, f"video:{driving}", 512, False),
        ("animate (paste-back)", args.photo, f"video:{driving}", 512, True),
        (f"paste-back into {args.large_photo.name}", args.large_photo, f"video:{driving}", 512, True),
        ("expression (crop)", args.photo, "expression:smile", 512, False),
        ("imagine (crop)", args.photo, "imagine:12", 512, False),
        ("motion file (crop)", args.photo, f"motion:{MOTION_FILE}", 512, False),
        ("landmarks (crop)", args.photo, f"landmarks:{LANDMARK_FILE}", 512, False),
        ("codec decode (crop)", args.photo, f"codec:{driving}", 512, False),
    ]
    print(f"\nend to end, median of {args.runs} runs (min..max)")
    print(f"{'run':<38}{'size':>5}{'frames':>7}{'output':>11}{'fps':>20}{'fps incl. setup':>17}"
          f"{'first frame s':>18}{'peak RSS MB':>13}")
    e2e_rows = []
    for label, photo, driver, size, paste in runs:
        r = end_to_end_runs(photo, driver, size, paste, args.runs)
        e2e_rows.append({"run": label, "photo": photo.name, "driver": driver.replace(str(TESTDATA) + "/", ""),
                         "size": size, "paste_back": paste, **r})
        lo, hi = r["fps_streaming_range"]
        flo, fhi = r["first_frame_s_range"]
        print(f"{label:<38}{size:>5}{r['frames']:>7}{r['output']:>11}{r['fps_streaming']:>8.1f} ({lo:.1f}..{hi:.1f})"
              f"{r['fps_total']:>17.1f}{r['first_frame_s']:>8.2f} ({flo:.2f}..{fhi:.2f}){r['peak_rss_mb']:>13.0f}")
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "photo": args.photo.name,
               "driving": driving.name, "runs": args.runs, "stages": stage_rows, "end_to_end": e2e_rows}
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
