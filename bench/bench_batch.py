"""facedyn batch on this machine: a 40-row jobs file (three rows deliberately bad) run with 1 and
2 local worker processes and on a local Ray; jobs a minute and frames a second, as a table.

Each configuration starts from an empty output folder, runs `facedyn batch` in a fresh process
(worker start-up and model loading included, as a user sees it) and reads the report. Writes
bench/results_batch.json.

    python bench/bench_batch.py [--testdata DIR] [--configs local1,local2,ray2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_animate import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results_batch.json"
CONFIGS = {"local1": ["--workers", "1"], "local2": ["--workers", "2"], "ray2": ["--workers", "2", "--ray", "auto"]}
EXPRESSIONS = ("smile", "surprise", "sad", "a", "o", "blink", "laugh", "wink-left")
BAD_ROWS = ("no_such_photo.jpg,expression:smile,bad_photo.mp4,",
            "{photo},expression:grin,bad_label.mp4,",
            "{photo},expression:smile,bad_option.mp4,loud")


def jobs_file(testdata: Path, folder: Path, count: int = 40) -> Path:
    """`count` rows: expressions, idle motion, driving videos and motion files over every test
    photo, with BAD_ROWS among them."""
    photos = sorted((testdata / "images").glob("*.jpg"))
    videos = sorted((testdata / "videos").glob("*.mp4"))
    motions = [testdata / "motion" / name for name in ("livelinkface_jm_mouth_smile_5s_60fps.csv",
                                                        "landmarks68_lrnet_ffpp_real_normalized.txt")]
    rows = ["photo,driver,output,mouth"]
    for k in range(count - len(BAD_ROWS)):
        photo = photos[k % len(photos)]
        kind = k % 4
        if kind == 0:
            driver = f"expression:{EXPRESSIONS[k // 4 % len(EXPRESSIONS)]}:2s"
        elif kind == 1:
            driver = f"imagine:3s:{k}"
        elif kind == 2:
            driver = str(videos[k // 4 % len(videos)])
        else:
            driver = str(motions[k // 4 % len(motions)])
        rows.append(f"{photo},{driver},job{k:02d}.mp4,")
        if k % 12 == 5:
            rows.append(BAD_ROWS[k // 12 % len(BAD_ROWS)].format(photo=photo))
    path = folder / "jobs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def run(config: str, jobs: Path, folder: Path) -> dict:
    out = folder / f"out-{config}"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "facedyn.cli", "-q", "batch", str(jobs), "-o", str(out),
                           *CONFIGS[config]], capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - start
    report = json.loads((out / "facedyn-batch-report.json").read_text())
    frames = sum(j["frames"] for j in report["jobs"] if j["status"] == "done")
    failed = [j["job"] for j in report["jobs"] if j["status"] == "failed"]
    return {"config": config, "exit": done.returncode, "done": report["summary"]["done"], "failed": failed,
            "videos": len(list(out.rglob("*.mp4"))), "wall_s": round(wall, 1), "frames": frames,
            "jobs_per_minute": round(report["summary"]["done"] / wall * 60, 1), "frames_per_second": round(frames / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--testdata", type=Path, default=Path(os.environ.get("FACEDYN_TESTDATA", "../shared/testdata")))
    parser.add_argument("--configs", default="local1,local2,ray2")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="facedyn-bench-batch-") as tmp:
        jobs = jobs_file(args.testdata, Path(tmp))
        for config in args.configs.split(","):
            rows.append(run(config, jobs, Path(tmp)))
            r = rows[-1]
            print(f"{r['config']}: {r['done']} done, {len(r['failed'])} failed ({', '.join(r['failed'])}), "
                  f"{r['videos']} videos, exit {r['exit']}", flush=True)
    print("\n| run | jobs done | wall (s) | jobs a minute | frames a second |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['done']} | {r['wall_s']} | {r['jobs_per_minute']} | {r['frames_per_second']} |")
    RESULTS.write_text(json.dumps({"date": date.today().isoformat(), "machine": machine(), "runs": rows}, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
