import math
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


# -- reading videos as they are displayed, and what is lost --------------------------------------

@pytest.fixture(scope="module")
def face_frames(testdata):
    from tests.corpus import _face_frames

    return [np.ascontiguousarray(f[:, :200]) for f in _face_frames(testdata, 6)]  # 200 x 256: not square


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_phone_video_is_read_upright(tmp_path, face_frames, rotation):
    from tests.corpus import write_clip

    path = write_clip(tmp_path / "phone.mp4", face_frames, rotation=rotation)
    info = probe_video(path)
    assert info.rotation == rotation and (info.height, info.width) == face_frames[0].shape[:2]
    frames = list(iter_frames(path))
    assert frames[0].shape == face_frames[0].shape and frames[0].flags["C_CONTIGUOUS"]
    assert np.abs(frames[0].astype(int) - face_frames[0]).mean() < 6  # codec noise, not a turned picture


def test_width_not_a_multiple_of_16_gives_contiguous_frames(tmp_path, face_frames):
    from tests.corpus import write_clip

    path = write_clip(tmp_path / "odd.mp4", [np.ascontiguousarray(f[:, :150]) for f in face_frames])
    assert all(f.flags["C_CONTIGUOUS"] and f.shape[1] == 150 for f in iter_frames(path))


def test_cut_short_video_with_its_index_at_the_front_says_what_was_lost(tmp_path, face_frames, caplog):
    from tests.corpus import write_clip

    whole = write_clip(tmp_path / "whole.mp4", face_frames * 4, faststart=True).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    info = probe_video(cut)
    assert info.header_frames == 24 and 1 <= info.frame_count < 24 and info.frames_cut_off == 24 - info.frame_count
    decoded = list(iter_frames(cut, expected=24))
    assert 1 <= len(decoded) <= info.frame_count
    assert f"only {len(decoded)} of 24 frames could be decoded" in caplog.text


# -- H.264 limits ---------------------------------------------------------------------------------

def test_h264_level_5_2_limits():
    from facedyn.io import fit_scale, fits_h264

    assert fits_h264(2048, 2048, 30) and fits_h264(4096, 2304, 30)
    assert not fits_h264(3512, 3512, 30)  # needs level 6
    assert not fits_h264(8660, 5774, 25) and not fits_h264(10516, 3512, 25)
    assert not fits_h264(2048, 2048, 240)  # too many macroblocks a second
    def even(side: float) -> int:
        return 2 * math.ceil(round(side) / 2)

    for w, h, fps in [(8660, 5774, 25), (10516, 3512, 30), (3511, 3511, 60), (1000, 800, 1000)]:
        s = fit_scale(w, h, fps)
        assert fits_h264(even(w * s), even(h * s), fps) and not fits_h264(even(w * s * 1.02), even(h * s * 1.02), fps)
    assert fit_scale(8660, 5774, 25, long_side=2048) == pytest.approx(2048 / 8660)
    assert fit_scale(640, 480, 30) == 1.0


# -- writing by extension, audio copied or transcoded ---------------------------------------------

@pytest.fixture(scope="module")
def pcm_clip(tmp_path_factory, face_frames):
    from tests.corpus import write_clip

    return write_clip(tmp_path_factory.mktemp("pcm") / "pcm.mov", face_frames * 4, audio="pcm_s16le")


@pytest.mark.parametrize("name, video, audio", [
    ("o.mp4", "h264", "aac"),  # pcm cannot go into MP4: transcoded
    ("o.mov", "h264", "pcm_s16le"),  # copied as it is
    ("o.mkv", "h264", "pcm_s16le"),
    ("o.m4v.mp4", "h264", "aac"),
    ("o.webm", "vp9", "opus"),
])
def test_output_format_follows_the_extension(tmp_path, pcm_clip, name, video, audio):
    out = tmp_path / name
    with VideoWriter(out, 25, audio_from=pcm_clip) as w:
        for frame in iter_frames(pcm_clip):
            w.write(frame)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == video and c.streams.video[0].frames in (0, 24)
        assert c.streams.audio[0].codec_context.name == audio
        seconds = sum(float(p.duration * p.time_base) for p in c.demux(c.streams.audio[0]) if p.duration)
    assert 0.8 < seconds < 1.2  # the source's 0.96 s of sound
    assert len(list(iter_frames(out))) == 24 and [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name", ["o.txt", "o", "o.gif", "o.mp4.part"])
def test_other_extensions_are_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(InputError, match="must end in .mp4, .mov, .mkv, .webm"):
        VideoWriter(tmp_path / name, 25)
    assert list(tmp_path.iterdir()) == []


def test_an_output_may_not_be_an_input(tmp_path):
    from facedyn.io.files import check_output

    source = tmp_path / "in.mp4"
    source.write_bytes(b"precious")
    (tmp_path / "sym.mp4").symlink_to(source)
    os.link(source, tmp_path / "hard.mp4")
    for name in ("in.mp4", "sym.mp4", "hard.mp4", "./in.mp4"):
        with pytest.raises(InputError, match="is the input"):
            check_output(tmp_path / name, (".mp4",), inputs=(None, source))
    assert check_output(tmp_path / "other.mp4", (".mp4",), inputs=(source,)) == tmp_path / "other.mp4"
    assert source.read_bytes() == b"precious"
