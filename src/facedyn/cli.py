"""The facedyn command line: a thin layer over the public API.

Every failure is one line on stderr, `facedyn: error: ...`: bad input and usage exit 2, an
interruption 130 (SIGINT) or 128 + the signal (SIGTERM, SIGHUP), a bug 1, a batch with
failed jobs 3. Outputs are checked before any slow work and written atomically, so nothing is
left half-written.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import click

from facedyn import drivers
from facedyn.animator import OUTPUT_SIZE, Animator, AnimatorConfig
from facedyn.drivers.landmark_files import LAYOUTS, check_landmark_output
from facedyn.drivers.motion_file import MOTION_SUFFIXES
from facedyn.errors import FacedynError, InputError, error_line
from facedyn.geometry.retarget import MODES, RetargetConfig
from facedyn.io import VIDEO_SUFFIXES, check_image
from facedyn.io.files import check_output
from facedyn.render import RenderConfig
from facedyn.tracking.facemesh import silence_native_logs

EXIT_BAD_INPUT = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130
EXIT_SOME_FAILED = 3  # facedyn batch: the batch ran, some jobs failed (see the report)
MAX_LISTED_FAILURES = 10


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so every temp file is removed on the way."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # let the clean-up finish
    raise Stopped(signum)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str, code: int = EXIT_BAD_INPUT):
    click.echo(f"facedyn: error: {_one_line(message)}", err=True)
    sys.exit(code)


class FacedynGroup(click.Group):
    """click's group, with every failure (click's usage errors included) as one line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + where)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except (FacedynError, MemoryError, OSError) as exc:
            _fail(error_line(exc))
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
        except Stopped as exc:
            _fail(f"stopped by {signal.Signals(exc.signum).name}; nothing was written", 128 + exc.signum)
        except Exception as exc:
            if os.environ.get("FACEDYN_DEBUG") == "1":
                raise
            _fail(error_line(exc), EXIT_BUG)
        sys.exit(code if isinstance(code, int) else 0)


def _scale(name: str) -> click.Option:
    return click.option(f"--{name}", type=click.FloatRange(0, 3), default=1.0, show_default=True,
                        help=f"multiplier for {name.replace('-', ' ')} (0..3)")


class _OutputSize(click.ParamType):
    name = "N|full"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "full":
            return None
        try:
            size = int(value)
        except ValueError:
            size = 0
        if not 64 <= size <= 16384:
            self.fail(f"{value!r} is neither 'full' nor a size in 64..16384 pixels", param, ctx)
        return size


def _output_size_option(func):
    return click.option("--output-size", type=_OutputSize(), default=str(OUTPUT_SIZE), show_default=True,
                        help="the video's long side at most (pixels), or 'full' for the photo's own size; "
                             "always within H.264 level 5.2")(func)


class _Bar:
    """A tqdm progress bar fed by Animation.save's progress callback."""

    def __init__(self, desc: str, unit: str = "frame") -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=desc, unit=unit, disable=None)

    def __call__(self, done: int, total: int | None) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def _pose_options(func):
    for axis in ("roll", "pitch", "yaw"):
        func = click.option(f"--{axis}", default="0", show_default=True,
                            help=f"extra {axis} in degrees, constant or keyframes like \"0s:0, 1s:15, 2s:-15\"")(func)
    return func


def _check_video_run(output: Path, photo: Path | None, *inputs: Path | None) -> None:
    """What a video run can check in well under a second, before any model is loaded."""
    check_output(output, VIDEO_SUFFIXES, (photo, *inputs))
    if photo is not None:
        check_image(photo)


@click.group(cls=FacedynGroup)
@click.version_option(package_name="facedyn")
@click.option("-q", "--quiet", is_flag=True, help="print errors only")
def main(quiet: bool) -> None:
    """Animate one face photo from 3D facial dynamics."""
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="facedyn: %(message)s")


@main.command()
@click.argument("photo", type=click.Path(path_type=Path))
@click.option("--driving", type=click.Path(path_type=Path), default=None, help="driving video")
@click.option("--motion", "motion_file", type=click.Path(path_type=Path), default=None,
              help="motion file instead of a video: facedyn .json/.csv (from `facedyn track`) or an ARKit CSV")
@click.option("--landmarks", "landmark_file", type=click.Path(path_type=Path), default=None,
              help="landmarks instead of a video: 68-point rows (.txt), a folder of per-frame files or .pts, "
                   ".npy/.npz, or an OpenFace CSV")
