"""The CLI on a corpus of bad and awkward inputs (photos, videos, motion files, options,
outputs): each bad one gets exit 2 and exactly one `facedyn: error:` line and leaves its
folder byte for byte as it was; each awkward but valid one writes one playable video and
nothing else. The inputs are built by tests/corpus.py."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from facedyn.cli import main
from facedyn.io import probe_video
from tests import corpus


@dataclass(frozen=True)
class Case:
    """argv with {name} for a corpus file (copied into the case's own folder first) and {tmp}
    for that folder; `expect` is a fragment of the error line, or None when it must succeed
    (then `out` names the video it writes)."""

    id: str
    argv: str
    expect: str | None
    out: str = "out.mp4"
    setup: str | None = None  # a name in SETUPS: a link, a folder in the way, ...

    def __str__(self) -> str:
        return self.id


ANIMATE = "animate {photo} --driving {video} -o {tmp}/out.mp4"
EXPRESS = "express {photo} --expression blink --duration 0.3s -o {tmp}/out.mp4"

BAD = [
    # photos
    Case("photo-missing", "animate {tmp}/nope.jpg --driving {video} -o {tmp}/out.mp4", "image not found"),
    Case("photo-is-folder", "animate {no_media} --driving {video} -o {tmp}/out.mp4", "is not a file"),
    Case("photo-empty", "animate {empty_photo} --driving {video} -o {tmp}/out.mp4", "cannot read image"),
    Case("photo-is-text", "animate {text_photo} --driving {video} -o {tmp}/out.mp4", "cannot read image"),
    Case("photo-cut-short", "animate {cut_photo} --driving {video} -o {tmp}/out.mp4", "cannot read image"),
    Case("photo-is-video", "animate {video} --driving {video} -o {tmp}/out.mp4", "cannot read image"),
    Case("photo-bomb-header", "animate {bomb} --driving {video} -o {tmp}/out.mp4", "too many to decode"),
    Case("photo-no-face", "animate {noface} --driving {video} -o {tmp}/out.mp4", "no face found"),
    Case("photo-8px", EXPRESS.replace("{photo}", "{tiny}"), "no face found"),
    Case("photo-1px", EXPRESS.replace("{photo}", "{one_pixel}"), "no face found"),
    Case("photo-sliver", EXPRESS.replace("{photo}", "{sliver}"), "no face found"),
    Case("photo-tiny-face", EXPRESS.replace("{photo}", "{small_face}"), "face"),
    Case("face-index-too-big", ANIMATE + " --face 3", "out of range"),
    Case("face-index-negative", ANIMATE + " --face -1", "--face"),
    Case("face-index-word", ANIMATE + " --face first", "--face"),
    # videos
    Case("video-missing", "animate {photo} --driving {tmp}/nope.mp4 -o {tmp}/out.mp4", "video not found"),
    Case("video-is-folder", "animate {photo} --driving {no_media} -o {tmp}/out.mp4", "is not a file"),
    Case("video-empty", "animate {photo} --driving {empty_video} -o {tmp}/out.mp4", "cannot read video"),
    Case("video-is-text", "animate {photo} --driving {text_video} -o {tmp}/out.mp4", "cannot read video"),
    Case("video-cut-index-lost", "animate {photo} --driving {cut_end} -o {tmp}/out.mp4", "cannot read video"),
    Case("video-audio-only", "animate {photo} --driving {audio_only} -o {tmp}/out.mp4", "no video stream"),
    Case("video-zero-frames", "animate {photo} --driving {zero_frames} -o {tmp}/out.mp4", "video stream"),
    Case("video-no-face", "animate {photo} --driving {noface_video} -o {tmp}/out.mp4", "no face found in any frame"),
    Case("reference-past-end", ANIMATE + " --reference 99999", "past the end"),
    Case("reference-word", ANIMATE + " --reference middle", "--reference"),
    Case("reference-negative", ANIMATE + " --reference -3", "--reference"),
    # motion files
    Case("motion-missing", "animate {photo} --motion {tmp}/nope.json -o {tmp}/out.mp4", "motion file not found"),
    Case("motion-is-folder", "animate {photo} --motion {no_media} -o {tmp}/out.mp4", "is not a file"),
    Case("motion-empty", "animate {photo} --motion {motion_empty} -o {tmp}/out.mp4", "is empty"),
    Case("motion-columns-null", "animate {photo} --motion {motion_null_columns} -o {tmp}/out.mp4", "columns must be a list"),
    Case("motion-frames-dict", "animate {photo} --motion {motion_frames_dict} -o {tmp}/out.mp4", "frames must be a list"),
    Case("motion-fps-text", "animate {photo} --motion {motion_fps_text} -o {tmp}/out.mp4", "fps must be a number"),
    Case("motion-fps-zero", "animate {photo} --motion {motion_fps_zero} -o {tmp}/out.mp4", "fps must be in"),
    Case("motion-nan", "animate {photo} --motion {motion_nan} -o {tmp}/out.mp4", "finite number"),
    Case("motion-deep-json", "animate {photo} --motion {motion_deep} -o {tmp}/out.mp4", "not valid JSON"),
    Case("motion-format", "animate {photo} --motion {motion_format} -o {tmp}/out.mp4", "not a facedyn motion file"),
    Case("motion-version", "animate {photo} --motion {motion_version} -o {tmp}/out.mp4", "version 9"),
    Case("motion-short-row", "animate {photo} --motion {motion_short_row} -o {tmp}/out.mp4", "row 1 has 3 values"),
    Case("motion-yaw-500", "animate {photo} --motion {motion_yaw} -o {tmp}/out.mp4", "outside -180..180"),
    Case("motion-scale-0", "animate {photo} --motion {motion_scale} -o {tmp}/out.mp4", "outside 0.1..10"),
    Case("motion-no-time", "animate {photo} --motion {motion_no_time} -o {tmp}/out.mp4", "missing column 'time'"),
    Case("motion-backwards", "animate {photo} --motion {motion_backwards} -o {tmp}/out.mp4", "must increase"),
    Case("motion-one-row", "animate {photo} --motion {motion_one_row} -o {tmp}/out.mp4", "at least 2 frames"),
    Case("motion-word", "animate {photo} --motion {motion_word} -o {tmp}/out.mp4", "row 3, column 'yaw'"),
    Case("motion-binary", "animate {photo} --motion {motion_binary} -o {tmp}/out.mp4", "cannot read motion file"),
    Case("motion-utf16", "animate {photo} --motion {motion_utf16} -o {tmp}/out.mp4", "cannot read motion file"),
    Case("arkit-bad-timecode", "animate {photo} --motion {arkit_bad_timecode} -o {tmp}/out.mp4", "HH:MM:SS:FF"),
    Case("arkit-no-shapes", "animate {photo} --motion {arkit_no_shapes} -o {tmp}/out.mp4", "no ARKit blendshape"),
    # options
    Case("intensity-5", EXPRESS + " --intensity 5", "--intensity"),
    Case("duration-word", "express {photo} --expression smile --duration soon -o {tmp}/out.mp4", "--duration"),
    Case("duration-negative", "express {photo} --expression smile --duration -2s -o {tmp}/out.mp4", "--duration"),
    Case("duration-1e12", "express {photo} --expression smile --duration 1e12s -o {tmp}/out.mp4", "--duration"),
    Case("duration-nan-frames", "express {photo} --expression smile --duration nanf -o {tmp}/out.mp4", "--duration"),
    Case("timeline-empty", "express {photo} --timeline '' -o {tmp}/out.mp4", "timeline item 1"),
    Case("timeline-1e12-s", "express {photo} --timeline smile@0-1000000000000s -o {tmp}/out.mp4", "longest timeline"),
    Case("timeline-unknown", "express {photo} --timeline frown@0-1s -o {tmp}/out.mp4", "unknown expression"),
    Case("expression-unknown", "express {photo} --expression bored -o {tmp}/out.mp4", "unknown expression"),
    Case("label-and-timeline", "express {photo} --expression smile --timeline smile@0-1s -o {tmp}/out.mp4", "exactly one"),
    Case("yaw-nan", EXPRESS + " --yaw nan", "--yaw"),
    Case("yaw-1e400", EXPRESS + " --yaw 1e400", "--yaw"),
    Case("pitch-word", EXPRESS + " --pitch up", "--pitch"),
    Case("roll-keys-backwards", EXPRESS + " --roll '1s:0, 0s:5'", "must increase"),
    Case("seed-negative", "imagine {photo} --seed -1 -o {tmp}/out.mp4", "--seed"),
    Case("style-unknown", "imagine {photo} --style wild -o {tmp}/out.mp4", "--style"),
    Case("fps-zero", "imagine {photo} --fps 0 -o {tmp}/out.mp4", "--fps"),
    Case("size-100", ANIMATE + " --size 100", "--size"),
    Case("output-size-10", ANIMATE + " --output-size 10", "--output-size"),
    Case("output-size-word", ANIMATE + " --output-size big", "--output-size"),
    Case("mode-unknown", ANIMATE + " --mode sideways", "--mode"),
    Case("driving-and-motion", ANIMATE + " --motion {motion_ok}", "exactly one of --driving"),
    Case("neither-driver", "animate {photo} -o {tmp}/out.mp4", "exactly one of --driving"),
    Case("unknown-option", ANIMATE + " --colour blue", "No such option"),
    Case("unknown-command", "wiggle {photo}", "No such command"),
    Case("missing-argument", "animate --driving {video} -o {tmp}/out.mp4", "Missing argument"),
    # outputs
    Case("out-is-driver", "animate {photo} --driving {video} -o {video}", "is the input"),
    Case("out-is-photo", "animate {photo} --driving {video} -o {photo}", "must end in"),
    Case("out-is-motion-file", "animate {photo} --motion {motion_ok} -o {motion_ok}", "must end in"),
    Case("out-links-to-driver", "animate {photo} --driving {video} -o {tmp}/link.mp4", "is the input", setup="symlink"),
    Case("out-hardlinks-driver", "animate {photo} --driving {video} -o {tmp}/hard.mp4", "is the input", setup="hardlink"),
    Case("out-is-folder", ANIMATE, "is a folder", setup="folder_out"),
    Case("out-folder-missing", "animate {photo} --driving {video} -o {tmp}/no/such/out.mp4", "output folder does not exist"),
    Case("out-folder-is-file", "animate {photo} --driving {video} -o {photo}/out.mp4", "is a file, not a folder"),
    Case("out-txt", "animate {photo} --driving {video} -o {tmp}/out.txt", "must end in .mp4"),
    Case("out-no-extension", "animate {photo} --driving {video} -o {tmp}/out", "must end in"),
    Case("out-is-fifo", ANIMATE, "not a regular file", setup="fifo_out"),
    Case("track-out-txt", "track {video} -o {tmp}/motion.txt", "must end in .json, .csv"),
    Case("track-out-is-video", "track {video} -o {video}", "must end in .json"),
    Case("track-no-face", "track {noface_video} -o {tmp}/motion.json", "no face found"),
    Case("demo-out-txt", "demo -o {tmp}/demo.txt", "must end in"),
    Case("demo-photo-missing", "demo --photo {tmp}/nope.jpg -o {tmp}/demo.mp4", "image not found"),
    Case("eval-folder-missing", "eval self {tmp}/nowhere -o {tmp}/report", "is not a folder"),
    Case("eval-folder-empty", "eval self {no_media} -o {tmp}/report", "holds no"),
    Case("eval-report-is-file", "eval self {no_media} -o {photo}", "is a file"),
]

AWKWARD = [
    Case("gray-photo", EXPRESS.replace("{photo}", "{gray}"), None),
    Case("rgba-photo", EXPRESS.replace("{photo}", "{rgba}"), None),
    Case("16-bit-photo", EXPRESS.replace("{photo}", "{deep16}"), None),
    Case("cmyk-photo", EXPRESS.replace("{photo}", "{cmyk}"), None),
    Case("palette-gif-photo", EXPRESS.replace("{photo}", "{palette}"), None),
    Case("exif-turned-photo", EXPRESS.replace("{photo}", "{exif_turned}"), None),
    Case("unicode-name-photo", EXPRESS.replace("{photo}", "{odd_name}"), None),
    Case("phone-rotated-video", "animate {photo} --driving {phone} --mode absolute -o {tmp}/out.mp4", None),
    Case("odd-width-video", "animate {photo} --driving {odd_width} -o {tmp}/out.mp4", None),
    Case("one-frame-video", "animate {photo} --driving {one_frame} -o {tmp}/out.mp4", None),
    Case("face-appears-late", "animate {photo} --driving {late_face} -o {tmp}/out.mp4", None),
    Case("cut-short-index-at-front", "animate {photo} --driving {cut_front} -o {tmp}/out.mp4", None),
    Case("pcm-audio-into-mp4", "animate {photo} --driving {pcm_mov} -o {tmp}/out.mp4", None),
    Case("webm-output", "animate {photo} --driving {speech} -o {tmp}/out.webm", None, out="out.webm"),
    Case("mkv-output", "animate {photo} --driving {speech} -o {tmp}/out.mkv", None, out="out.mkv"),
    Case("mov-output-pcm", "animate {photo} --driving {pcm_mov} -o {tmp}/out.mov", None, out="out.mov"),
    Case("upper-case-extension", "animate {photo} --driving {video} -o {tmp}/OUT.MP4", None, out="OUT.MP4"),
    Case("overwrite-earlier-output", ANIMATE, None, setup="old_output"),
    Case("arkit-take", "animate {photo} --motion {arkit} -o {tmp}/out.mp4", None),
    Case("motion-crlf-blank-lines", "animate {photo} --motion {motion_crlf} -o {tmp}/out.mp4", None),
    Case("small-output-size", ANIMATE + " --output-size 128 --side-by-side", None),
    Case("full-output-size", ANIMATE + " --output-size FULL", None),
]

SETUPS = {
    "symlink": lambda tmp, f: (tmp / "link.mp4").symlink_to(f["video"]),
    "hardlink": lambda tmp, f: os.link(f["video"], tmp / "hard.mp4"),
    "folder_out": lambda tmp, f: (tmp / "out.mp4").mkdir(),
    "fifo_out": lambda tmp, f: os.mkfifo(tmp / "out.mp4"),
    "old_output": lambda tmp, f: (tmp / "out.mp4").write_bytes(b"an earlier result"),
}


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory, testdata) -> dict[str, Path]:
    return corpus.build(tmp_path_factory.mktemp("corpus"), testdata)


def prepare(case: Case, files: dict[str, Path], tmp: Path) -> list[str]:
    """The case's argv, with the corpus files it names copied into `tmp`."""
    values = {"tmp": str(tmp)}
    for name, source in files.items():
        if "{" + name + "}" in case.argv:
            target = tmp / source.name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy(source, target)
            files = {**files, name: target}
            values[name] = str(target)
    if case.setup:
        SETUPS[case.setup](tmp, files)
    import shlex

    return [part.format(**values) for part in shlex.split(case.argv)]


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry below `folder`: what it is, and a file's size and hash."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = ("link", os.readlink(path))
        elif path.is_file():
            out[key] = ("file", path.stat().st_size, hashlib.sha1(path.read_bytes()).hexdigest())
        else:
            out[key] = ("dir",)
    return out


def run(argv: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, argv)
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("facedyn: error:")]


