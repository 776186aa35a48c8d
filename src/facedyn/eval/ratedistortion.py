"""Rate against distortion (facedyn eval codec): self-reenactment where the receiver holds a
clip's first frame as its photo and renders from the decoded dynamics stream, against pixel
codecs (H.264, HEVC, AV1, VP9 through PyAV) sending the clip itself; same frames, same
measures (AKD, emotion and identity distance, PSNR, SSIM)."""

from __future__ import annotations

import io
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from facedyn.codec import CodecConfig, Decoder
from facedyn.codec.files import encode_values, fit_bitrate, motion_values
from facedyn.drivers.parametric import MotionTrack
from facedyn.drivers.video import TrackedVideoDriver
from facedyn.eval.protocols import (
    ClipResult,
    EvalOptions,
    _animate,
    _guard,
    _map,
    _measure_against_real,
    _self_metrics,
    _worker,
    track_driver,
)
from facedyn.io import iter_frames

FACEDYN_BITRATES = (250, 500, 1000, 2000, 4000)  # bits per second of dynamics
# Pixel codecs, low-delay (no B-frames, no look-ahead), one key frame, rate-controlled.
PIXEL_CODECS = {
    "h264": ("libx264", "mp4", {"preset": "medium", "tune": "zerolatency"}),
    "hevc": ("libx265", "mp4", {"preset": "medium", "tune": "zerolatency", "x265-params": "log-level=none"}),
    "av1": ("libsvtav1", "mp4", {"preset": "8", "svtav1-params": "pred-struct=1:rc=2"}),  # low delay needs CBR
    "vp9": ("libvpx-vp9", "webm", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
}
PIXEL_BITRATES = (8000, 16000, 32000, 64000, 128000)
PIXEL_SIZES = (256, 512)


@dataclass(frozen=True)
class RateOptions:
    """facedyn_bitrates: dynamics bits per second to test; pixel_codecs: names in PIXEL_CODECS;
    pixel_bitrates: their bits per second; pixel_sizes: the side they code the clip at."""

    facedyn_bitrates: tuple[int, ...] = FACEDYN_BITRATES
    pixel_codecs: tuple[str, ...] = tuple(PIXEL_CODECS)
    pixel_bitrates: tuple[int, ...] = PIXEL_BITRATES
    pixel_sizes: tuple[int, ...] = PIXEL_SIZES


def pixel_round_trip(frames: list[np.ndarray], fps, codec: str, bitrate: int, side: int) -> tuple[list[np.ndarray], float]:
    """The clip coded by a pixel codec at `side` x `side` and `bitrate`, decoded and scaled
    back to the frames' size, and the bits per second it actually took."""
    name, container_format, options = PIXEL_CODECS[codec]
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration otherwise
    h, w = frames[0].shape[:2]
    buffer = io.BytesIO()
    with ordinary_scheduling() as restore, av.open(buffer, "w", format=container_format) as out:
        stream = out.add_stream(name, rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.gop_size = len(frames) + 1  # one key frame
        stream.options = dict(options)
        for k, frame in enumerate(frames):
            image = av.VideoFrame.from_ndarray(cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA), format="rgb24")
            image.pts = k
            out.mux(stream.encode(image))
            if k == 0:
                restore()  # the encoder opened on this first frame and started its threads
        out.mux(stream.encode(None))
    payload = 0
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = []
        for packet in container.demux(container.streams.video[0]):
            payload += packet.size
            for frame in packet.decode():
                decoded.append(cv2.resize(frame.to_ndarray(format="rgb24"), (w, h), interpolation=cv2.INTER_CUBIC))
    decoded = (decoded + decoded[-1:] * len(frames))[: len(frames)]
    return decoded, 8 * payload / (len(frames) / float(fps))


@contextmanager
def ordinary_scheduling() -> Iterator[Callable[[], list[int]]]:
    """Keeps this process off the real-time scheduler. SVT-AV1 run as root puts the thread
    that opens it, and every thread it starts, on SCHED_FIFO at the top priority, and the
    calling thread stays there after the encoder is gone: whatever this process ran next
    (a browser it started, too) could then take both cores from the rest of the machine,
    and a busy real-time thread kept a test's alarm from ever running (a CI run hung so).

    Yields a function that puts every thread of this process back on the calling thread's
    policy now and returns the ids of those it moved; it runs again on leaving. A no-op
    where the OS has no such policies.
    """
    if not hasattr(os, "sched_getscheduler"):
        yield lambda: []
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)

    def restore() -> list[int]:
        moved = []
        for tid in map(int, os.listdir("/proc/self/task")):
            try:
                if os.sched_getscheduler(tid) != policy:
                    os.sched_setscheduler(tid, policy, param)
                    moved.append(tid)
            except OSError:  # a thread that ended meanwhile, or no right to change it
                pass
        return moved

    try:
        yield restore
    finally:
        restore()


