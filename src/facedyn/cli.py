"""The facedyn command line: a thin layer over the public API."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from facedyn import drivers
from facedyn.animator import Animator, AnimatorConfig
from facedyn.errors import FacedynError
from facedyn.geometry.retarget import RetargetConfig
from facedyn.render import RenderConfig

EXIT_BAD_INPUT = 2


def _reference(value: str) -> str | int:
    if value in ("first", "auto"):
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("use 'first', 'auto' or a frame index") from None


def _scale(name: str) -> click.Option:
    return click.option(f"--{name}", type=click.FloatRange(0, 3), default=1.0, show_default=True,
                        help=f"multiplier for {name.replace('-', ' ')} (0..3)")


def _silence_native_logs() -> None:
    """MediaPipe's C++ code writes internal warnings straight to file descriptor 2. Point that
    at /dev/null and keep Python's sys.stderr (errors, notices, progress) on the real stderr.
    Set FACEDYN_NATIVE_LOGS=1 to see them."""
    if os.environ.get("FACEDYN_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = os.fdopen(real, "w", buffering=1)


class _Bar:
    """A tqdm progress bar fed by Animation.save's progress callback."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=desc, unit="frame", disable=None)

    def __call__(self, done: int, total: int | None) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


@click.group()
@click.version_option(package_name="facedyn")
@click.option("-q", "--quiet", is_flag=True, help="print errors only")
def main(quiet: bool) -> None:
    """Animate one face photo from 3D facial dynamics."""
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="facedyn: %(message)s")


@main.command()
@click.argument("photo", type=click.Path(path_type=Path))
@click.option("--driving", required=True, type=click.Path(path_type=Path), help="driving video")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="output .mp4")
@click.option("--mode", type=click.Choice(["relative", "absolute"]), default="relative", show_default=True,
              help="relative: only the driver's changes transfer; absolute: copy its head rotation and eye/mouth opening")
@click.option("--reference", default="first", show_default=True,
              help="driving frame meaning 'no change': first, auto (most like the photo) or a frame index")
@_scale("pose-scale")
@_scale("expression-scale")
@_scale("eyes")
@_scale("brows")
@_scale("mouth")
@click.option("--face", type=int, default=None, help="which face in a photo with several (0 = leftmost); default: the largest")
@click.option("--size", type=click.IntRange(128, 2048), default=512, show_default=True, help="working resolution in pixels")
@click.option("--paste-back/--no-paste-back", default=True, show_default=True, help="write the full photo, or only the face crop")
@click.option("--side-by-side", is_flag=True, help="write driving | source | result")
@click.option("--audio", type=click.Choice(["driving", "none"]), default="driving", show_default=True)
@click.option("--smoothing/--no-smoothing", default=True, show_default=True, help="One-Euro filter on the driving landmarks")
def animate(photo, driving, output, mode, reference, pose_scale, expression_scale, eyes, brows, mouth,
            face, size, paste_back, side_by_side, audio, smoothing) -> None:
    """Animate PHOTO with the face motion in a driving video."""
    config = AnimatorConfig(
        size=size,
        retarget=RetargetConfig(mode, pose_scale, expression_scale, eyes, brows, mouth),
        render=RenderConfig(paste_back=paste_back),
        side_by_side=side_by_side,
    )
    _run(photo, drivers.video(driving, _reference(reference), smoothing), output, config, face, audio == "driving")


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/demo.mp4"), show_default=True)
@click.option("--photo", type=click.Path(path_type=Path), default=None, help="default: the astronaut portrait from scikit-image")
@click.option("--seconds", type=click.FloatRange(1, 60), default=6.0, show_default=True)
def demo(output, photo, seconds) -> None:
    """Animate a portrait with a short built-in motion (no media needed)."""
    output.parent.mkdir(parents=True, exist_ok=True)
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
    except FacedynError as exc:
        if bar:
            bar.close()
        click.echo(f"facedyn: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    bar.close()
    click.echo(f"wrote {output}")


def run() -> None:
    """The console entry point: the CLI with MediaPipe's native log noise hidden."""
    _silence_native_logs()
    main()


if __name__ == "__main__":
    run()
