"""Drive every test image with every test video; report failures, speed, and contact sheets.

    .venv/bin/python bench/drive_all.py [--out out/drive_all] [--sheets 4]

Writes one video per pair (working crop, to keep it quick) and, for the first `--sheets`
pairs of a fixed list, a contact sheet PNG: driving | result, 8 sampled frames.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from pathlib import Path

import cv2
import numpy as np

from facedyn import AnimatorConfig, FacedynError, RenderConfig, drivers
from facedyn.animator import Animator
from facedyn.io import iter_frames

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
SHEET_PAIRS = [
    ("woman_frontal_neutral", "woman_speaking_head_turns"),
    ("man_glasses_beard_smile", "woman_blinks_gaze_squint"),
    ("mona_lisa_painting", "woman_talking_gaze_surprise"),
    ("man_glasses_curly_pout", "man_dreadlocks_expressive"),
    ("pearl_earring_painting_turned", "woman_expressions_head_motion"),
    ("woman_afro_painting", "man_speaking_outdoors"),
]


def contact_sheet(driving: Path, result: Path, png: Path, n: int = 8, height: int = 192) -> None:
    """driving | result pairs of `n` evenly sampled frames, in two rows of n/2."""
    drv, out = list(iter_frames(driving)), list(iter_frames(result))
    picks = np.linspace(0, len(out) - 1, n).round().astype(int)

    def fit(img):
        return cv2.resize(img, (round(img.shape[1] * height / img.shape[0]), height), interpolation=cv2.INTER_AREA)

    tiles = []
    for i in picks:
        tile = np.concatenate([fit(drv[i]), fit(out[i])], axis=1)
        cv2.putText(tile, str(i), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
        tiles.append(np.pad(tile, ((2, 2), (2, 2), (0, 0))))
    rows = [np.concatenate(tiles[k: k + n // 2], axis=1) for k in (0, n // 2)]
    cv2.imwrite(str(png), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/drive_all"))
    parser.add_argument("--sheets", type=int, default=len(SHEET_PAIRS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    images = sorted((TESTDATA / "images").glob("*.jpg"))
    videos = sorted((TESTDATA / "videos").glob("*.mp4"))
    failures = 0
    print(f"{'image':<34}{'video':<32}{'frames':>7}{'missing':>8}{'fps':>7}  result")
    with Animator(AnimatorConfig(render=RenderConfig(paste_back=False))) as anim:
        for image in images:
            source = anim.load_source(image)
            for video in videos:
                dst = args.out / f"{image.stem}__{video.stem}.mp4"
                start = time.perf_counter()
                try:
                    animation = anim.animate(source, drivers.video(video))
                    animation.save(dst)
                    n, missing, status = animation.frame_count, len(animation.motion.missing_frames), "ok"
                except (FacedynError, Exception) as exc:  # report every failure, keep going
                    failures += 1
                    n, missing, status = 0, 0, f"FAILED: {exc!r}"
                    traceback.print_exc()
                fps = n / (time.perf_counter() - start)
                print(f"{image.stem:<34}{video.stem:<32}{n:>7}{missing:>8}{fps:>7.1f}  {status}", flush=True)
    for image, video in SHEET_PAIRS[: args.sheets]:
        result = args.out / f"{image}__{video}.mp4"
        contact_sheet(TESTDATA / "videos" / f"{video}.mp4", result, args.out / f"sheet__{image}__{video}.png")
    print(f"\n{len(images) * len(videos)} pairs, {failures} failed")


if __name__ == "__main__":
    main()
