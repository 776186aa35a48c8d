"""Every expression label on every test image: FER confusion table and contact sheets.

    python bench/express_all.py [TESTDATA] [-o out/express]

For each image and label, a 1.2 s clip is rendered (working crop, 10 fps); its apex frame
(the middle) is classified by the FER2013 model of the evaluation. Writes confusion.md,
confusion.json and one contact sheet per label (4 images x 5 moments of the clip).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from facedyn import Animator
from facedyn.animator import Animation
from facedyn.drivers import expression
from facedyn.eval.networks import EMOTIONS, EmotionModel
from facedyn.tracking import FaceTracker

LABELS = ("neutral", "smile", "laugh", "surprise", "sad", "angry", "disgust", "fear", "contempt",
          "wink-left", "wink-right", "blink", "pucker", "a", "e", "o")
EXPECTED = {"neutral": "neutral", "smile": "happy", "laugh": "happy", "surprise": "surprise", "sad": "sad",
            "angry": "angry", "disgust": "disgust", "fear": "fear"}
SHEET_IMAGES = ("woman_frontal_neutral", "man_glasses_curly_pout", "mona_lisa_painting", "woman_afro_painting")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("testdata", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "testdata")
    parser.add_argument("-o", "--output", type=Path, default=Path("out/express"))
    args = parser.parse_args()
    (args.output / "sheets").mkdir(parents=True, exist_ok=True)
    images = sorted((args.testdata / "images").glob("*.jpg"))
    recognised: dict[str, dict[str, str]] = {label: {} for label in LABELS}
    sheet_rows: dict[str, list[np.ndarray]] = {label: [] for label in LABELS}
    model = EmotionModel()
    with Animator() as anim, FaceTracker() as tracker:
        config = replace(anim.config, render=replace(anim.config.render, paste_back=False))
        for path in images:
            source = anim.load_source(path)
            for label in LABELS:
                frames = list(Animation(source, expression(label, duration=1.2, fps=10).open(), config))
                apex = frames[len(frames) // 2]
                boxes = tracker.detect_faces(apex)
                if boxes:
                    probs = model.probabilities(apex, tracker.landmarks_in_box(apex, boxes[0]))
                    recognised[label][path.stem] = EMOTIONS[int(probs.argmax())]
                else:
                    recognised[label][path.stem] = "no face"
                if path.stem in SHEET_IMAGES:
                    picks = [frames[int(k)] for k in np.linspace(0, len(frames) - 1, 5)]
                    sheet_rows[label].append(np.concatenate([cv2.resize(f, (160, 160)) for f in picks], axis=1))
            print(path.stem, {k: v[path.stem] for k, v in recognised.items()}, flush=True)
    for label, rows in sheet_rows.items():
        if rows:
            sheet = cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(args.output / "sheets" / f"{label}.png"), sheet)
    (args.output / "confusion.json").write_text(json.dumps(recognised, indent=1))
    table = confusion_markdown(recognised, len(images))
    (args.output / "confusion.md").write_text(table + "\n")
    print(table)


def confusion_markdown(recognised: dict[str, dict[str, str]], n_images: int) -> str:
    columns = [*EMOTIONS, "no face"]
    lines = [f"| intended ({n_images} images) | " + " | ".join(columns) + " | recognised as intended |",
             "|---" * (len(columns) + 2) + "|"]
    for label, per_image in recognised.items():
        counts = [sum(v == c for v in per_image.values()) for c in columns]
        hit = f"{sum(v == EXPECTED[label] for v in per_image.values())}/{len(per_image)}" if label in EXPECTED else "-"
        lines.append(f"| {label} | " + " | ".join(str(c) for c in counts) + f" | {hit} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