@click.option("--landmarks-format", type=click.Choice(LAYOUTS), default="auto", show_default=True,
              help="the landmark file's layout")
@click.option("--fps", type=click.FloatRange(1, 120), default=None,
              help="frame rate of --landmarks (default: the file's own, else 25)")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="output video: .mp4, .mov, .mkv (H.264) or .webm (VP9)")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True,
              help="hybrid: the driver's changes, with the mouth opening and closing as far as the driver's; "
                   "relative: only the driver's changes; absolute: also its head rotation and eye/mouth opening")
@click.option("--reference", default="first", show_default=True,
              help="driving frame meaning 'no change': first, auto (most like the photo) or a frame index")
@_scale("pose-scale")
@_scale("expression-scale")
@_scale("eyes")
@_scale("brows")
@_scale("mouth")
@click.option("--face", type=click.IntRange(0), default=None,
              help="which face in a photo with several (0 = leftmost); default: the largest")
@click.option("--size", type=click.IntRange(128, 2048), default=512, show_default=True, help="working resolution in pixels")
@_output_size_option
@click.option("--paste-back/--no-paste-back", default=True, show_default=True, help="write the full photo, or only the face crop")
@click.option("--side-by-side", is_flag=True, help="write driving | source | result")
@click.option("--audio", type=click.Choice(["driving", "none"]), default="driving", show_default=True)
@click.option("--smoothing/--no-smoothing", default=True, show_default=True, help="One-Euro filter on the driving landmarks")
@_pose_options
def animate(photo, driving, motion_file, landmark_file, landmarks_format, fps, output, mode, reference, pose_scale,
            expression_scale, eyes, brows, mouth, face, size, output_size, paste_back, side_by_side, audio, smoothing,
            yaw, pitch, roll) -> None:
    """Animate PHOTO with the face motion of a driving video (--driving), a motion file
    (--motion) or landmarks (--landmarks)."""
    if sum(x is not None for x in (driving, motion_file, landmark_file)) != 1:
        raise click.UsageError("give exactly one of --driving VIDEO, --motion FILE or --landmarks FILE")
    if fps is not None and landmark_file is None:
        raise click.UsageError("--fps is for --landmarks; a video and a motion file have their own frame rate")
    _check_video_run(output, photo, driving, motion_file, landmark_file)
    if driving:
        driver = drivers.video(driving, reference, smoothing)
    elif motion_file:
        driver = drivers.motion(motion_file)
    else:
        driver = drivers.landmarks(landmark_file, fps, landmarks_format, smoothing)
    config = AnimatorConfig(
        size=size,
        output_size=output_size,
        retarget=RetargetConfig(mode, pose_scale, expression_scale, eyes, brows, mouth),
        render=RenderConfig(paste_back=paste_back),
        side_by_side=side_by_side,
    )
    _run(photo, drivers.with_pose(driver, yaw, pitch, roll), output, config, face, audio == "driving" and driving is not None)


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/demo.mp4"), show_default=True)
@click.option("--photo", type=click.Path(path_type=Path), default=None, help="default: the astronaut portrait from scikit-image")
@click.option("--seconds", type=click.FloatRange(1, 60), default=6.0, show_default=True)
def demo(output, photo, seconds) -> None:
    """Animate a portrait with a short built-in motion (no media needed)."""
    if output == Path("out/demo.mp4"):
        output.parent.mkdir(parents=True, exist_ok=True)
    _check_video_run(output, photo)
    if photo is None:
        from skimage import data

        photo = data.astronaut()
    _run(photo, drivers.demo(seconds), output, AnimatorConfig(), None, False)


def _run(photo, driver, output: Path, config: AnimatorConfig, face: int | None, audio: bool) -> None:
    bar = None
    try:
        with Animator(config) as anim:
            source = anim.load_source(photo, face=face)
            animation = anim.animate(source, driver)
            bar = _Bar(output.name)
            animation.save(output, audio=audio, progress=bar)
    finally:
        if bar:
            bar.close()
    click.echo(f"wrote {output}")


