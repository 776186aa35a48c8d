"""The protocols: self-reenactment (a video drives one of its own frames, ground truth known)
and cross-reenactment (every image driven by every video), each with the baselines."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np

from facedyn.animator import Animation, Animator, Source
from facedyn.drivers.landmark_files import from_tracks
from facedyn.drivers.landmarks import LandmarkDriver
from facedyn.drivers.video import TrackedVideoDriver, fill_gaps, smooth_landmarks
from facedyn.errors import FacedynError, InputError
from facedyn.eval import metrics
from facedyn.eval.baselines import LandmarkWarp
from facedyn.eval.measure import ClipMeasures, Measurer, face_crop, face_crop_box
from facedyn.io import iter_frames, probe_video
from facedyn.tracking import topology as T
from facedyn.tracking.facemesh import silence_native_logs

log = logging.getLogger(__name__)

# facedyn-68dlib / facedyn-68mesh: facedyn driven by the driver's own 68 points alone (dlib's
# predictor, MediaPipe's 68-point subset), lifted to dense dynamics; run with landmarks68=True.
LANDMARK_METHODS = ("facedyn-68dlib", "facedyn-68mesh")
METHODS = ("facedyn", *LANDMARK_METHODS, "static", "landmark-warp")
SHEET_METHODS = ("facedyn", *LANDMARK_METHODS, "landmark-warp")  # the contact sheets show driver | these


@dataclass(frozen=True)
class EvalOptions:
    """Options of an evaluation run.

    source_frame: self-reenactment: which frame of each video is the source (0..).
    max_frames: use at most this many frames of each video (None: all).
    identity_frames: evenly spaced frames per clip that get a dlib descriptor (1..1000).
    sheet_rows: sampled frames per contact sheet (1..20).
    size: facedyn's working resolution (128..2048).
    landmarks68: also drive facedyn from each driving video's 68 points (LANDMARK_METHODS).
    """

    source_frame: int = 0
    max_frames: int | None = None
    identity_frames: int = 16
    sheet_rows: int = 6
    size: int = 512
    landmarks68: bool = False

    def __post_init__(self) -> None:
        if self.source_frame < 0:
            raise InputError(f"source_frame must be 0 or more, got {self.source_frame}")
        if self.max_frames is not None and self.max_frames < 3:
            raise InputError(f"max_frames must be at least 3, got {self.max_frames}")
        if not 1 <= self.sheet_rows <= 20:
            raise InputError(f"sheet_rows must be in 1..20, got {self.sheet_rows}")


@dataclass
class DriverClip:
    """A driving video, tracked and measured once.

    driving: (N, 478, 3) landmarks with gaps filled and One-Euro smoothed, exactly what
        facedyn's video driver feeds the animator (and what the landmark warp gets).
    measures: raw per-frame measures of the real frames.
    samples: the contact-sheet frames, by index.
    """

    path: Path
    fps: Fraction
    driving: np.ndarray
    measures: ClipMeasures
    samples: dict[int, np.ndarray]


@dataclass
class ClipResult:
    """One clip of a protocol: metrics per method (method -> metric -> value; NaN where a
    metric has no value), the sampled frames per column, or the error that stopped it."""

    name: str
    frames: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    error: str | None = None


def sample_indices(count: int, rows: int) -> list[int]:
    """`rows` evenly spaced frame indices of a clip of `count` frames (skipping the first)."""
    return sorted(set(np.linspace(min(1, count - 1), count - 1, min(rows, count)).round().astype(int).tolist()))


def _frame_count(path: Path, options: EvalOptions) -> int:
    count = probe_video(path).frame_count
    return min(count, options.max_frames) if options.max_frames else count


def track_driver(path: Path, measurer: Measurer, options: EvalOptions) -> DriverClip:
    """Decode, track and measure a driving video once.

    Raises:
        InputError: unreadable video. NoFaceError: no face in any frame.
    """
    info = probe_video(path)
    count = _frame_count(path, options)
    keep = set(sample_indices(count, options.sheet_rows))
    recorder = measurer.clip(count)
    points, samples = [], {}
    for i, frame in enumerate(itertools.islice(iter_frames(path), count)):
        points.append(recorder.add(frame))
        if i in keep:
            samples[i] = frame
    filled = fill_gaps(enumerate(points), [], path)
    driving = np.array([p for _, p in smooth_landmarks(filled, float(info.fps))])
    return DriverClip(path, info.fps, driving, recorder.result(), samples)


def _method_frames(animation: Animation, still: np.ndarray, warp: LandmarkWarp, driving: np.ndarray,
                   tears: list[float]) -> dict:
    """Per method, a maker of its frames; facedyn's also appends each frame's tears
    (metrics.warp_tears of its map) to `tears`."""
    n = len(driving)
    return {
        "facedyn": lambda: _measuring_tears(animation, tears),
        "static": lambda: itertools.repeat(still, n),
        "landmark-warp": lambda: map(warp, driving),
    }


def _measuring_tears(animation: Animation, tears: list[float]) -> Iterator[np.ndarray]:
    layers = animation.source.layers
    for frame in animation:
        tears.append(metrics.warp_tears(animation.renderer.last_map, layers.mask, layers.landmarks))
        yield frame


def _animation(animator: Animator, source: Source, driver: DriverClip, reference: int, paste_back: bool) -> Animation:
    motion = TrackedVideoDriver(driver.path, driver.driving, driver.fps, reference)
    return _animate(animator, source, motion, paste_back)


def _animate(animator: Animator, source: Source, motion_driver, paste_back: bool) -> Animation:
    config = replace(animator.config, render=replace(animator.config.render, paste_back=paste_back))
    return Animation(source, motion_driver.open(), config)


def driver_landmarks68(measures: ClipMeasures) -> dict[str, np.ndarray]:
    """The driver's own raw 68-point tracks per LANDMARK_METHODS: (N, 68, 2) pixels, NaN rows
    where no face was found. Methods without a single face are left out."""
    tracks = {"facedyn-68dlib": measures.dlib68, "facedyn-68mesh": T.landmarks68(measures.mesh)[..., :2]}
    return {method: points for method, points in tracks.items() if np.isfinite(points).all(axis=(1, 2)).any()}


def _landmark_makers(animator: Animator, source: Source, driver: DriverClip, reference: int, paste_back: bool,
                     options: EvalOptions) -> dict:
    """Frame makers of LANDMARK_METHODS, as a user driving from a 68-point file would run them:
    gaps filled, outliers rejected, smoothed, lifted to dense dynamics. No driver pixels."""
    if not options.landmarks68:
        return {}

    def make(method: str, points: np.ndarray):
        driver68 = LandmarkDriver(from_tracks(points, name=f"{driver.path.stem} {method}"), float(driver.fps),
                                  reference=reference)
        return lambda: iter(_animate(animator, source, driver68, paste_back))

    return {method: make(method, points) for method, points in driver_landmarks68(driver.measures).items()}


def self_reenactment(path: Path, animator: Animator, measurer: Measurer, options: EvalOptions) -> ClipResult:
    """A video drives its own frame `options.source_frame`; every output frame is compared
    with the real one. The source frame itself is left out of the averages.

    Raises:
        InputError, NoFaceError: unreadable video, no face, source frame out of range.
    """
    driver = track_driver(path, measurer, options)
    n, k = len(driver.driving), options.source_frame
    if k >= n:
        raise InputError(f"source frame {k} is past the end of {path.name} ({n} frames)")
    still = next(itertools.islice(iter_frames(path), k, None))
    source = animator.load_source(still)
    teeth = metrics.teeth_reference(source.layers.image, source.layers.landmarks)
    tears: list[float] = []
    makers = _method_frames(_animation(animator, source, driver, k, paste_back=True), still,
                            LandmarkWarp(still, driver.driving[k]), driver.driving, tears)
    makers.update(_landmark_makers(animator, source, driver, k, True, options))
    result = ClipResult(path.stem, n, samples={"driver": [driver.samples[i] for i in sorted(driver.samples)]})
    real = driver.measures
    for method, make in makers.items():
        frames = zip(itertools.islice(iter_frames(path), n), make(), strict=False)
        out, pixels, samples = _measure_against_real(frames, real, measurer, n, set(driver.samples))
        result.metrics[method] = _self_metrics(out, real, pixels, k, teeth)
        if method == "facedyn":
            result.metrics[method]["tears"] = max(tears, default=float("nan"))
        if method in SHEET_METHODS:
            result.samples[method] = samples
    return result


def _measure_against_real(frames: Iterable, real: ClipMeasures, measurer: Measurer, n: int, keep: set[int]):
    """Measure generated frames and their pixel metrics against the real frames."""
    recorder = measurer.clip(n)
    pixels = np.full((n, 6), np.nan)  # l1, psnr, ssim on the frame, then on the face crop
    samples = []
    for i, (truth, frame) in enumerate(frames):
        recorder.add(frame)
        pixels[i, :3] = metrics.l1(frame, truth), metrics.psnr(frame, truth), metrics.ssim(frame, truth)
        if real.found[i]:
            box = face_crop_box(real.mesh[i])
            a, b = face_crop(frame, box), face_crop(truth, box)
            pixels[i, 3:] = metrics.l1(a, b), metrics.psnr(a, b), metrics.ssim(a, b)
        if i in keep:
            samples.append(frame)
    return recorder.result(), pixels, samples


def _self_metrics(out: ClipMeasures, real: ClipMeasures, pixels: np.ndarray, source_frame: int,
                  teeth: float) -> dict[str, float]:
    keep = np.ones(len(pixels), bool)
    keep[source_frame] = False
    px = pixels[keep]
    px[~np.isfinite(px)] = np.nan
    values = dict(zip(("l1", "psnr", "ssim", "face_l1", "face_psnr", "face_ssim"), np.nanmean(px, axis=0), strict=True))
    sides = real.crop_sides
    values["akd_mesh"] = _mean(metrics.akd(out.mesh[keep], real.mesh[keep], sides[keep]))
    values["akd_dlib"] = _mean(metrics.akd(out.dlib68[keep], real.dlib68[keep], sides[keep]))
    values.update(_identity(out.descriptors, real.descriptors))
    values.update(_motion_metrics(out, real, relative_to=None, teeth=teeth))
    return values


def cross_reenactment(image: Path, driver: DriverClip, animator: Animator, measurer: Measurer,
                      options: EvalOptions) -> ClipResult:
    """A video drives a photo (relative motion from the video's first frame); identity is
    compared with the source photo and motion with the driver. Frames are the working crop.

    Raises:
        InputError, NoFaceError: unreadable photo, no usable face.
    """
    source = animator.load_source(image)
    layers = source.layers
    source_measures = measurer.still(layers.image)
    if not source_measures.found[0]:
        raise InputError(f"the tracker lost the face of {image.name} in its working crop")
    n = len(driver.driving)
    tears: list[float] = []
    makers = _method_frames(_animation(animator, source, driver, 0, paste_back=False), layers.image,
                            LandmarkWarp(layers.image, layers.landmarks, driver.driving[0]), driver.driving, tears)
    makers.update(_landmark_makers(animator, source, driver, 0, False, options))
    result = ClipResult(f"{image.stem} <- {driver.path.stem}", n,
                        samples={"driver": [driver.samples[i] for i in sorted(driver.samples)]})
    for method, make in makers.items():
        recorder = measurer.clip(n)
        samples = []
        for i, frame in enumerate(make()):
            recorder.add(frame)
            if i in driver.samples:
                samples.append(frame)
        out = recorder.result()
        values = _identity(out.descriptors, source_measures.descriptors[0])
        values.update(_motion_metrics(out, driver.measures, relative_to=source_measures,
                                      teeth=metrics.teeth_reference(layers.image, layers.landmarks)))
        if method == "facedyn":
            values["tears"] = max(tears, default=float("nan"))
        result.metrics[method] = values
        if method in SHEET_METHODS:
            result.samples[method] = samples
    return result


def _identity(descriptors: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Identity against per-frame (N, 128) or one (128,) reference descriptor(s)."""
    ok = ~np.isnan(descriptors[:, 0]) & ~np.isnan(np.broadcast_to(reference, descriptors.shape)[:, 0])
    ref = np.broadcast_to(reference, descriptors.shape)[ok]
    dist = metrics.descriptor_distance(descriptors[ok], ref)
    return {
        "id_cosine": _mean(metrics.cosine_similarity(descriptors[ok], ref)),
        "id_distance": _mean(dist),
        "id_same": _mean((dist < metrics.DLIB_SAME_PERSON).astype(float)),
    }


def _motion_metrics(out: ClipMeasures, driver: ClipMeasures, relative_to: ClipMeasures | None,
                    teeth: float) -> dict[str, float]:
    """Emotion, head pose, expression, mouth and eye extremes, teeth colour and jitter of the
    output against the driver.

    relative_to: the source's measures for cross-reenactment, where the pose is compared as
        change: output minus source against driver minus its first frame.
    teeth: the saturation of teeth under the source photo's light (metrics.teeth_reference).
    """
    values = {
        "emotion_distance": _mean(metrics.emotion_distance(out.emotions, driver.emotions)),
        "emotion_agreement": metrics.top_class_agreement(out.emotions, driver.emotions),
    }
    out_angles, drv_angles = out.angles, driver.angles
    if relative_to is not None:
        out_angles = out_angles - relative_to.angles[0]
        drv_angles = drv_angles - drv_angles[np.flatnonzero(driver.found)[0]]
    for name, err in zip(("yaw_error", "pitch_error", "roll_error"), (out_angles - drv_angles).T, strict=True):
        values[name] = _mean(np.abs(err))
    values.update(_turn_ratios(out, driver, relative_to))
    out_sig, drv_sig = out.signals, driver.signals
    for j, name in enumerate(metrics.SIGNALS):
        values[f"corr_{name}"] = metrics.correlation(out_sig[:, j], drv_sig[:, j])
    closure = metrics.mouth_closure(out.gaps, driver.gaps)
    values["gap_closed"] = closure["gap_closed"]
    values["gap_max_ratio"] = closure["gap_max"] / max(closure["driver_gap_max"], 1e-6)
    blink, driver_blink = metrics.blink_depth(out_sig[:, 0], drv_sig[:, 0])
    values["blink_excess"] = blink - driver_blink
    values["teeth_shift"] = abs(metrics.teeth_shift(out.teeth, teeth))
    values["jitter"] = metrics.jitter_ratio(out.mesh, driver.mesh)
    values["failures"] = float(1.0 - out.found.mean())
    return values


def _turn_ratios(out: ClipMeasures, driver: ClipMeasures, relative_to: ClipMeasures | None) -> dict[str, float]:
    """The output's turns over the driver's (metrics.turn_ratio), each from its start: the
    source photo's pose (cross) or its own first frame with a face (self)."""
    first = np.flatnonzero(driver.found)
    if not len(first):
        return {f"{axis}_ratio": float("nan") for axis in ("yaw", "pitch", "roll")}
    drv_rot, out_rot = metrics.head_rotations(driver.mesh), metrics.head_rotations(out.mesh)
    start = metrics.head_rotations(relative_to.mesh)[0] if relative_to is not None else out_rot[first[0]]
    drv, got = metrics.turns(drv_rot, drv_rot[first[0]]), metrics.turns(out_rot, start)
    return {f"{axis}_ratio": metrics.turn_ratio(got[:, k], drv[:, k]) for k, axis in enumerate(("yaw", "pitch", "roll"))}


def _mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


# -- running many clips, on every core given ---------------------------------------------------

_worker: dict = {}
Done = TypeVar("Done")


def _init_worker(options: EvalOptions, quiet: bool = True) -> None:
    if quiet:  # worker processes: MediaPipe's native warnings would flood the terminal
        silence_native_logs()
    _worker.clear()
    _worker["options"] = options
    try:
        _worker["animator"] = Animator(size=options.size)
        _worker["measurer"] = Measurer(options.identity_frames)
    except Exception as exc:  # a pool restarts a worker whose start fails, forever: report it instead
        _worker["failed"] = f"the evaluation could not start: {exc}"


def _close_worker() -> None:
    for key in ("animator", "measurer"):
        if key in _worker:
            _worker.pop(key).close()


def _guard(name: str, job: Callable[[], Done]) -> Done | ClipResult:
    """Run one clip; a bad input, or a failure of this clip alone, fails that clip only, with
    its message kept for the report (a long evaluation still ends in a report)."""
    try:
        if "failed" in _worker:
            raise InputError(_worker["failed"])
        return job()
    except FacedynError as exc:
        log.warning("%s: %s", name, exc)
        return ClipResult(name, error=str(exc))
    except Exception as exc:
        log.warning("%s: internal error: %s: %s", name, type(exc).__name__, exc)
        return ClipResult(name, error=f"internal error: {type(exc).__name__}: {exc}")


def _self_job(path: Path) -> ClipResult:
    w = _worker
    return _guard(path.stem, lambda: self_reenactment(path, w["animator"], w["measurer"], w["options"]))


def _driver_job(path: Path) -> DriverClip | str:
    result = _guard(path.stem, lambda: track_driver(path, _worker["measurer"], _worker["options"]))
    return result.error if isinstance(result, ClipResult) else result


def _cross_job(pair: tuple[Path, DriverClip]) -> ClipResult:
    image, driver = pair
    w = _worker
    name = f"{image.stem} <- {driver.path.stem}"
    return _guard(name, lambda: cross_reenactment(image, driver, w["animator"], w["measurer"], w["options"]))


Progress = Callable[[int, int], None]


def _map(job: Callable, items: list, options: EvalOptions, workers: int, progress: Progress | None) -> Iterator:
    """job over items in `workers` processes (in this one when 1), results in order."""
    if workers <= 1:
        _init_worker(options, quiet=False)
        try:
            yield from _counted(map(job, items), len(items), progress)
        finally:
            _close_worker()
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(min(workers, len(items)) or 1, _init_worker, (options,)) as pool:
        yield from _counted(pool.imap(job, items), len(items), progress)


def _counted(results: Iterator, total: int, progress: Progress | None) -> Iterator:
    for done, item in enumerate(results, start=1):
        if progress:
            progress(done, total)
        yield item


def run_self(videos: list[Path], options: EvalOptions, workers: int = 1,
             progress: Progress | None = None) -> list[ClipResult]:
    """Self-reenactment on each video; `progress(done, total)` after each clip."""
    return list(_map(_self_job, videos, options, workers, progress))


def run_cross(images: list[Path], videos: list[Path], options: EvalOptions, workers: int = 1,
              progress: Progress | None = None) -> list[ClipResult]:
    """Cross-reenactment of every image by every video; progress counts drivers, then pairs."""
    results: list[ClipResult] = []
    drivers = []
    for path, clip in zip(videos, _map(_driver_job, videos, options, workers, progress), strict=True):
        if isinstance(clip, str):
            results += [ClipResult(f"{image.stem} <- {path.stem}", error=clip) for image in images]
        else:
            drivers.append(clip)
    pairs = [(image, clip) for image in images for clip in drivers]
    results += _map(_cross_job, pairs, options, workers, progress)
    return results