def codec_reenactment(path: Path, animator, measurer, options: EvalOptions, rate: RateOptions) -> ClipResult:
    """One clip: facedyn at each bitrate and uncompressed, each pixel codec at each bitrate
    and size; metrics per method, with "kbps" (what it took) and, for facedyn, "encode_ms" and
    "decode_ms" (per frame)."""
    driver = track_driver(path, measurer, options)
    n = len(driver.driving)
    real_frames = list(itertools.islice(iter_frames(path), n))
    source = animator.load_source(real_frames[0])
    values = motion_values(TrackedVideoDriver(path, driver.driving, driver.fps, 0).open())
    makers: dict[str, tuple] = {"facedyn-uncompressed": (lambda: _render(animator, source, values, driver.fps), None)}
    for bitrate in rate.facedyn_bitrates:
        makers[f"facedyn-{bitrate}"] = _facedyn_at(animator, source, values, driver.fps, bitrate)
    for codec, side, bitrate in itertools.product(rate.pixel_codecs, rate.pixel_sizes, rate.pixel_bitrates):
        decoded, kbps = pixel_round_trip(real_frames, driver.fps, codec, bitrate, side)
        makers[f"{codec}-{side}-{bitrate}"] = (lambda d=decoded: iter(d), {"kbps": kbps / 1000})
    result = ClipResult(path.stem, n, samples={"driver": [real_frames[i] for i in sorted(driver.samples)]})
    for method, (make, extra) in makers.items():
        frames = zip(real_frames, make(), strict=False)
        out, pixels, samples = _measure_against_real(frames, driver.measures, measurer, n, set(driver.samples))
        result.metrics[method] = {**_self_metrics(out, driver.measures, pixels, 0, float("nan")), **(extra or {})}
        result.samples[method] = samples
    return result


def _render(animator, source, values: np.ndarray, fps):
    track = MotionTrack.from_rows(float(fps), values)
    return iter(_animate(animator, source, track, paste_back=True))


def _facedyn_at(animator, source, values: np.ndarray, fps, bitrate: int) -> tuple:
    config = fit_bitrate(values, fps, bitrate, CodecConfig())
    start = time.perf_counter()
    data, encoder = encode_values(values, fps, config)
    encode_ms = 1000 * (time.perf_counter() - start) / len(values)
    start = time.perf_counter()
    decoder = Decoder()
    decoded = np.array([f.values for f in decoder.feed(data) + decoder.finish()])
    decode_ms = 1000 * (time.perf_counter() - start) / len(values)
    seconds = len(values) / float(fps)
    extra = {"kbps": 8 * encoder.dynamics_bytes / seconds / 1000, "encode_ms": encode_ms, "decode_ms": decode_ms,
             "quality": config.quality, "stride": config.stride}
    return (lambda: _render(animator, source, decoded, fps)), extra


def _codec_job(item: tuple[Path, RateOptions]) -> ClipResult:
    path, rate = item
    w = _worker
    return _guard(path.stem, lambda: codec_reenactment(path, w["animator"], w["measurer"], w["options"], rate))


