"""What the web app does, without the web: a Studio holds the models and turns a photo, a
driver spec and options into a first-frame preview, a video, or a dynamics stream.

Every method raises FacedynError for bad input (the app shows its one line); one job runs at
a time (the app queues the rest).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facedyn import drivers
from facedyn.animator import Animator, Progress, Source
from facedyn.errors import InputError
from facedyn.jobs import Job, JobOptions, JobResult, open_job, run_job

MAX_CACHED_SOURCES = 8  # photos kept prepared (a few MB each): moving a slider re-renders at once


@dataclass(frozen=True)
class EncodeSummary:
    """A clip encoded into a dynamics stream."""

    stream: Path
    frames: int
    seconds: float
    bits_per_second: float  # the dynamics alone
    total_bytes: int

    def describe(self) -> str:
        return (f"{self.frames} frames, {self.seconds:.1f} s: dynamics at {self.bits_per_second:.0f} bit/s "
                f"({self.bits_per_second / 8 * 60 / 1024:.1f} KB a minute); the file is {self.total_bytes} bytes")


class Studio:
    """The web app's engine. Use as a context manager; it holds the models and a work folder.

    Args:
        work_dir: where results go (default: a new temporary folder, removed on close).
    """

    def __init__(self, work_dir: str | Path | None = None) -> None:
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="facedyn-ui-"))
        self._animator = Animator()
        self._sources: OrderedDict[tuple, Source] = OrderedDict()
        self._lock = threading.RLock()
        self._count = 0

    def example_photo(self) -> Path:
        """The scikit-image astronaut (NASA, public domain) as a PNG: a first visit needs no upload."""
        path = self.work_dir / "astronaut.png"
        if not path.exists():
            from PIL import Image
            from skimage import data

            Image.fromarray(data.astronaut()).save(path)
        return path

    def warm(self) -> None:
        """Prepare the example photo with the default options, so a first visit's preview is quick."""
        with self._lock:
            self._source(Job(self.example_photo(), "", self.work_dir / "warm.mp4", JobOptions()))

    def job(self, photo: str | Path | None, driver: str, options: JobOptions) -> Job:
        """A job writing into the work folder under a fresh name.

        Raises:
            InputError: no photo or no driver given.
        """
        if not photo:
            raise InputError("no photo: upload a photo with one face (or use the example)")
        if not driver:
            raise InputError("no driver: give a driving video, a motion file, an expression or a length")
        with self._lock:
            self._count += 1
            output = self.work_dir / f"facedyn-{self._count}.mp4"
        return Job(Path(photo), driver, output, options)

    def preview(self, job: Job) -> np.ndarray:
        """The job's first frame, (H, W, 3) uint8 RGB, with nothing written."""
        with self._lock:
            animation = open_job(self._animator, job, self._source(job))
            frames = iter(animation)
            try:
                return next(frames)
            except StopIteration:
                raise InputError("the driver has no frames") from None
            finally:
                frames.close()  # stops the decoding thread

    def render(self, job: Job, progress: Progress | None = None) -> JobResult:
        """Render the job's video into the work folder."""
        with self._lock:
            return run_job(self._animator, job, progress, self._source(job))

    def encode(self, video: str | Path, quality: int = 32, progress: Progress | None = None) -> EncodeSummary:
        """The facial dynamics of `video` as a .fdyn stream in the work folder (no audio)."""
        from facedyn import codec

        with self._lock:
            self._count += 1
            stream = self.work_dir / f"{Path(video).stem}-{self._count}.fdyn"
            motion = drivers.video(video).open(self._animator.tracker)
            result = codec.encode_motion(motion, stream, codec.CodecConfig(quality=quality), progress=progress)
        return EncodeSummary(stream, result.frames, result.seconds, result.dynamics_bits_per_second, result.total_bytes)

    def _source(self, job: Job) -> Source:
        """The job's photo prepared with its options, from the cache when it was before."""
        options = job.options
        photo = Path(job.photo)
        stat = photo.stat() if photo.is_file() else None
        key = (str(photo.resolve()), stat and (stat.st_mtime_ns, stat.st_size), options.size, options.output_size,
               options.paste_back, options.face)
        if key not in self._sources:
            runner = self._animator.with_config(options.config())
            self._sources[key] = runner.load_source(photo, face=options.face)
            while len(self._sources) > MAX_CACHED_SOURCES:
                self._sources.popitem(last=False)
        self._sources.move_to_end(key)
        return self._sources[key]

    def close(self) -> None:
        self._animator.close()
        self._sources.clear()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
