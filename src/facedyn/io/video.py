"""Video in and out with PyAV: decoding upright RGB frames, encoding by the output's extension
(H.264 or VP9), audio copied or transcoded, atomic writes, H.264 size limits."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from facedyn.errors import InputError, OutputError
from facedyn.io.files import check_output, existing_file, one_line, os_error_reason, publish, temp_beside

log = logging.getLogger(__name__)

MIN_FPS, MAX_FPS = 1.0, 1000.0  # a container rate outside this is a broken header, not a frame rate


@dataclass(frozen=True)
class OutputFormat:
    """How one output extension is written."""

    container: str  # FFmpeg muxer
    video_codec: str
    video_options: dict
    audio_codec: str  # used when the source's audio cannot be copied into this container
    copy_audio: frozenset  # audio codecs (FFmpeg names) this container holds as they are


_H264 = {"crf": "20", "preset": "veryfast"}
_PLAYS_EVERYWHERE = frozenset({"aac", "mp3"})  # in an MP4, every browser and phone plays these
_PCM = frozenset({"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le"})
OUTPUT_FORMATS = {
    ".mp4": OutputFormat("mp4", "libx264", _H264, "aac", _PLAYS_EVERYWHERE),
    ".mov": OutputFormat("mov", "libx264", _H264, "aac", _PLAYS_EVERYWHERE | {"alac", "ac3"} | _PCM),
    ".mkv": OutputFormat("matroska", "libx264", _H264, "aac",
                         _PLAYS_EVERYWHERE | {"alac", "ac3", "eac3", "opus", "vorbis", "flac"} | _PCM),
    # VP9 in real-time mode: about as fast as x264 veryfast here, and every browser plays it
    ".webm": OutputFormat("webm", "libvpx-vp9", {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8",
                                                 "row-mt": "1"}, "libopus", frozenset({"opus", "vorbis"})),
}
VIDEO_SUFFIXES = tuple(OUTPUT_FORMATS)

# H.264 level 5.2, the largest that browsers and phones decode (ITU-T H.264 Table A-1):
# frame size, each side, and macroblocks per second.
H264_MAX_MACROBLOCKS = 36864
H264_MAX_SIDE_MACROBLOCKS = int(math.sqrt(8 * H264_MAX_MACROBLOCKS))  # 543 (4344 px squared, 8688 px long)
H264_MAX_MACROBLOCK_RATE = 2073600


def _macroblocks(side: float) -> int:
    return math.ceil(math.ceil(side) / 16)


def fits_h264(width: int, height: int, fps: float) -> bool:
    """True when a width x height video at `fps` is within H.264 level 5.2."""
    mw, mh = _macroblocks(width), _macroblocks(height)
    return (max(mw, mh) <= H264_MAX_SIDE_MACROBLOCKS and mw * mh <= H264_MAX_MACROBLOCKS
            and mw * mh * fps <= H264_MAX_MACROBLOCK_RATE)


def fit_scale(width: int, height: int, fps: float, long_side: int | None = None) -> float:
    """The largest scale <= 1 at which a width x height frame (padded to even sides) has its
    long side at most `long_side` (None: no such cap) and fits H.264 level 5.2 at `fps`."""
    scale = 1.0 if long_side is None else min(1.0, long_side / max(width, height))
    budget = min(H264_MAX_MACROBLOCKS, H264_MAX_MACROBLOCK_RATE / max(fps, 1e-6))
    scale = min(scale, math.sqrt(budget * 256 / (width * height)), 16 * H264_MAX_SIDE_MACROBLOCKS / max(width, height))
    while scale > 1e-3 and not fits_h264(_even_side(width * scale), _even_side(height * scale), fps):
        scale *= 0.99
    return scale


def _even_side(side: float) -> int:
    return max(2, 2 * math.ceil(round(side) / 2))


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    frame_count: frames that can be read: the header's count (or the packets counted when
        the header has none), less those a cut-short file no longer holds.
    header_frames: frames the header announces (0 when it does not say).
    width, height: the frame size as displayed, after the rotation.
    rotation: degrees counter-clockwise that the display matrix turns the stored frames
        (phones record portrait video as rotated landscape); frames are read upright.
    """

    path: Path
    fps: Fraction  # average frame rate, e.g. Fraction(30000, 1001)
    frame_count: int
    width: int
    height: int
    has_audio: bool
    rotation: int = 0
    header_frames: int = 0

    @property
    def frames_cut_off(self) -> int:
        """Frames the header announces that are missing from a file that was cut short."""
        return max(0, self.header_frames - self.frame_count)


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and check that it has decodable frames, without decoding them all.

    Raises:
        InputError: missing, unreadable, corrupt, no video stream or zero frames.
    """
    path = existing_file(path, "video", "a video file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path} has no video stream; pass a video file")
            stream = container.streams.video[0]
            first = next(_decoded(container, stream), None)
            if first is None:
                raise InputError(f"{path} has no decodable frames; pass a video with at least one frame")
            fps = _frame_rate(stream)
            rotation = _quarter_turns(first.rotation) * 90
            count = stream.frames or _count_packets(path)
            present = _frames_in_file(stream, path)
            width, height = first.width, first.height
            has_audio = bool(container.streams.audio)
            header = stream.frames
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {path}: {one_line(exc)}; is it a complete video file?") from None
    if rotation % 180:
        width, height = height, width
    return VideoInfo(path, fps, min(count, present) if present is not None else count, width, height, has_audio,
                     rotation, header)


def _frame_rate(stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and MIN_FPS <= rate <= MAX_FPS:
            return Fraction(rate)
    return Fraction(25)


def _quarter_turns(degrees: float) -> int:
    return int(round((degrees or 0) / 90.0)) % 4


def _count_packets(path: Path) -> int:
    """Frames of a video whose header has no count, counted from its packets (no decoding)."""
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


def _frames_in_file(stream, path: Path) -> int | None:
    """Frames whose data is inside the file, from the container's index (None when the index
    does not list every frame): a file cut short with its index at the front still lists
    frames it no longer holds."""
    entries = stream.index_entries
    if not entries or len(entries) != stream.frames:
        return None
    size = os.path.getsize(path)
    return sum(1 for e in entries if e.pos + e.size <= size)


def iter_frames(path: str | Path, expected: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as upright (H, W, 3) uint8 RGB C-contiguous arrays, in
    display order (the display matrix's rotation applied).

    A packet that does not decode is skipped. When fewer than `expected` frames came out,
    a warning says how many were lost.

    Raises:
        InputError: the file cannot be opened, or not one frame decodes.
    """
    path = Path(path)
    decoded = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            # Slice threads only: frame threads hold decoded frames back and drop them when a later
            # packet fails (a file cut short lost its good frames without a word); they saved
            # only about 0.3 ms a frame here.
            stream.thread_type = "SLICE"
            for frame in _decoded(container, stream):
                decoded += 1
                yield upright(frame)
    except av.error.FFmpegError as exc:
        if decoded == 0:
            raise InputError(f"cannot decode video {path}: {one_line(exc)}") from None
        log.warning("%s: decoding stopped after frame %d: %s", path.name, decoded, one_line(exc))
    if expected and decoded < expected:
        log.warning("%s: only %d of %d frames could be decoded (the file is damaged or cut short)",
                    path.name, decoded, expected)