def _photo_motion_options(func):
    """What express and imagine share: the photo, output, frame rate, size, face and pose."""
    options = [
        click.argument("photo", type=click.Path(path_type=Path)),
        click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
                     help="output video: .mp4, .mov, .mkv (H.264) or .webm (VP9)"),
        click.option("--fps", type=click.FloatRange(1, 120), default=25.0, show_default=True),
        click.option("--size", type=click.IntRange(128, 2048), default=512, show_default=True,
                     help="working resolution in pixels"),
        _output_size_option,
        click.option("--face", type=click.IntRange(0), default=None, help="which face in a photo with several (0 = leftmost)"),
        _pose_options,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@_photo_motion_options
@click.option("--expression", "label", default=None, help="smile, laugh, surprise, sad, angry, disgust, fear, contempt, "
              "wink-left, wink-right, blink, pucker, a, e, o, neutral")
@click.option("--duration", default="2s", show_default=True, help="clip length: seconds (2s, 2.5) or frames (50f)")
@click.option("--intensity", type=click.FloatRange(0, 1.5), default=1.0, show_default=True)
@click.option("--timeline", default=None, help='several clips instead: "surprise@0-1.2s, smile:0.6@1.5-3s"')
@click.option("--hold", is_flag=True, help="hold the apex to the end instead of returning to neutral")
def express(photo, output, label, duration, intensity, timeline, hold, fps, size, output_size, face, yaw, pitch,
            roll) -> None:
    """Animate PHOTO with an expression label (--expression) or a timeline of them (--timeline)."""
    if (label is None) == (timeline is None):
        raise click.UsageError("give exactly one of --expression LABEL or --timeline TEXT")
    _check_video_run(output, photo)
    if label is not None:
        driver = drivers.expression(label, drivers.parse_duration(duration, fps), intensity, fps, returns=not hold)
    else:
        driver = drivers.timeline(timeline, fps, returns=not hold)
    _run(photo, drivers.with_pose(driver, yaw, pitch, roll), output, AnimatorConfig(size=size, output_size=output_size), face,
         False)


@main.command()
@_photo_motion_options
@click.option("--duration", default="10s", show_default=True, help="length: seconds (10s) or frames (250f)")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="the same seed gives the same motion")
@click.option("--style", type=click.Choice(["calm", "lively"]), default="calm", show_default=True)
def imagine(photo, output, duration, seed, style, fps, size, output_size, face, yaw, pitch, roll) -> None:
    """Animate PHOTO with natural idle motion: head sway, blinks, glances, small expressions."""
    _check_video_run(output, photo)
    driver = drivers.imagine(drivers.parse_duration(duration, fps, least=0.5), seed, style, fps)
    _run(photo, drivers.with_pose(driver, yaw, pitch, roll), output, AnimatorConfig(size=size, output_size=output_size), face,
         False)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="motion: .json or .csv; landmarks68: .txt, .csv, .npy, or a new folder for .pts files")
@click.option("--format", "kind", type=click.Choice(["motion", "landmarks68"]), default="motion", show_default=True,
              help="motion: pose, 52 blendshapes and gaze; landmarks68: the iBUG/dlib 68 points per frame")
@click.option("--smoothing/--no-smoothing", default=True, show_default=True, help="One-Euro filter on the landmarks")
def track(video, output, kind, smoothing) -> None:
    """Extract the facial dynamics of VIDEO into a motion file, or its 68-point landmarks."""
    from facedyn.tracking import FaceTracker

    if kind == "motion":
        check_output(output, MOTION_SUFFIXES, (video,), kind="motion file")
    else:
        check_landmark_output(output, (video,))
    drivers.video(video)  # checks the video now, before the tracker loads
    with FaceTracker() as tracker:
        if kind == "motion":
            motion, gaze = drivers.track_video(video, tracker, smoothing)
            drivers.save_motion(motion, output, gaze, inputs=(video,))
            n, fps = len(motion), motion.fps
        else:
            sequence = drivers.track_landmarks(video, tracker, smoothing)
            drivers.save_landmarks(sequence.points, output, inputs=(video,))
            n, fps = len(sequence), sequence.fps
    click.echo(f"wrote {output} ({n} frames at {fps:g} fps)")


# -- web app -------------------------------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on; any other than this machine's own (127.0.0.1, localhost) needs --auth")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--auth", default=None, help="USER:PASSWORD, or a file with one USER:PASSWORD (or a token) per line")
def ui(host, port, auth) -> None:
    """Serve the web app (needs pip install "facedyn[ui]"); Ctrl-C stops it."""
    from facedyn.ui import launch

    with launch(host, port, auth) as app:
        click.echo(f"facedyn web app at {app.url} (Ctrl-C stops it)")
        sys.stdout.flush()
        try:
            app.wait()
        except KeyboardInterrupt:
            click.echo("stopped")


