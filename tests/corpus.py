"""Builds the bad and awkward inputs of the CLI corpus (test_cli_corpus.py) from a few real
test media: broken and odd photos, videos and motion files, made once per test session."""

from __future__ import annotations

import json
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

FACE_PHOTO = "woman_sad"  # 512x512, one large face
FACE_VIDEO = "woman_glasses_speaking"  # 512x512, 25 fps, speaking, with audio
FRAMES = 12


def _face_frames(testdata: Path, n: int = FRAMES) -> list[np.ndarray]:
    with av.open(str(testdata / "videos" / f"{FACE_VIDEO}.mp4")) as c:
        frames = []
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24")[::2, ::2].copy())  # 256x256: quick to track and render
            if len(frames) == n:
                return frames
    return frames


def write_clip(path: Path, frames: list[np.ndarray], rotation: int = 0, audio: str | None = None,
               faststart: bool = False, fps: int = 25) -> Path:
    """An H.264 clip; rotation: display-matrix degrees (counter-clockwise), the frames stored
    turned the other way so that they display upright; audio: an FFmpeg audio codec for a
    one-tone track."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stored = [np.ascontiguousarray(np.rot90(f, -rotation // 90)) for f in frames]
        video = out.add_stream("libx264", rate=fps)
        video.height, video.width = stored[0].shape[:2]
        video.pix_fmt = "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream(audio, rate=44100, layout="mono") if audio else None
        for i, image in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            if sound is not None:
                _tone(out, sound, i, 44100 // fps)
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path


def _tone(out, stream, index: int, samples: int) -> None:
    t = np.arange(index * samples, (index + 1) * samples) / 44100
    fmt = stream.codec_context.format.name
    wave = np.sin(2 * np.pi * 440 * t)[None]
    data = (wave * 8000).astype(np.int16) if fmt.startswith("s16") else wave.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
    frame.sample_rate, frame.pts = 44100, index * samples
    out.mux(stream.encode(frame))


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        for i in range(10):
            _tone(out, stream, i, 1024)
        out.mux(stream.encode(None))
    return path


def _zero_frames(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()  # a header and a stream, no frame
    return path


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims width x height pixels in a few dozen bytes (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def _photos(d: Path, testdata: Path, files: dict[str, Path]) -> None:
    face = Image.open(testdata / "images" / f"{FACE_PHOTO}.jpg").convert("RGB")
    files["photo"] = d / "photo.jpg"
    face.save(files["photo"], quality=92)
    files["gray"] = d / "gray.jpg"
    face.convert("L").save(files["gray"])
    rgba = face.convert("RGBA")
    alpha = np.full(face.size[::-1], 255, np.uint8)
    alpha[:, :60] = 0  # a transparent strip
    rgba.putalpha(Image.fromarray(alpha))
    files["rgba"] = d / "rgba.png"
    rgba.save(files["rgba"])
    files["deep16"] = d / "deep16.png"
    Image.fromarray((np.asarray(face.convert("L"), np.uint16) * 257).astype("<u2")).save(files["deep16"])
    files["cmyk"] = d / "cmyk.jpg"
    face.convert("CMYK").save(files["cmyk"])
    files["palette"] = d / "palette.gif"
    face.convert("P", palette=Image.Palette.ADAPTIVE).save(files["palette"])
    turned = face.rotate(90, expand=True)  # stored turned; EXIF orientation 8 turns it back
    exif = turned.getexif()
    exif[0x0112] = 8
    files["exif_turned"] = d / "exif_turned.jpg"
    turned.save(files["exif_turned"], exif=exif)
    files["odd_name"] = d / "ünï cödé photo.jpg"
    face.save(files["odd_name"])
    files["noface"] = d / "wall.jpg"
    Image.new("RGB", (300, 300), (200, 180, 160)).save(files["noface"])
    files["tiny"] = d / "tiny.png"
    face.resize((8, 8)).save(files["tiny"])
    files["one_pixel"] = d / "one_pixel.png"
    Image.new("RGB", (1, 1), (128, 100, 90)).save(files["one_pixel"])
    files["sliver"] = d / "sliver.png"
    Image.new("RGB", (4000, 6), (128, 100, 90)).save(files["sliver"])
    small = Image.new("RGB", (600, 600), (40, 60, 80))
    small.paste(face.resize((36, 36)), (280, 280))
    files["small_face"] = d / "small_face.jpg"
    small.save(files["small_face"])
    files["bomb"] = _png_header_only(d / "bomb.png", 60000, 60000)
    files["empty_photo"] = d / "empty.jpg"
    files["empty_photo"].write_bytes(b"")
    files["text_photo"] = d / "notes.jpg"
    files["text_photo"].write_text("this is not a photo\n")
    raw = files["photo"].read_bytes()
    files["cut_photo"] = d / "cut.jpg"
    files["cut_photo"].write_bytes(raw[: len(raw) // 3])


def _videos(d: Path, testdata: Path, files: dict[str, Path]) -> None:
    frames = _face_frames(testdata)
    files["video"] = write_clip(d / "clip.mp4", frames)
    files["speech"] = write_clip(d / "speech.mp4", frames, audio="aac")
    files["pcm_mov"] = write_clip(d / "pcm.mov", frames, audio="pcm_s16le")
    files["phone"] = write_clip(d / "phone.mp4", frames, rotation=90)
    files["odd_width"] = write_clip(d / "odd.mp4", [np.ascontiguousarray(f[:, :250]) for f in frames])
    files["one_frame"] = write_clip(d / "one.mp4", frames[:1])
    black = [np.zeros_like(frames[0])] * 6
    files["late_face"] = write_clip(d / "late_face.mp4", black + frames)
    gradient = np.linspace(0, 255, 256, dtype=np.float32)
    colours = [np.stack([*np.meshgrid(gradient, gradient), np.full((256, 256), 9.0 * i)], -1) for i in range(8)]
    files["noface_video"] = write_clip(d / "noface.mp4", [c.astype(np.uint8) for c in colours])
    whole = write_clip(d / "whole.mp4", frames).read_bytes()  # index (moov) at the end
    files["cut_end"] = d / "cut_end.mp4"
    files["cut_end"].write_bytes(whole[: len(whole) // 2])
    front = write_clip(d / "front.mp4", frames, faststart=True).read_bytes()
    files["cut_front"] = d / "cut_front.mp4"
    files["cut_front"].write_bytes(front[: int(len(front) * 0.6)])
    files["empty_video"] = d / "empty.mp4"
    files["empty_video"].write_bytes(b"")
    files["text_video"] = d / "readme.mp4"
    files["text_video"].write_text("not a video\n")
    files["audio_only"] = _audio_only(d / "voice.m4a")
    files["zero_frames"] = _zero_frames(d / "zero.mp4")


def _motion(d: Path, testdata: Path, files: dict[str, Path]) -> None:
    def doc(**change) -> str:
        base = {"format": "facedyn.motion", "version": 1, "fps": 25, "columns": ["time", "yaw", "pitch", "roll", "jawOpen"],
                "frames": [[k / 25, 2.0 * k, 0, 0, 0.1 * k] for k in range(6)]}
        base.update(change)
        return json.dumps(base, allow_nan=True)

    texts = {
        "motion_ok": ("ok.json", doc()),
        "motion_null_columns": ("null_columns.json", doc(columns=None)),
        "motion_frames_dict": ("frames_dict.json", doc(frames={"0": [0, 0, 0, 0, 0]})),
        "motion_fps_text": ("fps_text.json", doc(fps="25")),
        "motion_fps_zero": ("fps_zero.json", doc(fps=0)),
        "motion_nan": ("nan.json", doc(frames=[[0, float("nan"), 0, 0, 0]])),
        "motion_deep": ("deep.json", '{"frames": ' + "[" * 50_000),
        "motion_format": ("format.json", doc(format="something.else")),
        "motion_version": ("version.json", doc(version=9)),
        "motion_short_row": ("short_row.json", doc(frames=[[0, 0, 0]])),
        "motion_yaw": ("yaw.json", doc(frames=[[0, 500, 0, 0, 0], [0.04, 0, 0, 0, 0]])),
        "motion_scale": ("scale.json", json.dumps({"format": "facedyn.motion", "version": 1, "fps": 25,
                                                   "columns": ["yaw", "pitch", "roll", "scale"],
                                                   "frames": [[0, 0, 0, 1.0], [0, 0, 0, 0.0]]})),
        "motion_empty": ("empty.csv", ""),
        "motion_no_time": ("no_time.csv", "yaw,pitch,roll\n0,0,0\n1,1,1\n"),
        "motion_backwards": ("backwards.csv", "time,yaw,pitch,roll\n1,0,0,0\n0.5,0,0,0\n0,0,0,0\n"),
        "motion_one_row": ("one_row.csv", "time,yaw,pitch,roll\n0,0,0,0\n"),
        "motion_word": ("word.csv", "time,yaw,pitch,roll\n0,0,0,0\n0.04,left,0,0\n"),
        "motion_crlf": ("crlf.csv", "time,yaw,pitch,roll,jawOpen\r\n0,0,0,0,0\r\n0.04,3,0,0,0.5\r\n0.08,5,0,0,0.2\r\n\r\n\r\n"),
        "arkit_bad_timecode": ("arkit_time.csv", "Timecode,BlendShapeCount,JawOpen\n10:00,61,0.5\n10:01,61,0.2\n"),
        "arkit_no_shapes": ("arkit_shapes.csv", "Timecode,BlendShapeCount,Foo\n00:00:00:00.0,61,1\n00:00:00:01.0,61,1\n"),
    }
    for key, (name, text) in texts.items():
        files[key] = d / name
        files[key].write_text(text)
    files["motion_binary"] = d / "binary.csv"
    files["motion_binary"].write_bytes(bytes(range(256)) * 4)
    files["motion_utf16"] = d / "utf16.csv"
    files["motion_utf16"].write_text("time,yaw,pitch,roll\n0,0,0,0\n0.04,1,1,1\n", encoding="utf-16")
    real = sorted((testdata / "motion").glob("livelinkface_jm*.csv"))[0].read_text().splitlines()
    files["arkit"] = d / "take.csv"
    files["arkit"].write_text("\n".join(real[:13]) + "\n")  # 12 real rows


def build(folder: Path, testdata: Path) -> dict[str, Path]:
    """Every corpus input, by name, in `folder`."""
    files: dict[str, Path] = {}
    _photos(folder, testdata, files)
    _videos(folder, testdata, files)
    _motion(folder, testdata, files)
    (folder / "no_media").mkdir()
    files["no_media"] = folder / "no_media"
    return files


def frame_rate(path: Path) -> Fraction:
    with av.open(str(path)) as c:
        return Fraction(c.streams.video[0].average_rate)