def _decoded(container, stream) -> Iterator[av.VideoFrame]:
    """The decoded frames of `stream`, skipping packets that do not decode."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            continue  # a damaged packet: its frame is lost, the rest may decode
        yield from frames


def upright(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB C-contiguous array of a decoded frame, turned as displayed."""
    image = np.rot90(frame.to_ndarray(format="rgb24"), _quarter_turns(frame.rotation))
    return np.ascontiguousarray(image)  # PyAV pads rows when the width is not a multiple of 16


class VideoWriter:
    """Writes a video atomically, by the path's extension: .mp4, .mov, .mkv (H.264, yuv420p)
    or .webm (VP9); optionally with another file's audio, copied when the container can hold
    it, else transcoded (AAC, or Opus for .webm).

    Frames go to a temporary file beside `path`, renamed over `path` only when `close()`
    succeeds, so an interrupted or failed run never leaves a broken video. Odd frame sizes
    are padded to even by repeating the last row/column (yuv420p needs even sizes).

    Use as a context manager:

        with VideoWriter("out.mp4", fps=Fraction(30), audio_from="clip.mp4") as w:
            w.write(frame)

    Args:
        path: the output file; its folder must exist.
        fps: frame rate.
        audio_from: a media file whose first audio stream goes with the video.
        crf: quality (lower is better; H.264 0..51 where 18 is near lossless); None: the
            format's default.

    Raises:
        InputError: a wrong extension, or the output folder does not exist.
        OutputError: the file cannot be written (disk full, permission denied).
    """

    def __init__(self, path: str | Path, fps: Fraction | float, audio_from: str | Path | None = None,
                 crf: int | None = None) -> None:
        self.path = check_output(path, VIDEO_SUFFIXES)
        self._format = OUTPUT_FORMATS[self.path.suffix.lower()]
        self._fps = Fraction(fps).limit_denominator(100000)
        self._crf = crf
        self._video = None
        self._count = 0
        self._audio: _AudioTrack | None = None
        self._tmp = temp_beside(self.path)
        self._container = None
        with self._failures("open"):
            self._container = av.open(str(self._tmp), "w", format=self._format.container,
                                      options={"movflags": "faststart"} if self._format.container in ("mp4", "mov") else {})
            if audio_from is not None:
                self._audio = _AudioTrack.open(Path(audio_from), self._container, self._format)

    def _failures(self, what: str):
        return _WriteFailures(self, what)

    def _open_video(self, width: int, height: int) -> None:
        stream = self._container.add_stream(self._format.video_codec, rate=self._fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / self._fps
        options = dict(self._format.video_options)
        if self._crf is not None:
            options["crf"] = str(self._crf)
        stream.options = options
        stream.codec_context.thread_count = 2
        self._video = stream

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; all frames must have the first one's size.

        Raises:
            InputError: a frame of another size or type.
            OutputError: the file cannot be written.
        """
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise InputError(f"expected an (H, W, 3) uint8 RGB frame, got {got}")
        frame = _even(frame)
        with self._failures("write"):
            if self._video is None:
                self._open_video(frame.shape[1], frame.shape[0])
            elif (frame.shape[1], frame.shape[0]) != (self._video.width, self._video.height):
                raise InputError(
                    f"frame size changed: expected {self._video.width}x{self._video.height}, "
                    f"got {frame.shape[1]}x{frame.shape[0]}"
                )
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = self._count
            self._count += 1
            self._container.mux(self._video.encode(vf))
            if self._audio is not None:
                self._audio.mux_until(self._count / self._fps)

    def close(self) -> None:
        """Flush the encoders and move the finished file into place.

        Raises:
            OutputError: nothing was written, or the file cannot be written.
        """
        if self._container is None:
            return
        if self._video is None:
            self.abort()
            raise OutputError(f"no frames were written to {self.path}")
        with self._failures("finish"):
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.mux_until(None)
            self._container.close()
            self._container = None
            self._close_audio()
            publish(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial output (called on error)."""
        if self._container is not None:
            try:
                self._container.close()
            except (av.error.FFmpegError, OSError):
                pass
            self._container = None
        self._close_audio()
        self._tmp.unlink(missing_ok=True)

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _WriteFailures:
    """Turns FFmpeg's and the OS's write errors into one OutputError, dropping the partial file."""

    def __init__(self, writer: VideoWriter, what: str) -> None:
        self._writer, self._what = writer, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        if issubclass(exc_type, InputError | OutputError):
            self._writer.abort()
            return False
        if issubclass(exc_type, OSError):  # av.error.OSError is one too, with the errno
            self._writer.abort()
            raise OutputError(f"cannot write {self._writer.path}: {os_error_reason(exc)}; nothing was written") from None
        if issubclass(exc_type, av.error.FFmpegError):
            self._writer.abort()
            raise OutputError(f"cannot {self._what} {self._writer.path}: {one_line(exc)}; nothing was written") from None
        return False


class _AudioTrack:
    """A source file's first audio stream, muxed into the output interleaved with the video:
    copied packet by packet when the container can hold the codec, else decoded and encoded."""

    def __init__(self, source, in_stream, out_stream, resampler) -> None:
        self._source, self._in, self._out, self._resampler = source, in_stream, out_stream, resampler
        self._packets = self._copied() if resampler is None else self._transcoded()
        self._container = out_stream.container
        self._pending = None
        self._samples = 0

    @classmethod
    def open(cls, path: Path, container, fmt: OutputFormat) -> _AudioTrack | None:
        try:
            source = av.open(str(path))
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot read the audio of {path}: {one_line(exc)}") from None
        if not source.streams.audio:
            source.close()
            return None
        in_stream = source.streams.audio[0]
        if in_stream.codec_context.name in fmt.copy_audio:
            return cls(source, in_stream, container.add_stream_from_template(in_stream), None)
        rate = 48000 if fmt.audio_codec == "libopus" else (in_stream.rate or 48000)
        layout = "mono" if in_stream.channels == 1 else "stereo"
        out = container.add_stream(fmt.audio_codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=out.codec_context.format, layout=layout, rate=rate)
        return cls(source, in_stream, out, resampler)

    def _demuxed(self) -> Iterator[av.Packet]:
        """The source's audio packets; a damaged stretch ends the audio, not the video."""
        try:
            yield from self._source.demux(self._in)
        except av.error.FFmpegError as exc:
            log.warning("%s: the audio stops early, at a damaged part: %s", self._source.name, one_line(exc))

    def _copied(self) -> Iterator[tuple[float, av.Packet]]:
        for packet in self._demuxed():
            if packet.dts is None or packet.pts is None:
                continue
            packet.stream = self._out
            yield float(packet.pts * packet.time_base), packet

    def _transcoded(self) -> Iterator[tuple[float, av.Packet]]:
        def frames():
            for packet in self._demuxed():
                try:
                    yield from packet.decode()
                except av.error.FFmpegError:
                    continue  # a damaged audio packet: a short silence, not a failed video
            yield None

        for frame in frames():
            for resampled in self._resampler.resample(frame):
                resampled.pts = self._samples
                self._samples += resampled.samples
                yield from self._encoded(resampled)
        yield from self._encoded(None)

    def _encoded(self, frame) -> Iterator[tuple[float, av.Packet]]:
        for packet in self._out.encode(frame):
            yield float((packet.pts or 0) * packet.time_base), packet

    def mux_until(self, seconds: Fraction | None) -> None:
        """Mux audio up to `seconds` of the video (all that is left when None)."""
        limit = None if seconds is None else float(seconds)
        while True:
            item = self._pending or next(self._packets, None)
            self._pending = None
            if item is None:
                return
            if limit is not None and item[0] > limit:
                self._pending = item
                return
            self._container.mux(item[1])

    def close(self) -> None:
        self._source.close()


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
