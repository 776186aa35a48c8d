"""Opus audio in a dynamics stream: encoded from a media file's first audio track, decoded
to a WAV file that the video writer muxes (PyAV's bundled libopus)."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

from facedyn.codec.bitstream import AudioInfo
from facedyn.errors import InputError
from facedyn.io.files import one_line

RATE, FRAME_SAMPLES = 48000, 960  # Opus at 48 kHz in 20 ms packets


def parse_audio_option(text: str) -> int:
    """"opus:12k" / "opus:12000" -> 12000 bits per second.

    Raises:
        InputError: another codec, or a bitrate outside 6..128 kbit/s.
    """
    codec, _, rate = str(text).strip().lower().partition(":")
    try:
        bits = float(rate.removesuffix("k")) * (1000 if rate.endswith("k") else 1)
    except ValueError:
        bits = -1.0
    if codec != "opus" or not 6000 <= bits <= 128000:
        raise InputError(f"--audio must look like opus:12k (Opus, 6k to 128k bits per second), got {text!r}")
    return int(bits)


def encode_opus(path: Path, bitrate: int) -> tuple[AudioInfo, list[bytes]] | None:
    """The first audio track of `path` as mono Opus packets of FRAME_SAMPLES each, or None
    when it has no audio.

    Raises:
        InputError: the file's audio cannot be read.
    """
    try:
        with av.open(str(path)) as source:
            if not source.streams.audio:
                return None
            encoder = av.CodecContext.create("libopus", "w")
            encoder.sample_rate, encoder.layout, encoder.format = RATE, "mono", "s16"
            encoder.bit_rate = bitrate
            encoder.options = {"frame_duration": "20", "application": "voip"}
            encoder.open()
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            packets, samples = [], 0
            for frame in source.decode(source.streams.audio[0]):
                for chunk in resampler.resample(frame):
                    chunk.pts, samples = samples, samples + chunk.samples
                    packets += [bytes(p) for p in encoder.encode(chunk)]
            packets += [bytes(p) for p in encoder.encode(None)]
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read the audio of {path}: {one_line(exc)}") from None
    return AudioInfo(RATE, 1, FRAME_SAMPLES), packets


def decode_opus(packets: list[tuple[int, bytes]], info: AudioInfo, path: Path) -> Path:
    """Write the Opus packets ((time, payload), time in 1/info.rate s) as a 16-bit WAV file;
    a damaged or missing packet becomes silence of its length."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate, decoder.layout = info.rate, "mono" if info.channels == 1 else "stereo"
    pcm: list[np.ndarray] = []
    written = 0
    for time, payload in sorted(packets):
        if time > written:
            pcm.append(np.zeros((time - written) * info.channels, np.int16))
            written = time
        try:
            frames = decoder.decode(av.Packet(payload))
        except av.error.FFmpegError:
            continue
        for frame in frames:
            samples = frame.to_ndarray()
            samples = (np.clip(samples, -1, 1) * 32767).astype(np.int16) if samples.dtype.kind == "f" else samples
            pcm.append(samples.T.ravel() if samples.shape[0] == info.channels and frame.format.is_planar else samples.ravel())
            written += frame.samples
    with wave.open(str(path), "wb") as out:
        out.setnchannels(info.channels)
        out.setsampwidth(2)
        out.setframerate(info.rate)
        out.writeframes(np.concatenate(pcm).astype("<i2").tobytes() if pcm else b"")
    return path
