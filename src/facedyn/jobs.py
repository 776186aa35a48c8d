"""One animation run as plain data: a photo, a driver spec, an output and the CLI's options.

The web app and batch runs describe their work this way, so both accept the command line's
option names and the same driver specs:

    job = Job.from_strings({"photo": "me.jpg", "driver": "expression:smile:2s:0.8",
                            "output": "me_smile.mp4", "mouth": "1.2"})
    with Animator() as anim:
        result = run_job(anim, job)

A driver spec is one of:
    a video path (any format FFmpeg reads)         clip.mp4
    a motion file (facedyn .json/.csv, ARKit CSV)   take.csv
    a landmark file or folder (.txt .pts .npy .npz, an OpenFace CSV, a folder of .pts)
    a dynamics stream (.fdyn, from facedyn encode)
    expression:LABEL[:DURATION[:INTENSITY]]         expression:smile:2s:0.8
    timeline:CLIPS (as express --timeline)          timeline:surprise@0-1.2s, smile:0.6@1.5-3s
    imagine:DURATION[:SEED]                         imagine:10s:7
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from facedyn import drivers
from facedyn.animator import OUTPUT_SIZE, Animation, Animator, AnimatorConfig, Progress, Source
from facedyn.drivers.landmark_files import looks_like_openface
from facedyn.errors import InputError
from facedyn.geometry.retarget import MODES, RetargetConfig
from facedyn.io import VIDEO_SUFFIXES
from facedyn.io.files import check_output
from facedyn.render import RenderConfig

SPEC_KINDS = ("expression", "timeline", "imagine")
GENERATED_FPS = 25.0  # the frame rate of expression, timeline and imagine motion unless `fps` is given
_LANDMARK_SUFFIXES = (".txt", ".pts", ".lms", ".npy", ".npz")
_KIND_WORDS = {"bool": "true or false", "float": "a number", "int": "a whole number",
               "int | None": "a whole number or full", "float | None": "a number"}
_TRUE, _FALSE = ("1", "true", "yes", "on", "y"), ("0", "false", "no", "off", "n", "")


@dataclass(frozen=True)
class JobOptions:
    """The command line's long options of a run (`facedyn animate --help`), by name.

    Each field is the option without its dashes (`pose-scale` is `pose_scale`); ranges as
    the CLI's. Options that define the driver itself (--expression, --duration, --seed, ...)
    are written into the driver spec instead.
    """

    mode: str = "hybrid"  # hybrid, relative or absolute
    reference: str = "first"  # a video driver's frame meaning no change: first, auto or an index
    pose_scale: float = 1.0  # 0..3
    expression_scale: float = 1.0  # 0..3
    eyes: float = 1.0  # 0..3
    brows: float = 1.0  # 0..3
    mouth: float = 1.0  # 0..3
    face: int | None = None  # which face of several (0 = leftmost); None: the largest
    size: int = 512  # working resolution, 128..2048
    output_size: int | None = OUTPUT_SIZE  # the video's long side at most; None: the photo's own
    paste_back: bool = True
    side_by_side: bool = False
    audio: str = "driving"  # driving or none
    smoothing: bool = True
    yaw: str = "0"  # degrees, constant or keyframes "0s:0, 1s:15"
    pitch: str = "0"
    roll: str = "0"
    landmarks_format: str = "auto"
    fps: float | None = None  # of generated motion (default 25) and of a landmark file (default: its own, else 25)
    hold: bool = False  # expression: hold the apex to the end
    style: str = "calm"  # imagine: calm or lively

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.audio not in ("driving", "none"):
            raise InputError(f"audio must be driving or none, got {self.audio!r}")
        self.config()  # the rest is checked where the CLI checks it

    @classmethod
    def from_strings(cls, values: Mapping[str, object]) -> JobOptions:
        """Options from text (a CSV row) or JSON values, named as the CLI's long options
        (`pose-scale`, `pose_scale` and `--pose-scale` alike).

        Raises:
            InputError: an unknown option or a value of the wrong kind or range.
        """
        known = {f.name: f for f in fields(cls)}
        parsed = {}
        for raw_name, value in values.items():
            name = str(raw_name).strip().lstrip("-").replace("-", "_")
            if name not in known:
                raise InputError(f"unknown option {raw_name!r}; options are {', '.join(sorted(known))}")
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # an empty cell keeps the default
            parsed[name] = _convert(name, value, cls.__annotations__[name])
        try:
            return cls(**parsed)
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def config(self) -> AnimatorConfig:
        """The AnimatorConfig these options ask for."""
        try:
            retarget = RetargetConfig(self.mode, self.pose_scale, self.expression_scale, self.eyes, self.brows, self.mouth)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return AnimatorConfig(size=self.size, output_size=self.output_size, retarget=retarget,
                              render=RenderConfig(paste_back=self.paste_back), side_by_side=self.side_by_side)


def _convert(name: str, value: object, kind: str):
    """`value` as the field's type (annotations are strings here), with a message naming the option."""
    text = str(value).strip()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if kind in ("float", "float | None"):
            return float(text)
        if kind == "int":
            return int(text)
        if kind == "int | None":
            return None if text.lower() in ("full", "none") else int(text)
    except ValueError:
        raise InputError(f"option {name!r} must be {_KIND_WORDS[kind]}, got {text!r}") from None
    return text