def run_codec(videos: list[Path], options: EvalOptions, rate: RateOptions, workers: int = 1,
              progress=None) -> list[ClipResult]:
    """codec_reenactment on each video; `progress(done, total)` after each clip."""
    return list(_map(_codec_job, [(v, rate) for v in videos], options, workers, progress))


def bitrate_to_match(points: list[tuple[float, float]], target: float) -> float:
    """The kbit/s at which a codec's (kbps, value) curve (lower value = better) first reaches
    `target`, interpolated on a log rate axis; NaN if it never does, its lowest rate if it
    does from the start."""
    points = sorted((k, v) for k, v in points if np.isfinite(k) and np.isfinite(v))
    for (k0, v0), (k1, v1) in itertools.pairwise(points):
        if v0 <= target:
            return k0
        if v1 <= target:
            share = (v0 - target) / (v0 - v1)
            return math.exp(math.log(k0) + share * (math.log(k1) - math.log(k0)))
    return points[-1][0] if points and points[-1][1] <= target else float("nan")




# -- the report: table, plots, the bitrate at which each pixel codec matches facedyn -----------

REPORT_METRICS = ("kbps", "akd_mesh", "akd_dlib", "emotion_distance", "id_distance", "psnr", "ssim", "corr_eyes",
                  "corr_mouth")


def summarize_methods(results: list[ClipResult]) -> dict[str, dict[str, float]]:
    """Per method, the mean over clips of REPORT_METRICS (and facedyn's speeds)."""
    methods = {m for r in results if not r.error for m in r.metrics}
    out = {}
    for method in methods:
        rows = [r.metrics[method] for r in results if not r.error and method in r.metrics]
        keys = [k for k in (*REPORT_METRICS, "encode_ms", "decode_ms") if k in rows[0]]
        out[method] = {k: float(np.nanmean([row.get(k, np.nan) for row in rows])) for k in keys}
    return out


def curves(summary: dict[str, dict[str, float]]) -> dict[str, list[tuple[str, dict]]]:
    """Methods grouped into rate curves: "facedyn" and "<codec>-<side>", each sorted by kbps."""
    out: dict[str, list] = {}
    for method, values in summary.items():
        if method == "facedyn-uncompressed":
            continue
        name = "facedyn" if method.startswith("facedyn-") else method.rsplit("-", 1)[0]
        out.setdefault(name, []).append((method, values))
    return {k: sorted(v, key=lambda item: item[1]["kbps"]) for k, v in out.items()}


def match_table(summary: dict[str, dict[str, float]], reference: str = "facedyn-1000") -> list[dict]:
    """For each pixel codec curve, the kbit/s at which it matches `reference` on AKD (mesh)
    and emotion distance, and how many times the reference's bits that is."""
    ref = summary[reference]
    rows = []
    for name, points in curves(summary).items():
        if name == "facedyn":
            continue
        row = {"codec": name}
        for metric in ("akd_mesh", "emotion_distance"):
            kbps = bitrate_to_match([(v["kbps"], v[metric]) for _, v in points], ref[metric])
            row[metric] = kbps
            row[f"{metric}_factor"] = kbps / ref["kbps"] if np.isfinite(kbps) else float("nan")
        rows.append(row)
    return rows


