"""Speed of the dynamics codec: encode, decode, and decode + render at 256 and 512.

Every frame of each driving clip is tracked once (not timed), encoded at 1 kbit/s and
decoded; then the decoded dynamics drive the photo's renderer (working size 256 and 512,
the face crop, no video encoding: what a live receiver does before display). Prints per
frame median milliseconds and frames per second.

    .venv/bin/python bench/bench_codec.py [--photo P] [--driving V ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
PHOTO = TESTDATA / "images" / "woman_frontal_neutral.jpg"
DRIVING = [TESTDATA / "videos" / "woman_expressions_head_motion.mp4", TESTDATA / "videos" / "man_speaking_outdoors.mp4"]


def measure(photo: Path, driving: list[Path], bitrate: float) -> list[tuple[str, int, float]]:
    from facedyn import AnimatorConfig, RenderConfig, codec, drivers
    from facedyn.animator import Animation, Animator
    from facedyn.codec.files import encode_values, fit_bitrate, motion_values
    from facedyn.drivers.parametric import MotionTrack

    rows: list[tuple[str, int, float]] = []
    times: dict[str, list[float]] = {"encode": [], "decode": [], "render 256": [], "render 512": []}
    decoded_clips = []
    with Animator() as anim:
        for path in driving:
            motion = drivers.video(path).open(anim.tracker)
            values = motion_values(motion)
            config = fit_bitrate(values, motion.fps, bitrate, codec.CodecConfig())
            encoder = codec.Encoder(motion.fps, config=config, frame_count=len(values))
            data = bytearray()
            for row in values:
                t = time.perf_counter()
                data += encoder.push_values(row)
                times["encode"].append(time.perf_counter() - t)
            data += encoder.flush()
            assert encode_values(values, motion.fps, config)[0] == bytes(data)
            decoder, frames = codec.Decoder(), []
            for k in range(0, len(data), 64):  # as a socket would deliver it
                t = time.perf_counter()
                got = decoder.feed(bytes(data[k: k + 64]))
                times["decode"] += [(time.perf_counter() - t) / max(len(got), 1)] * len(got)
                frames += got
            frames += decoder.finish()
            decoded_clips.append((motion.fps, [f.values for f in frames]))
    for size in (256, 512):
        config = AnimatorConfig(size=size, render=RenderConfig(paste_back=False))
        with Animator(config) as anim:
            source = anim.load_source(photo)
            for fps, values in decoded_clips:
                animation = Animation(source, MotionTrack.from_rows(float(fps), values).open(), config)
                clock = time.perf_counter()
                for _ in animation:  # decoded values -> dynamics -> retarget -> render
                    now = time.perf_counter()
                    times[f"render {size}"].append(now - clock)
                    clock = time.perf_counter()
    for name, values in times.items():
        rows.append((name, len(values), statistics.median(values) * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--driving", type=Path, nargs="+", default=DRIVING)
    parser.add_argument("--bitrate", type=float, default=1000.0)
    args = parser.parse_args()
    rows = measure(args.photo, args.driving, args.bitrate)
    print(f"| stage (dynamics at {args.bitrate:g} bit/s) | frames | median ms | fps |")
    print("|---|---:|---:|---:|")
    for name, count, ms in rows:
        label = f"decoded values -> frame at {name.split()[1]}" if name.startswith("render") else name
        print(f"| {label} | {count} | {ms:.3f} | {1000 / ms:.1f} |")


if __name__ == "__main__":
    main()