# -- batch ---------------------------------------------------------------------------------------

@main.command()
@click.argument("jobs_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path),
              help="output folder: relative outputs and the report (facedyn-batch-report.csv/.json) go here")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="worker processes (Ray actors with --ray); default: one per core (1 GB each), or one per cluster CPU")
@click.option("--ray", "ray_address", default=None,
              help="run on Ray: auto (the cluster this machine joined, else a local Ray) or the cluster's address")
def batch(jobs_file, out_dir, workers, ray_address) -> None:
    """Run every job of JOBS_FILE (CSV with a header, or JSON Lines): columns photo, driver,
    output, then any of animate's long options by name. driver: a video, a motion or landmark
    file, a .fdyn stream, expression:LABEL[:DURATION[:INTENSITY]] or imagine:DURATION[:SEED].
    Finished outputs are skipped, so a re-run resumes; a failing job is reported, not fatal.
    Exit status 3 when some job failed."""
    from facedyn.batch import run_batch

    bar = _Bar(jobs_file.name, unit="job")
    try:
        report = run_batch(jobs_file, out_dir, workers, ray_address, progress=bar)
    finally:
        bar.close()
    failed = [o for o in report.in_file_order() if o.status == "failed"]
    for outcome in failed[:MAX_LISTED_FAILURES]:
        click.echo(f"facedyn: {jobs_file.name} {outcome.job}: {outcome.error}", err=True)
    if len(failed) > MAX_LISTED_FAILURES:
        click.echo(f"facedyn: ... and {len(failed) - MAX_LISTED_FAILURES} more failures", err=True)
    click.echo(f"{report.count('done')} done, {report.count('skipped')} skipped (already there), {len(failed)} failed; "
               f"report: {report.csv_path} and .json")
    if failed:
        sys.exit(EXIT_SOME_FAILED)


# -- codec ---------------------------------------------------------------------------------------

@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="the dynamics stream (.fdyn)")
@click.option("--bitrate", type=click.FloatRange(50, 100000), default=None,
              help="bits per second of dynamics to fit (default: fixed --quality)")
@click.option("--quality", type=click.IntRange(0, 63), default=32, show_default=True,
              help="without --bitrate: 0 (finest) .. 63; each 8 doubles every step")
@click.option("--audio", default=None, help="carry the audio as Opus, e.g. opus:12k (default: no audio)")
@click.option("--key-seconds", type=click.FloatRange(0.1, 60), default=4.0, show_default=True,
              help="seconds between key packets (where decoding can start)")
@click.option("--reference", default="first", show_default=True, help="driving frame that means no change: first or an index")
@click.option("--smoothing/--no-smoothing", default=True, show_default=True, help="One-Euro filter on the landmarks")
def encode(video, output, bitrate, quality, audio, key_seconds, reference, smoothing) -> None:
    """Encode the facial dynamics of VIDEO (and its audio) into a compact stream."""
    from facedyn import codec
    from facedyn.tracking import FaceTracker

    audio_bitrate = codec.parse_audio_option(audio) if audio else None
    check_output(output, (".fdyn",), (video,), kind="dynamics stream")
    if reference == "auto":
        raise click.UsageError("--reference auto needs a photo; encode with first or a frame index")
    driver = drivers.video(video, reference, smoothing)
    config = codec.CodecConfig(quality=quality, bitrate=bitrate, key_seconds=key_seconds)
    bar = _Bar(output.name)
    try:
        with FaceTracker() as tracker:
            result = codec.encode_motion(driver.open(tracker), output, config, audio_bitrate, progress=bar)
    finally:
        bar.close()
    click.echo(f"wrote {output} ({result.frames} frames, {result.seconds:.1f} s, dynamics "
               f"{result.dynamics_bits_per_second:.0f} bit/s at quality {result.quality}, "
               f"every {result.stride} frame(s); {result.total_bytes} bytes)")


@main.command()
@click.argument("stream", type=click.Path(path_type=Path))
@click.option("--photo", type=click.Path(path_type=Path), default=None, help="the photo to animate")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="output video: .mp4, .mov, .mkv (H.264) or .webm (VP9)")
@click.option("--motion-out", type=click.Path(path_type=Path), default=None,
              help="write the decoded dynamics as a motion file (.json or .csv) instead of a video")