@dataclass(frozen=True)
class Job:
    """One run: animate `photo` with `driver` (a spec, see the module's doc) into `output`."""

    photo: Path
    driver: str
    output: Path
    options: JobOptions = field(default_factory=JobOptions)

    @classmethod
    def from_strings(cls, row: Mapping[str, object], base: Path | None = None, out_dir: Path | None = None) -> Job:
        """A job from a row of text: `photo`, `driver`, `output`, then options by name.

        Args:
            row: the row; its keys are case-sensitive column names.
            base: relative photo and driver paths are relative to this folder.
            out_dir: a relative output path is relative to this folder.

        Raises:
            InputError: a missing column, an unknown option or a bad value.
        """
        missing = [c for c in ("photo", "driver", "output") if not str(row.get(c) or "").strip()]
        if missing:
            raise InputError(f"missing {', '.join(missing)}; every job needs photo, driver and output")
        rest = {k: v for k, v in row.items() if k not in ("photo", "driver", "output")}
        driver = str(row["driver"]).strip()
        if not _is_generated(driver):
            driver = str(_under(base, driver))
        return cls(_under(base, str(row["photo"]).strip()), driver, _under(out_dir, str(row["output"]).strip()),
                   JobOptions.from_strings(rest))

    def make_driver(self):
        """The driver this job's spec names, checked now (a bad file fails before any model loads).

        Raises:
            InputError: a malformed spec, or a missing or unreadable driver file.
        """
        options = self.options
        return drivers.with_pose(driver_from_spec(self.driver, options), options.yaw, options.pitch, options.roll)

    def to_dict(self) -> dict:
        """The job as JSON values (it travels to worker processes and cluster nodes this way)."""
        return {"photo": str(self.photo), "driver": self.driver, "output": str(self.output),
                "options": dataclasses.asdict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping) -> Job:
        """The inverse of to_dict."""
        return cls(Path(data["photo"]), data["driver"], Path(data["output"]), JobOptions(**data["options"]))


def _is_generated(spec: str) -> bool:
    return ":" in spec and spec.split(":", 1)[0].strip().lower() in SPEC_KINDS


def _under(folder: Path | None, path: str) -> Path:
    p = Path(path).expanduser()
    return p if folder is None or p.is_absolute() else folder / p