def test_the_corpus_is_broad():
    assert len(BAD) + len(AWKWARD) >= 60 and len({c.id for c in BAD + AWKWARD}) == len(BAD + AWKWARD)


@pytest.mark.parametrize("case", BAD, ids=str)
def test_bad_input_gets_one_line_and_changes_nothing(case, corpus_files, tmp_path):
    import re

    argv = prepare(case, corpus_files, tmp_path)
    before = snapshot(tmp_path)
    code, output = run(argv)
    errors = error_lines(output)
    assert code == 2, output
    assert len(errors) == 1 and re.search(case.expect, errors[0]), output
    assert "Traceback" not in output
    assert snapshot(tmp_path) == before  # nothing written, nothing left, no input touched


@pytest.mark.parametrize("case", AWKWARD, ids=str)
def test_awkward_input_writes_one_playable_video(case, corpus_files, tmp_path):
    argv = prepare(case, corpus_files, tmp_path)
    before = snapshot(tmp_path)
    code, output = run(argv)
    assert code == 0 and not error_lines(output), output
    after = snapshot(tmp_path)
    assert set(after) - set(before) <= {case.out}  # no temp file left beside it
    assert {k: v for k, v in after.items() if k != case.out} == {k: v for k, v in before.items() if k != case.out}
    info = probe_video(tmp_path / case.out)
    assert info.frame_count >= 1 and info.width % 2 == 0 and info.height % 2 == 0