@click.option("--size", type=click.IntRange(128, 2048), default=512, show_default=True, help="working resolution")
@_output_size_option
@click.option("--face", type=click.IntRange(0), default=None, help="which face in a photo with several (0 = leftmost)")
def decode(stream, photo, output, motion_out, size, output_size, face) -> None:
    """Render the dynamics STREAM (.fdyn) on --photo into a video, or write them as a motion file."""
    from facedyn import codec

    if (photo is None or output is None) == (motion_out is None):
        raise click.UsageError("give --photo and -o VIDEO, or --motion-out FILE")
    if motion_out is not None:
        check_output(motion_out, MOTION_SUFFIXES, (stream,), kind="motion file")
        decoded = codec.read_stream(stream)
        track = drivers.MotionTrack.from_rows(float(decoded.header.fps), decoded.values)
        drivers.save_motion(track, motion_out, inputs=(stream,))
        click.echo(f"wrote {motion_out} ({len(track)} frames at {track.fps:g} fps)")
        return
    _check_video_run(output, photo, stream)
    codec.read_stream(stream)  # a damaged stream fails now, before the models load
    _run(photo, codec.StreamDriver(stream), output, AnimatorConfig(size=size, output_size=output_size), face, True)


@main.command()
@click.argument("stream", type=click.Path(path_type=Path))
def info(stream) -> None:
    """Describe a dynamics STREAM (.fdyn): header, duration, frames, bitrates, key interval."""
    from facedyn import codec

    for key, value in codec.stream_info(stream).items():
        click.echo(f"{key + ':':16s} {value}")


# -- live ----------------------------------------------------------------------------------------

