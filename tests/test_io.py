import os
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from facedyn.errors import InputError
from facedyn.io import VideoWriter, iter_frames, load_image, probe_video


def test_gray_rgba_16bit_become_rgb8(tmp_path):
    gray = np.tile(np.arange(64, dtype=np.uint8), (32, 1))
    Image.fromarray(gray).save(tmp_path / "g.png")
    rgba = np.zeros((32, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 32:, 3] = 255  # left half transparent -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(gray.astype("<u2") * 257).save(tmp_path / "d.png")
    g, a, d = (load_image(tmp_path / n) for n in ("g.png", "a.png", "d.png"))
    assert g.shape == a.shape == d.shape == (32, 64, 3) and g.dtype == np.uint8
    assert (g[..., 0] == gray).all()
    assert tuple(a[0, 0]) == (255, 255, 255) and tuple(a[0, 40]) == (200, 0, 0)
    assert np.abs(d[..., 0].astype(int) - gray).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    img = Image.fromarray(np.zeros((20, 40, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (40, 20, 3)


def test_huge_photo_is_downscaled_not_refused(tmp_path, caplog):
    Image.new("RGB", (7200, 7200), (90, 120, 150)).save(tmp_path / "big.jpg", quality=50)
    out = load_image(tmp_path / "big.jpg")
    assert out.shape[0] * out.shape[1] <= 50_000_000 and out.shape[0] > 6000
    assert "downscaled" in caplog.text


@pytest.mark.parametrize("content", [None, b"", b"not an image at all"])
def test_unreadable_images_raise_input_error(tmp_path, content):
    path = tmp_path / "x.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match="x.jpg"):
        load_image(path)


def test_writer_pads_odd_sizes_and_keeps_fps(tmp_path):
    out = tmp_path / "o.mp4"
    with VideoWriter(out, Fraction(30000, 1001)) as w:
        for i in range(12):
            w.write(np.full((51, 77, 3), 10 * i, np.uint8))
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (78, 52, 12)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # like any file the user writes, not private
    assert abs(float(info.fps) - 29.97) < 0.01
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_writer_copies_audio(tmp_path, video_path):
    src = video_path("woman_glasses_speaking")
    out = tmp_path / "o.mp4"
    with VideoWriter(out, probe_video(src).fps, audio_from=src) as w:
        for frame in iter_frames(src):
            w.write(frame)
    with av.open(str(out)) as c, av.open(str(src)) as s:
        assert c.streams.audio[0].codec_context.name == s.streams.audio[0].codec_context.name
        n_out = sum(1 for p in c.demux(c.streams.audio[0]) if p.size)
        n_src = sum(1 for p in s.demux(s.streams.audio[0]) if p.size)
    assert n_out == n_src


def test_interrupted_write_leaves_nothing(tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25) as w:
            w.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "nope" / "o.mp4", 25)


def test_zero_frame_video(tmp_path):
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()  # header and stream, but no frame
    with pytest.raises(InputError, match="no video stream|no decodable frames"):
        probe_video(path)


def test_bad_videos_raise_input_error(tmp_path, video_path):
    good = video_path("woman_smile_happy").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 3])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_bytes(b"hello")
    for name in ("cut.mp4", "empty.mp4", "text.mp4", "missing.mp4"):
        with pytest.raises(InputError):
            probe_video(tmp_path / name)
