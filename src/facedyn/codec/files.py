"""Dynamics streams as files (.fdyn): encode any motion with rate control and optional Opus
audio, read one back as a driver, describe one (facedyn info)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedyn.codec import bitstream as B
from facedyn.codec import quantiser as Q
from facedyn.codec.audio import decode_opus, encode_opus
from facedyn.codec.distortion import mesh_distance
from facedyn.codec.stream import CodecConfig, Decoder, Encoder
from facedyn.drivers.parametric import PARAMETERS, Describer, MotionTrack
from facedyn.dynamics import Motion
from facedyn.errors import InputError
from facedyn.io.files import check_output, existing_file, write_atomic

SUFFIX = ".fdyn"
MAX_FILE_BYTES = 64 * 2**20  # an hour of dynamics and Opus at 12 kbit/s is about 6 MB
Progress = Callable[[int, int | None], None]
# Strides that rate control tries. Which is best depends on the clip and the budget: on the
# test clips at 1 kbit/s strides from 1 (a 12 fps clip, its frames far apart) to 6 each won
# somewhere, at 4 kbit/s stride 1 won everywhere.
FITTED_STRIDES = (1, 2, 3, 4, 6, 8)


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    frames: int
    seconds: float
    dynamics_bits_per_second: float  # packets of dynamics (their headers included), not the stream's header
    total_bytes: int
    quality: int
    stride: int


def motion_values(motion: Motion, progress: Progress | None = None) -> np.ndarray:
    """(N, len(PARAMETERS)) float64 values of every frame of `motion` (consumes its frames)."""
    describe = Describer(motion.reference, motion.closed_gap)
    rows = []
    for frame in motion.frames:
        rows.append(describe(frame.dynamics))
        if progress:
            progress(len(rows), motion.frame_count)
    if not rows:
        raise InputError("the motion has no frames to encode")
    return np.array(rows)


def encode_values(values: np.ndarray, fps: float | Fraction, config: CodecConfig,
                  audio: tuple[B.AudioInfo, list[bytes]] | None = None) -> tuple[bytes, Encoder]:
    """The stream of (N, len(PARAMETERS)) values, audio interleaved a second at a time."""
    encoder = Encoder(fps, config=config, audio=audio[0] if audio else None, frame_count=len(values))
    info, packets = audio if audio else (None, [])
    per_packet = round(info.rate / info.frame_samples) if info else 0  # a second of audio a packet
    out, sent = bytearray(), 0
    for k in range(len(values) + 1):  # audio up to each frame's time, then the frame; the rest at the end
        while sent < len(packets) and (k == len(values) or sent * info.frame_samples <= k / encoder.fps * info.rate):
            out += encoder.push_audio(packets[sent: sent + per_packet], sent * info.frame_samples)
            sent += len(packets[sent: sent + per_packet])
        out += encoder.push_values(values[k]) if k < len(values) else encoder.flush()
    return bytes(out), encoder


def fit_bitrate(values: np.ndarray, fps: float | Fraction, bitrate: float, config: CodecConfig) -> CodecConfig:
    """`config` with the quality and stride that bring the dynamics to at most `bitrate`
    bits per second with the least distortion: for each of FITTED_STRIDES the finest quality
    within the budget (bisected), then the stride whose decoded frames lie closest to
    `values` (distortion.mesh_distance). When none fits, the one with the fewest bits."""
    seconds = len(values) / float(fps)

    def coded(quality: int, stride: int) -> tuple[bytes, float]:
        data, encoder = encode_values(values, fps, replace(config, quality=quality, stride=stride, bitrate=None))
        return data, 8 * encoder.dynamics_bytes / seconds

    candidates = []  # (over the budget?, distortion if within it else rate, quality, stride)
    for stride in FITTED_STRIDES:
        low, high = 0, Q.QUALITY_MAX  # the finest quality within the budget lies in low..high, if any
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if coded(middle, stride)[1] <= bitrate else (middle + 1, high)
        data, rate = coded(low, stride)
        if rate <= bitrate:
            candidates.append((False, mesh_distance(values, _decode_values(data)), low, stride))
        else:
            candidates.append((True, rate, low, stride))
    best = min(candidates)
    return replace(config, quality=best[2], stride=best[3], bitrate=None)


def _decode_values(data: bytes) -> np.ndarray:
    decoder = Decoder()
    return np.array([frame.values for frame in decoder.feed(data) + decoder.finish()])


def encode_motion(motion: Motion, output: str | Path, config: CodecConfig | None = None,
                  audio_bitrate: int | None = None, progress: Progress | None = None) -> EncodeResult:
    """Write `motion` as a dynamics stream file (atomically).

    Args:
        motion: any driver's opened motion; its audio_from supplies the audio.
        output: the .fdyn file.
        config: quality, or bitrate (then fitted over the whole clip: fit_bitrate), key interval.
        audio_bitrate: Opus bits per second (6000..128000), or None for no audio.

    Raises:
        InputError: an output onto an input, a bad suffix, unreadable audio.
        OutputError: the file cannot be written.
    """
    path = check_output(output, (SUFFIX,), motion.inputs, kind="dynamics stream")
    config = config or CodecConfig()
    values = motion_values(motion, progress)
    audio = None
    if audio_bitrate and motion.audio_from is not None:
        audio = encode_opus(motion.audio_from, audio_bitrate)
    if config.bitrate is not None:
        config = fit_bitrate(values, motion.fps, config.bitrate, config)
    data, encoder = encode_values(values, motion.fps, config, audio)
    write_atomic(path, lambda tmp: tmp.write_bytes(data))
    seconds = len(values) / float(motion.fps)
    return EncodeResult(path, len(values), seconds, 8 * encoder.dynamics_bytes / seconds, len(data),
                        config.quality, config.stride)


@dataclass(frozen=True)
class DecodedStream:
    header: B.Header
    values: np.ndarray  # (N, len(PARAMETERS)) float64
    audio: list[tuple[int, bytes]]  # Opus packets (time in 1/header.audio.rate s, payload)
    packets: dict[str, int]  # packet and byte counts by kind ("key", "predicted", "audio", "*_bytes")


def read_stream(path: str | Path) -> DecodedStream:
    """Decode a whole .fdyn file.

    Raises:
        InputError: missing, unreadable, too large, truncated, damaged, reordered or of a
            version this facedyn does not read; one line naming the file.
    """
    path = existing_file(path, "dynamics stream", f"a {SUFFIX} file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB; it is not a facedyn stream")
    data = path.read_bytes()
    decoder = Decoder(strict=True)
    try:
        frames = decoder.feed(data)
        frames += decoder.finish()
    except B.StreamError as exc:
        raise InputError(f"{path.name}: {exc}") from None
    if not frames:
        raise InputError(f"{path.name} holds no frames")
    return DecodedStream(decoder.header, np.array([f.values for f in frames]), decoder.take_audio(), decoder.received)


@dataclass(frozen=True)
class StreamDriver:
    """Drive a photo from a .fdyn file: its dynamics on the rig's face, its audio along.

    Raises (at open):
        InputError: see read_stream.
    """

    path: Path

    def open(self, tracker=None, source=None) -> Motion:
        stream = read_stream(self.path)
        motion = MotionTrack.from_rows(float(stream.header.fps), stream.values).open()
        motion = replace(motion, fps=stream.header.fps, inputs=(Path(self.path),))
        if not stream.audio or stream.header.audio is None:
            return motion
        folder = tempfile.TemporaryDirectory(prefix="facedyn-audio-")
        wav = decode_opus(stream.audio, stream.header.audio, Path(folder.name) / "audio.wav")

        def frames() -> Iterator:
            holder = folder  # the WAV lives as long as the frames are wanted (the writer opens it first)
            yield from motion.frames
            holder.cleanup()

        return replace(motion, frames=frames(), audio_from=wav)


def stream_info(path: str | Path) -> dict[str, object]:
    """What `facedyn info` prints: the header, the duration, frames, bitrates, key interval."""
    stream = read_stream(path)
    h = stream.header
    seconds = len(stream.values) / float(h.fps)
    dynamics = stream.packets["key_bytes"] + stream.packets["predicted_bytes"]
    info = {
        "format": f"facedyn dynamics stream, version {h.version}", "rig version": h.rig_version,
        "fps": float(h.fps), "frames": len(stream.values), "duration s": round(seconds, 3),
        "coded every": f"{h.stride} frame(s)", "key interval s": round(h.key_interval / float(h.fps), 3),
        "parameters": f"{h.parameter_count} ({', '.join(PARAMETERS[:3])}, ...)",
        "packets": f"{stream.packets['key']} key, {stream.packets['predicted']} predicted, {stream.packets['audio']} audio",
        "dynamics bit/s": round(8 * dynamics / seconds, 1),
        "header bytes": len(h.to_bytes()),
        "audio": "none" if h.audio is None else f"Opus {h.audio.rate} Hz, {h.audio.channels} channel(s), "
                                                 f"{8 * stream.packets['audio_bytes'] / seconds:.0f} bit/s",
        "file bytes": Path(path).stat().st_size,
    }
    return info