def _live_source_options(func):
    options = [
        click.option("--realtime", is_flag=True, help="a video file given as --camera plays at its own rate, frames "
                                                      "dropped when behind (as a webcam); default: every frame"),
        click.option("--loop", is_flag=True, help="a video file given as --camera starts again at its end"),
        click.option("--duration", type=click.FloatRange(0.1, 86400), default=None,
                     help="stop after this many seconds (default: Ctrl-C, the window closed, or the file's end)"),
        click.option("--smoothing/--no-smoothing", default=True, show_default=True, help="One-Euro filter on the landmarks"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _live_sink_options(func):
    options = [
        click.option("--window", is_flag=True, help="show the animated photo in a window (Esc or q stops)"),
        click.option("--virtual-camera", is_flag=True, help="feed a virtual webcam for video calls (facedyn[live])"),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="record to this video (.mp4, .mov, .mkv, .webm), written when the run stops"),
        click.option("--size", type=click.IntRange(128, 2048), default=512, show_default=True, help="working resolution"),
        _output_size_option,
        click.option("--paste-back/--no-paste-back", default=True, show_default=True,
                     help="show the whole photo, or only the face crop (faster)"),
        click.option("--face", type=click.IntRange(0), default=None, help="which face in a photo with several (0 = leftmost)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _live_link_options(func):
    options = [
        click.option("--key", "key_file", type=click.Path(path_type=Path), default=None,
                     help="the shared key file (facedyn keygen)"),
        click.option("--quality", type=click.IntRange(0, 63), default=32, show_default=True,
                     help="codec quality: 0 (finest) .. 63"),
        click.option("--key-seconds", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
                     help="seconds between key packets: the longest the picture holds after a loss"),
        click.option("--redundancy", type=click.IntRange(0, 8), default=3, show_default=True,
                     help="earlier packets repeated in each datagram (that many losses in a row cost nothing)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _sinks(window: bool, virtual_camera: bool, output: Path | None, photo: Path, *inputs: Path | None) -> list:
    """The sinks asked for; a recording is checked against the photo and every other input."""
    from facedyn import live

    if output is not None:
        _check_video_run(output, photo, *inputs)
    sinks = [live.RecordingSink(output)] if output is not None else []
    if virtual_camera:
        sinks.append(live.VirtualCameraSink())
    if window:
        sinks.append(live.WindowSink(f"facedyn: {photo.name}"))
    return sinks


def _link(to: str | None, key_file: Path | None, quality: int, key_seconds: float, redundancy: int):
    """(key, address, LinkConfig) to send to, checked before anything slow starts; None without `to`."""
    from facedyn import live

    if to is None:
        return None
    if key_file is None:
        raise click.UsageError("sending needs --key FILE (make one with 'facedyn keygen -o key.txt')")
    config = live.LinkConfig(quality=quality, key_seconds=key_seconds, redundancy=redundancy)
    return live.load_key(key_file), live.parse_address(to), config


def _sender(link, fps):
    from facedyn import live

    return None if link is None else live.StreamSender(link[0], link[1], fps, link[2])


def _until_stopped(work):
    """Run a live loop; Ctrl-C, SIGTERM and SIGHUP end it like its natural end (recordings kept)."""
    try:
        return work()
    except (KeyboardInterrupt, Stopped):
        click.echo("stopped", err=True)
        return None


@main.command()
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="the key file to create")
def keygen(output) -> None:
    """Make a shared key for live streams (give the same file to sender and receiver)."""
    from facedyn import live

    live.generate_key(output)
    click.echo(f"wrote {output} (readable by you only): give the same file to the sender and the receiver, "
               "over a channel you trust")


@main.command(name="live")
@click.option("--photo", required=True, type=click.Path(path_type=Path), help="the photo to animate")
@click.option("--camera", default=None, help="webcam index (0, 1, ...) or a video file played as a camera")
@click.option("--livelink", default=None, help="listen for the Live Link Face iPhone app on [HOST:]PORT "
                                                "(the app's default port is 11111; host default 0.0.0.0)")
@click.option("--livelink-from", default=None, help="accept Live Link Face packets from this address only (the phone's)")
@click.option("--send", "send_to", default=None, help="also send the dynamics to a receiver at HOST:PORT (needs --key)")
@_live_source_options
@_live_sink_options
@_live_link_options
def live_command(photo, camera, livelink, livelink_from, send_to, realtime, loop, duration, smoothing, window,
                 virtual_camera, output, size, output_size, paste_back, face, key_file, quality, key_seconds,
                 redundancy) -> None:
    """Animate --photo in real time from a webcam (or a video file), or from an iPhone."""
    from facedyn import live

    if (camera is None) == (livelink is None):
        raise click.UsageError("give one source: --camera 0 (or a video file) or --livelink PORT")
    if camera is None and send_to:
        raise click.UsageError("--send works with --camera; Live Link Face can send to the receiver's machine directly")
    link = _link(send_to, key_file, quality, key_seconds, redundancy)
    device = live.parse_camera(camera) if camera is not None else None
    sinks = _sinks(window, virtual_camera, output, photo, key_file, device if isinstance(device, Path) else None)
    if not sinks and not send_to:
        raise click.UsageError("give somewhere for the frames to go: --window, --virtual-camera, -o VIDEO or --send")
    check_image(photo)
    config = AnimatorConfig(size=size, output_size=output_size, render=RenderConfig(paste_back=paste_back))
    if camera is not None:
        with live.Camera(device, realtime=realtime, loop=loop) as cam, Animator(config) as anim:
            sender = _sender(link, cam.fps)
            player = live.Player(anim, anim.load_source(photo, face=face), sinks)
            try:
                report = _until_stopped(lambda: live.run_camera(player, anim.tracker, cam, sender, smoothing, duration))
            finally:
                player.close()
                if sender is not None:
                    sender.close()
    else:
        address = live.parse_address(livelink, default_host="0.0.0.0")
        with Animator(config) as anim:
            player = live.Player(anim, anim.load_source(photo, face=face), sinks)
            player.prepare_parametric()
            receiver = live.LiveLinkReceiver(address, livelink_from)
            click.echo(f"listening for Live Link Face on {address[0]}:{receiver.address[1]}", err=True)
            try:
                report = _until_stopped(lambda: live.run_livelink(player, receiver, duration))
            finally:
                receiver.close()
                player.close()
    click.echo((report or player.finish()).summary())


@main.command()
@click.option("--camera", required=True, help="webcam index (0, 1, ...) or a video file played as a camera")
@click.option("--to", "send_to", required=True, help="the receiver's HOST:PORT")
@_live_source_options
@_live_link_options
def send(camera, send_to, realtime, loop, duration, smoothing, key_file, quality, key_seconds, redundancy) -> None:
    """Send the facial dynamics of a webcam (or a video file) to a receiver: only codec packets travel."""
    from facedyn import live
    from facedyn.tracking import FaceTracker

    link = _link(send_to, key_file, quality, key_seconds, redundancy)
    with live.Camera(live.parse_camera(camera), realtime=realtime, loop=loop) as cam, FaceTracker() as tracker:
        with _sender(link, cam.fps) as sender:
            bar = _Bar(f"sending to {send_to}")
            try:
                report = _until_stopped(lambda: live.run_camera(None, tracker, cam, sender, smoothing, duration,
                                                                lambda n: bar(n, None)))
            finally:
                bar.close()
            seconds = report.seconds if report else 0
            rate = f", {8 * sender.sent_bytes / seconds / 1000:.1f} kbit/s" if seconds else ""
            if sender.send_errors:
                rate += f"; {sender.send_errors} datagrams refused (was the receiver listening?)"
    click.echo(f"sent {report.summary() if report else 'until stopped'}{rate}")


@main.command()
@click.option("--photo", required=True, type=click.Path(path_type=Path), help="the photo to animate")
@click.option("--listen", required=True, help="[HOST:]PORT to listen on (host default 127.0.0.1)")
@click.option("--key", "key_file", required=True, type=click.Path(path_type=Path), help="the shared key file")
@click.option("--duration", type=click.FloatRange(0.1, 86400), default=None,
              help="stop after this many seconds (default: Ctrl-C or the window closed)")
@click.option("--max-clock-skew", type=click.FloatRange(0.1, 86400), default=30.0, show_default=True,
              help="seconds the sender's clock may differ from this one's (older packets are replays)")
@_live_sink_options
def receive(photo, listen, key_file, duration, max_clock_skew, window, virtual_camera, output, size, output_size,
            paste_back, face) -> None:
    """Render a remote sender's stream on --photo as it arrives."""
    from facedyn import live

    sinks = _sinks(window, virtual_camera, output, photo, key_file)
    if not sinks:
        raise click.UsageError("give somewhere for the frames to go: --window, --virtual-camera or -o VIDEO")
    check_image(photo)
    key = live.load_key(key_file)
    config = AnimatorConfig(size=size, output_size=output_size, render=RenderConfig(paste_back=paste_back))
    with Animator(config) as anim:
        player = live.Player(anim, anim.load_source(photo, face=face), sinks)
        player.prepare_parametric()
        with live.StreamReceiver(key, live.parse_address(listen), max_clock_skew) as receiver:
            click.echo(f"listening on {receiver.address[0]}:{receiver.address[1]}", err=True)
            try:
                report = _until_stopped(lambda: live.run_receiver(player, receiver, duration))
            finally:
                player.close()
            click.echo(f"{(report or player.finish()).summary()}; {receiver.stats.summary()}")


# -- eval ----------------------------------------------------------------------------------------

QUICK = {"limit": 2, "max_frames": 60, "identity_frames": 8}  # --quick: 2 files per folder, 60 frames


def _eval_options(func):
    options = [
        click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/eval"), show_default=True,
                     help="report folder (report.json, report.md, sheets/)"),
        click.option("--quick", is_flag=True, help="2 files per folder, 60 frames each, 8 identity frames: a few minutes"),
        click.option("--max-frames", type=click.IntRange(3), default=None, help="use at most this many frames per video"),
        click.option("--identity-frames", type=click.IntRange(1, 1000), default=16, show_default=True,
                     help="frames per clip that get a dlib descriptor (about 90 ms each)"),
        click.option("--workers", type=click.IntRange(1), default=None, help="processes (default: every usable core)"),
        click.option("--driver", type=click.Choice(["video", "landmarks68"]), default="video", show_default=True,
                     help="landmarks68: in the same run, also drive facedyn from each video's own 68 points "
                          "(dlib's and MediaPipe's 68-point subset)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.group(name="eval")
def eval_group() -> None:
    """Measure quality: self- and cross-reenactment, against the static and landmark-warp baselines."""


@eval_group.command(name="self")
@click.argument("videos", type=click.Path(path_type=Path))
@click.option("--source-frame", type=click.IntRange(0), default=0, show_default=True, help="source frame of each video")
@_eval_options
def eval_self(videos, source_frame, **opts) -> None:
    """Self-reenactment: each video in VIDEOS drives one of its own frames; compared with the real frames."""
    _evaluate(opts, videos=videos, source_frame=source_frame)


@eval_group.command(name="cross")
@click.argument("images", type=click.Path(path_type=Path))
@click.argument("videos", type=click.Path(path_type=Path))
@_eval_options
def eval_cross(images, videos, **opts) -> None:
    """Cross-reenactment: every image in IMAGES driven by every video in VIDEOS."""
    _evaluate(opts, images=images, cross_videos=videos)


@eval_group.command(name="suite")
@click.argument("data", type=click.Path(path_type=Path))
@_eval_options
def eval_suite(data, **opts) -> None:
    """Both protocols on DATA/images and DATA/videos, in one report."""
    _evaluate(opts, videos=data / "videos", images=data / "images", cross_videos=data / "videos")


@eval_group.command(name="codec")
@click.argument("videos", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/eval-codec"), show_default=True,
              help="report folder (report.json, report.md, rd_*.png plots, sheets/)")
@click.option("--max-frames", type=click.IntRange(3), default=None, help="use at most this many frames per video")
@click.option("--identity-frames", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="frames per clip that get a dlib descriptor")
@click.option("--workers", type=click.IntRange(1), default=None, help="processes (default: every usable core)")
@click.option("--pixel-codecs", default="h264,hevc,av1,vp9", show_default=True, help="pixel codecs to compare")
def eval_codec(videos, output, max_frames, identity_frames, workers, pixel_codecs) -> None:
    """Rate against distortion: each video's first frame rendered from its decoded dynamics
    stream at several bitrates, against pixel codecs sending the video itself."""
    from facedyn import eval as ev
    from facedyn.eval import ratedistortion as rd

    ev.check_installed()
    codecs = tuple(c.strip() for c in pixel_codecs.split(",") if c.strip())
    unknown = [c for c in codecs if c not in rd.PIXEL_CODECS]
    if unknown:
        raise click.UsageError(f"unknown pixel codec(s) {', '.join(unknown)}; choose from {', '.join(rd.PIXEL_CODECS)}")
    options = ev.EvalOptions(max_frames=max_frames, identity_frames=identity_frames)
    rate = rd.RateOptions(pixel_codecs=codecs)
    workers = workers or len(os.sched_getaffinity(0))
    clips = ev.find_media(videos, ev.VIDEO_SUFFIXES)
    results = _with_bar("rate-distortion", "clip", lambda bar: rd.run_codec(clips, options, rate, workers, bar))
    report = rd.write_codec_report(output, results, {**vars(options), **vars(rate), "workers": workers})
    click.echo(f"wrote {report}")


def _with_bar(desc: str, unit: str, work):
    bar = _Bar(desc, unit)
    try:
        return work(bar)
    finally:
        bar.close()


def _evaluate(opts: dict, videos: Path | None = None, images: Path | None = None, cross_videos: Path | None = None,
              source_frame: int = 0) -> None:
    from facedyn import eval as ev

    ev.check_installed()
    if opts["output"].exists() and not opts["output"].is_dir():
        raise InputError(f"the report folder {opts['output']} is a file; choose a folder")
    quick = QUICK if opts["quick"] else {}
    limit = quick.get("limit")
    options = ev.EvalOptions(source_frame=source_frame, max_frames=opts["max_frames"] or quick.get("max_frames"),
                             identity_frames=quick.get("identity_frames", opts["identity_frames"]),
                             landmarks68=opts["driver"] == "landmarks68")
    workers = opts["workers"] or len(os.sched_getaffinity(0))
    clips = ev.find_media(videos, ev.VIDEO_SUFFIXES, limit) if videos is not None else []
    pictures = ev.find_media(images, ev.IMAGE_SUFFIXES, limit) if images is not None else []
    cross = ev.find_media(cross_videos, ev.VIDEO_SUFFIXES, limit) if cross_videos is not None else []
    protocols = {}
    if clips:
        protocols["self"] = _with_bar("self-reenactment", "clip", lambda bar: ev.run_self(clips, options, workers, bar))
    if pictures and cross:
        protocols["cross"] = _with_bar("cross-reenactment", "step",
                                       lambda bar: ev.run_cross(pictures, cross, options, workers, bar))
    settings = {**vars(options), "quick": opts["quick"], "workers": workers}
    report = ev.write_report(opts["output"], protocols, settings)
    click.echo(f"wrote {report}")


def run() -> None:
    """The console entry point: the CLI with MediaPipe's native log noise hidden, SIGTERM and
    SIGHUP unwinding like Ctrl-C, and a file-size limit reported instead of killing the run."""
    silence_native_logs()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    main()


if __name__ == "__main__":
    run()