def driver_from_spec(spec: str, options: JobOptions | None = None):
    """The driver a spec names (see the module's doc).

    Raises:
        InputError: a malformed spec, or a missing or unreadable driver file.
    """
    options = options or JobOptions()
    if _is_generated(spec):
        kind, rest = spec.split(":", 1)
        return _generated(kind.strip().lower(), rest, options, spec)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix == ".fdyn":
        from facedyn import codec

        codec.read_stream(path)  # a damaged stream fails now
        return codec.StreamDriver(path)
    if suffix == ".json" or (suffix == ".csv" and _is_motion_csv(path)):
        return drivers.motion(path)
    if path.is_dir() or suffix in _LANDMARK_SUFFIXES or suffix == ".csv":
        return drivers.landmarks(path, options.fps, options.landmarks_format, options.smoothing)
    return drivers.video(path, options.reference, options.smoothing)


def _generated(kind: str, rest: str, options: JobOptions, spec: str):
    """expression:, timeline: or imagine: (`rest` is what follows the kind's colon)."""
    fps = options.fps or GENERATED_FPS
    if kind == "timeline":
        return drivers.timeline(rest, fps, returns=not options.hold)
    parts = [p.strip() for p in rest.split(":")]
    if kind == "expression":
        if len(parts) > 3 or not parts[0]:
            raise InputError(f"expected expression:LABEL[:DURATION[:INTENSITY]], got {spec!r}")
        duration = drivers.parse_duration(parts[1], fps) if len(parts) > 1 and parts[1] else 2.0
        intensity = _number(parts[2], "intensity", spec) if len(parts) > 2 else 1.0
        return drivers.expression(parts[0], duration, intensity, fps, returns=not options.hold)
    if len(parts) > 2:
        raise InputError(f"expected imagine:DURATION[:SEED], got {spec!r}")
    duration = drivers.parse_duration(parts[0], fps, least=0.5) if parts[0] else 10.0
    seed = int(_number(parts[1], "seed", spec)) if len(parts) > 1 else 0
    return drivers.imagine(duration, seed, options.style, fps)


def _number(text: str, what: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"the {what} in {spec!r} must be a number, got {text!r}") from None


def _is_motion_csv(path: Path) -> bool:
    """A facedyn or ARKit motion CSV (by its header), rather than landmarks or OpenFace."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline(1 << 16)
    except OSError:
        return False  # the landmark reader says what is wrong with the path
    names = {cell.strip() for cell in header.split(",")}
    return ("Timecode" in names or "time" in names) and not looks_like_openface(header)


@dataclass(frozen=True)
class JobResult:
    """What one job produced."""

    output: Path
    frames: int
    seconds: float


def open_job(animator: Animator, job: Job, source: Source | None = None) -> Animation:
    """The job's animation, nothing rendered yet: the output checked, the driver opened and
    the photo loaded with the job's options (or `source`, loaded before with the same ones).

    Args:
        animator: an open Animator; only its models are used, with the job's own options.

    Raises:
        FacedynError: bad input (photo, driver, output), as the CLI would report it.
    """
    check_output(job.output, VIDEO_SUFFIXES, (job.photo, Path(job.driver)))
    driver = job.make_driver()
    runner = animator.with_config(job.options.config())
    if source is None:
        source = runner.load_source(job.photo, face=job.options.face)
    return runner.animate(source, driver)


def run_job(animator: Animator, job: Job, progress: Progress | None = None, source: Source | None = None) -> JobResult:
    """Run `job` with the models of `animator` (its own options apply, not the animator's).

    Args:
        animator: an open Animator.
        job: the run.
        progress: called as progress(done, total) after each frame.
        source: the job's photo loaded before (see open_job).

    Raises:
        FacedynError: bad input (photo, driver, output), as the CLI would report it.
    """
    start = time.perf_counter()
    animation = open_job(animator, job, source)
    frames = 0

    def count(done: int, total: int | None) -> None:
        nonlocal frames
        frames = done
        if progress is not None:
            progress(done, total)

    animation.save(job.output, audio=job.options.audio == "driving", progress=count)
    return JobResult(job.output, frames, time.perf_counter() - start)
