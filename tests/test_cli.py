"""The CLI: one-line errors with exit code 2 and no partial output."""

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facedyn.cli import main
from facedyn.io import probe_video


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def bad_inputs(tmp_path, video_path):
    Image.new("RGB", (300, 300), (200, 180, 160)).save(tmp_path / "wall.jpg")
    (tmp_path / "empty.mp4").write_bytes(b"")
    good = video_path("woman_smile_happy").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 3])
    return tmp_path


@pytest.mark.parametrize(
    "photo, driving, output, message",
    [
        ("missing.jpg", "VIDEO", "out.mp4", "image not found"),
        ("wall.jpg", "VIDEO", "out.mp4", "no face found in wall.jpg"),
        ("PHOTO", "missing.mp4", "out.mp4", "video not found"),
        ("PHOTO", "empty.mp4", "out.mp4", "cannot read video"),
        ("PHOTO", "cut.mp4", "out.mp4", "cannot read video"),
        ("PHOTO", "VIDEO", "no/such/folder/out.mp4", "output folder does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_output(bad_inputs, image_path, video_path, photo, driving, output, message):
    tmp = bad_inputs
    photo = image_path("woman_sad") if photo == "PHOTO" else tmp / photo
    driving = video_path("woman_smile_happy") if driving == "VIDEO" else tmp / driving
    before = set(tmp.rglob("*"))
    code, out = run("animate", photo, "--driving", driving, "-o", tmp / output)
    assert code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("facedyn: error:")]
    assert len(errors) == 1 and message in errors[0], out
    assert set(tmp.rglob("*")) == before  # nothing written, not even a temp file


def test_face_index_out_of_range(tmp_path, image_path, video_path):
    code, out = run("animate", image_path("woman_sad"), "--driving", video_path("woman_smile_happy"),
                    "-o", tmp_path / "o.mp4", "--face", "3")
    assert code == 2 and "out of range" in out


def test_animate_with_options_end_to_end(tmp_path, image_path, video_path):
    out = tmp_path / "o.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "facedyn.cli", "animate", str(image_path("woman_afro_painting")),
         "--driving", str(video_path("woman_glasses_speaking")), "-o", str(out), "--side-by-side",
         "--no-paste-back", "--size", "256", "--reference", "auto", "--mouth", "1.5", "--audio", "none"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = probe_video(out)
    assert info.frame_count == 122 and not info.has_audio
    assert abs(info.width - 3 * info.height) <= 6  # driving | source | result, one height


def test_written_video_differs_from_still_photo(tmp_path, image_path, video_path):
    from facedyn.io import iter_frames

    out = tmp_path / "o.mp4"
    code, text = run("animate", image_path("woman_sad"), "--driving", video_path("woman_smile_happy"), "-o", out,
                     "--no-paste-back")
    assert code == 0, text
    frames = np.array(list(iter_frames(out)), dtype=np.float32)
    assert np.abs(frames - frames[0]).mean(axis=(1, 2, 3)).max() > 2  # it moves
