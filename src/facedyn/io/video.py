"""Video in and out with PyAV: decoding to RGB, H.264 encoding, audio copy, atomic writes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from facedyn.errors import InputError
from facedyn.io.files import publish, temp_beside


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds."""

    path: Path
    fps: Fraction  # average frame rate, e.g. Fraction(30000, 1001)
    frame_count: int  # from the header, or counted by decoding when it has none
    width: int
    height: int
    has_audio: bool


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and check that it has decodable frames.

    Raises:
        InputError: missing, unreadable, corrupt, no video stream or zero frames.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path} has no video stream; pass a video file")
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
            has_audio = bool(container.streams.audio)
            frames = container.decode(video=0)
            if next(frames, None) is None:
                count = 0
            elif stream.frames:
                count = stream.frames  # the header's count: decoding a long video twice would delay the first frame
            else:
                count = 1 + sum(1 for _ in frames)
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {path}: {exc}; is it a complete video file?") from exc
    if count == 0:
        raise InputError(f"{path} has no decodable frames; pass a video with at least one frame")
    if fps <= 0:
        fps = Fraction(25)
    return VideoInfo(path, fps, count, width, height, has_audio)


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video as (H, W, 3) uint8 RGB arrays, in display order.

    Raises:
        InputError: the file cannot be decoded.
    """
    try:
        with av.open(str(path)) as container:
            container.streams.video[0].thread_type = "AUTO"
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot decode video {path}: {exc}") from exc


class VideoWriter:
    """Writes an H.264 (yuv420p) MP4 atomically, optionally copying another file's audio.

    Frames go to a temporary file beside `path`, renamed over `path` only when `close()`
    succeeds, so an interrupted run never leaves a broken video. Odd frame sizes are padded
    to even by repeating the last row/column (yuv420p needs even sizes).

    Use as a context manager:

        with VideoWriter("out.mp4", fps=Fraction(30), audio_from="clip.mp4") as w:
            w.write(frame)

    Args:
        path: the output file (.mp4); its folder must exist.
        fps: frame rate.
        audio_from: a media file whose first audio stream is copied without re-encoding.
        crf: x264 quality (0..51, lower is better; 18 is visually near lossless).
        preset: x264 speed preset ("ultrafast" .. "veryslow").

    Raises:
        InputError: the output folder does not exist or is not writable.
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | float,
        audio_from: str | Path | None = None,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(f"output folder does not exist: {self.path.parent}; create it first")
        self._tmp = temp_beside(self.path)
        self._fps = Fraction(fps).limit_denominator(100000)
        self._crf, self._preset = crf, preset
        self._container = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "faststart"})
        self._video = None
        self._count = 0
        self._audio_in = None
        self._audio_out = None
        self._audio_packets: Iterator | None = None
        self._pending_audio = None
        if audio_from is not None:
            self._open_audio(Path(audio_from))

    def _open_audio(self, source: Path) -> None:
        src = av.open(str(source))
        if not src.streams.audio:
            src.close()
            return
        self._audio_in = src
        self._audio_out = self._container.add_stream_from_template(src.streams.audio[0])
        self._audio_packets = src.demux(src.streams.audio[0])

    def _open_video(self, width: int, height: int) -> None:
        stream = self._container.add_stream("libx264", rate=self._fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / self._fps
        stream.options = {"crf": str(self._crf), "preset": self._preset}
        stream.codec_context.thread_count = 2
        self._video = stream

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; all frames must have the first one's size."""
        frame = _even(frame)
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
        self._mux_audio_until(self._count / self._fps)

    def _mux_audio_until(self, seconds: Fraction | None) -> None:
        """Copy audio packets up to `seconds` (all when None), interleaved with the video."""
        if self._audio_packets is None:
            return
        while True:
            packet = self._pending_audio or next(self._audio_packets, None)
            self._pending_audio = None
            if packet is None:
                self._audio_packets = None
                return
            if packet.dts is None:
                continue
            if seconds is not None and packet.pts is not None and packet.pts * packet.time_base > seconds:
                self._pending_audio = packet
                return
            packet.stream = self._audio_out
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and move the finished file into place."""
        if self._container is None:
            return
        if self._video is None:
            self.abort()
            raise InputError("no frames were written")
        self._container.mux(self._video.encode(None))
        self._mux_audio_until(None)
        self._container.close()
        self._container = None
        self._close_audio()
        publish(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial output (called on error)."""
        if self._container is not None:
            try:
                self._container.close()
            except av.error.FFmpegError:
                pass
            self._container = None
        self._close_audio()
        self._tmp.unlink(missing_ok=True)

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()



def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