def plot_curves(summary: dict[str, dict[str, float]], folder: Path) -> list[Path]:
    """One PNG per metric: value against kbit/s (log axis), a line per codec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for metric in REPORT_METRICS[1:]:
        if not any(np.isfinite(v.get(metric, np.nan)) for v in summary.values()):
            continue
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for name, points in curves(summary).items():
            ax.plot([v["kbps"] for _, v in points], [v.get(metric, np.nan) for _, v in points], marker="o", label=name)
        if "facedyn-uncompressed" in summary:
            ax.axhline(summary["facedyn-uncompressed"].get(metric, np.nan), color="grey", linestyle=":",
                       label="facedyn uncompressed")
        ax.set_xscale("log")
        ax.set_xlabel("kbit/s")
        ax.set_ylabel(metric)
        if ax.lines:
            ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        path = folder / f"rd_{metric}.png"
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def markdown(summary: dict[str, dict[str, float]], matches: list[dict]) -> str:
    """The rate-distortion table and the match table, as Markdown."""
    keys = [*REPORT_METRICS, "encode_ms", "decode_ms"]
    lines = ["| method | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    order = sorted(summary, key=lambda m: (not m.startswith("facedyn"), m.rsplit("-", 1)[0], summary[m]["kbps"]
                                           if np.isfinite(summary[m].get("kbps", np.nan)) else 0))
    for method in order:
        cells = [f"{summary[method].get(k, float('nan')):.3g}" for k in keys]
        lines.append(f"| {method} | " + " | ".join(cells).replace("nan", "-") + " |")
    lines += ["", "| pixel codec | kbit/s to match AKD mesh | x facedyn's | kbit/s to match emo dist | x facedyn's |",
              "|---|---:|---:|---:|---:|"]
    for row in matches:
        cells = [f"{row[k]:.3g}" for k in ("akd_mesh", "akd_mesh_factor", "emotion_distance", "emotion_distance_factor")]
        lines.append(f"| {row['codec']} | " + " | ".join(cells).replace("nan", "not reached") + " |")
    return "\n".join(lines) + "\n"


def sheet_columns(summary: dict[str, dict[str, float]], facedyn: str = "facedyn-500", factor: float = 20.0) -> list[str]:
    """The contact sheet's methods: facedyn at `facedyn`, H.264 at 256 px nearest the same
    bitrate (its lowest), and nearest `factor` times it."""
    h264 = sorted((v["kbps"], m) for m, v in summary.items() if m.startswith("h264-256-"))
    if facedyn not in summary or not h264:
        return [m for m in (facedyn,) if m in summary]
    target = summary[facedyn]["kbps"]

    def nearest(kbps: float) -> str:
        return min(h264, key=lambda item: abs(math.log(item[0] / kbps)))[1]

    return [facedyn, nearest(target), nearest(factor * target)]


def write_codec_report(folder: Path, results: list[ClipResult], settings: dict) -> Path:
    """report.json, report.md, rd_<metric>.png plots and sheets/<clip>.png into `folder`."""
    import json

    from facedyn.eval.report import _fit_height, _write_png, _write_text, sheet_name

    (folder / "sheets").mkdir(parents=True, exist_ok=True)
    summary = summarize_methods(results)
    matches = match_table(summary) if "facedyn-1000" in summary else []
    plot_curves(summary, folder)
    columns = sheet_columns(summary)
    for result in results:
        if result.error or not all(c in result.samples for c in columns):
            continue
        labels = ["original", *[f"{c} ({result.metrics[c]['kbps']:.2g} kbit/s)" for c in columns]]
        rows = [[_fit_height(result.samples[c][i], 192) for c in ["driver", *columns]]
                for i in range(len(result.samples["driver"]))]
        header = [np.full((28, tile.shape[1], 3), 255, np.uint8) for tile in rows[0]]
        for label, tile in zip(labels, header, strict=True):
            cv2.putText(tile, label, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        _write_png(folder / "sheets" / sheet_name(result.name), np.concatenate([np.concatenate(r, 1) for r in [header, *rows]]))
    errors = [f"- {r.name}: {r.error}" for r in results if r.error]
    text = ("# facedyn eval codec\n\n" + f"Settings: {json.dumps(settings, default=str)}\n\n" + markdown(summary, matches)
            + ("\nFailed clips:\n" + "\n".join(errors) + "\n" if errors else ""))
    _write_text(folder / "report.md", text)
    data = {"settings": settings, "summary": summary, "matches": matches,
            "clips": {r.name: r.metrics if not r.error else {"error": r.error} for r in results}}
    _write_text(folder / "report.json", json.dumps(data, indent=1, default=float).replace("NaN", "null"))
    return folder / "report.md"
