"""Memory against video length: peak RSS of `facedyn animate` driven by a 10-second clip
and by the same clip looped to 10 minutes, each run in a fresh process.

The long clip is the test video's packets copied over and over with shifted timestamps
(video and audio, no re-encoding), so both runs decode, track, render, encode and copy
audio exactly alike; only the length differs. Prints a table and the ratio of the peaks.

    .venv/bin/python bench/bench_memory.py [--minutes 10] [--photo P] [--driving V] [--reference first|auto]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
PHOTO = TESTDATA / "images" / "woman_frontal_neutral.jpg"
DRIVING = TESTDATA / "videos" / "woman_expressions_head_motion.mp4"  # 10 s, 300 frames, 512x512, with audio


def loop_clip(source: Path, target: Path, times: int) -> Path:
    """`source` played `times` times in a row, by copying its packets with shifted timestamps
    (each stream shifted by its own span, so the joins stay monotonic)."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        chosen = [*inp.streams.video[:1], *inp.streams.audio[:1]]
        streams = {s.index: out.add_stream_from_template(s) for s in chosen}
        offset = dict.fromkeys(streams, 0)
        for _ in range(times):
            inp.seek(0)
            first, end = {}, {}
            for packet in inp.demux(*chosen):
                if packet.dts is None:
                    continue
                i = packet.stream.index
                first.setdefault(i, packet.dts)
                end[i] = max(end.get(i, packet.dts), packet.dts + (packet.duration or 1))
                packet.pts, packet.dts = packet.pts + offset[i], packet.dts + offset[i]
                packet.stream = streams[i]
                out.mux(packet)
            for i in offset:
                offset[i] += end[i] - first[i]
    return target


def peak_rss(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `facedyn` run in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "facedyn.cli", "-q", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"facedyn failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--driving", type=Path, default=DRIVING)
    parser.add_argument("--reference", default="first")
    opts = parser.parse_args()
    with av.open(str(opts.driving)) as c:
        seconds = float(c.streams.video[0].duration * c.streams.video[0].time_base)
    loops = max(1, round(opts.minutes * 60 / seconds))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for times in (1, loops):
            clip = loop_clip(opts.driving, Path(tmp) / f"x{times}.mp4", times)
            with av.open(str(clip)) as c:
                frames = c.streams.video[0].frames
            wall, rss = peak_rss(["animate", str(opts.photo), "--driving", str(clip), "-o", str(Path(tmp) / "out.mp4"),
                                  "--reference", opts.reference])
            rows.append((times * seconds, frames, wall, frames / wall, rss))
    print(f"photo {opts.photo.name}, driving {opts.driving.name} looped, --reference {opts.reference}\n")
    print("| driving clip | frames | wall s | fps incl. set-up | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for length, frames, wall, fps, rss in rows:
        print(f"| {length:.0f} s | {frames} | {wall:.1f} | {fps:.1f} | {rss:.0f} |")
    print(f"\npeak RSS, long over short: {rows[1][4] / rows[0][4]:.3f}")


if __name__ == "__main__":
    main()
