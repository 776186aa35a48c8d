"""Streaming encoder and decoder of facial dynamics (docs/codec.md).

    encoder = Encoder(fps=25, reference=motion.reference)
    data = b"".join(encoder.push(frame.dynamics) for frame in motion.frames) + encoder.flush()

    decoder = Decoder()
    for chunk in chunks_of(data):            # any split: bytes from a file or a socket
        for frame in decoder.feed(chunk):    # DecodedFrame: index, values, dynamics
            ...
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from facedyn.codec import bitstream as B
from facedyn.codec import quantiser as Q
from facedyn.codec.entropy import AdaptiveModel, IntegerDecoder, IntegerEncoder, prior_counts
from facedyn.drivers.parametric import PARAMETERS, Describer, dynamics_from_row
from facedyn.dynamics import FaceDynamics
from facedyn.rig.blendshapes import RIG_VERSION

log = logging.getLogger("facedyn")
MAX_PENDING_AUDIO = 1000  # 20 s of 20 ms Opus packets waiting for take_audio(); older ones are dropped
MAX_BUFFER = 1 << 21  # bytes a decoder holds while waiting for the rest of a packet


@dataclass(frozen=True)
class CodecConfig:
    """How dynamics are coded."""

    quality: int = Q.QUALITY_UNITY  # 0..63, lower = finer: each 8 doubles the steps (the openings' less)
    bitrate: float | None = None  # bits per second of dynamics to aim for: the quality then adapts at each key packet
    key_seconds: float = 4.0  # time between key packets (random access, recovery after loss), 0.1..60
    packet_frames: int | None = None  # frames per packet, 1..255 (None: a key interval's, at most 255: the fewest
    # packet headers, for files; 1 for live streams)
    stride: int = 1  # code pose and expression every stride-th frame, 1..8 (the decoder interpolates; the
    # openings are coded every frame, as blinks and speech are fast): 2 saves about a quarter of the bits

    def __post_init__(self) -> None:
        if not 0 <= self.quality <= Q.QUALITY_MAX:
            raise ValueError(f"quality must be 0..{Q.QUALITY_MAX}, got {self.quality}")
        if self.bitrate is not None and not 10 <= self.bitrate <= 1e6:
            raise ValueError(f"bitrate must be 10..1000000 bits per second, got {self.bitrate}")
        if not 0.1 <= self.key_seconds <= 60:
            raise ValueError(f"key_seconds must be 0.1..60, got {self.key_seconds}")
        if self.packet_frames is not None and not 1 <= self.packet_frames <= 255:
            raise ValueError(f"packet_frames must be 1..255, got {self.packet_frames}")
        if not 1 <= self.stride <= 8:
            raise ValueError(f"stride must be 1..8, got {self.stride}")


_KIND_NAMES = {B.KEY: "key", B.PREDICTED: "predicted", B.AUDIO: "audio"}
KEY_DECAY, MOVED_DECAY = 0.8, 0.45  # priors: key levels spread wide, changes cluster at 0
CHANGED_PRIOR = (3, 1)  # a group is more often unchanged than changed from frame to frame


class _Models:
    """The adaptive models of one key interval: per parameter, one for key frames; for the
    changes on predicted frames, models chosen by a context, shared by a group's parameters
    (version 2: context = did the parameter change in the previous frame + 2 x is its level
    0) or per parameter (version 1: context = did it change); per group, one flag model per
    context (did the group change in the previous frame)."""

    def __init__(self, version: int) -> None:
        n = len(PARAMETERS)
        self._rest_context = version >= 2
        self.key = [AdaptiveModel(prior_counts(KEY_DECAY)) for _ in range(n)]
        if self._rest_context:
            shared = [[AdaptiveModel(prior_counts(MOVED_DECAY)) for _ in range(4)] for _ in Q.GROUPS]
            self.predicted = [shared[g] for g in Q.GROUP_OF]
        else:
            self.predicted = [[AdaptiveModel(prior_counts(MOVED_DECAY)) for _ in range(2)] for _ in range(n)]
        self.moved = [0] * n
        self.group_flag = [[AdaptiveModel(CHANGED_PRIOR) for _ in range(2)] for _ in Q.GROUPS]
        self.group_moved = [0] * len(Q.GROUPS)

    def change_model(self, i: int, level: int) -> AdaptiveModel:
        """The model for parameter i's change from its previous frame's `level`."""
        at_rest = self._rest_context and level == 0
        return self.predicted[i][self.moved[i] + 2 * at_rest]


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: its index from the stream's start and its PARAMETERS values (61,)."""

    index: int
    values: np.ndarray

    @property
    def dynamics(self) -> FaceDynamics:
        """The frame on the rig's neutral face (drivers.parametric.dynamics_from_row)."""
        return dynamics_from_row(self.values)


class Encoder:
    """Facial dynamics in, stream bytes out. The first bytes returned start with the header,
    so everything returned, concatenated, is a valid stream.

    Args:
        fps: frames per second, 1..1000.
        reference: the driver's reference frame (Motion.reference); needed by push(), not by
            push_values().
        closed_gap: the driver's closed-lip gap (Motion.closed_gap).
        config: quality, bitrate, key and packet intervals.
        audio: the Opus audio that push_audio() will interleave, if any.
        frame_count: frames to come, written in the header (0: unknown, a live stream).
    """

    def __init__(self, fps: float | Fraction, reference: FaceDynamics | None = None, closed_gap: float = 0.0,
                 config: CodecConfig | None = None, audio: B.AudioInfo | None = None, frame_count: int = 0) -> None:
        self.config = config or CodecConfig()
        self.fps = Fraction(fps).limit_denominator(1001)
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"fps must be 1..1000, got {fps}")
        self._describe = Describer(reference, closed_gap) if reference is not None else None
        stride = self.config.stride
        self.key_interval = stride * max(1, min(65535 // stride, round(self.config.key_seconds * self.fps / stride)))
        self._packet_frames = self.config.packet_frames or min(255, self.key_interval)
        self.header = B.Header(self.fps, RIG_VERSION, frame_count, self.key_interval, stride, len(PARAMETERS),
                               tuple(g.step for g in Q.GROUPS), audio)
        self._quality = self.config.quality
        self._frames = 0  # frames pushed
        self._sequence = 0
        self._pending = 0  # frames in the open packet
        self._packet_start = 0
        self._coder: IntegerEncoder | None = None
        self._models = _Models(self.header.version)
        self._levels: np.ndarray | None = None  # the last frame's levels
        self._steps = Q.steps(self.header.base_steps, self._quality, self.header.version)
        self._header_sent = False
        self._interval_bits = 0  # dynamics bits since the last key packet, for rate control
        self.dynamics_bytes = 0  # bytes of dynamics packets written so far

    def push(self, frame: FaceDynamics) -> bytes:
        """Code one frame; returns the bytes completed by it (often none)."""
        if self._describe is None:
            raise ValueError("Encoder.push needs the driver's reference frame (Encoder(reference=...))")
        return self.push_values(self._describe(frame))

    def push_values(self, values: np.ndarray) -> bytes:
        """Code one frame given as (len(PARAMETERS),) values (drivers.parametric.PARAMETERS)."""
        values = np.asarray(values, np.float64)
        if values.shape != (len(PARAMETERS),) or not np.isfinite(values).all():
            raise ValueError(f"expected ({len(PARAMETERS)},) finite values, got {values.shape}")
        out = self._start()
        key = self._frames % self.key_interval == 0
        if key or self._pending == self._packet_frames:
            out += self._close_packet()
        if key:
            self._new_interval()
        if self._coder is None:
            self._coder, self._packet_start = IntegerEncoder(), self._frames
        self._code_frame(values, key, self._frames % self.header.stride == 0)
        self._frames += 1
        self._pending += 1
        return out

    def push_audio(self, payloads: list[bytes], time: int) -> bytes:
        """One packet of consecutive Opus packets (each audio.frame_samples long), the first
        at `time` (in 1/audio.rate s). It goes out at once: a file's dynamics packets cover up
        to a key interval, so its audio runs ahead of its dynamics by up to that."""
        if self.header.audio is None:
            raise ValueError("this encoder was made without audio (Encoder(audio=AudioInfo(...)))")
        if not 1 <= len(payloads) <= 255:
            raise ValueError(f"an audio packet holds 1..255 Opus packets, got {len(payloads)}")
        payload = b"".join(B.varint(len(p)) + p for p in payloads)
        return self._start() + self._packet(B.AUDIO, time, len(payloads), payload)

    def flush(self) -> bytes:
        """The bytes of the open packet (call at the end of the stream, or to cut latency)."""
        return self._start() + self._close_packet()

    def _start(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return self.header.to_bytes()

    def _new_interval(self) -> None:
        if self.config.bitrate is not None and self._frames:  # the interval just ended
            seconds = self.key_interval / self.fps
            rate = max(self._interval_bits, 1) / float(seconds)
            self._quality = int(np.clip(self._quality + round(8 * math.log2(rate / self.config.bitrate)), 0, Q.QUALITY_MAX))
        self._interval_bits = 0
        self._steps = Q.steps(self.header.base_steps, self._quality, self.header.version)
        self._models = _Models(self.header.version)
        self._levels = None

    def _code_frame(self, values: np.ndarray, key: bool, full: bool) -> None:
        """Code a key frame's levels, else the changes of every group (`full`: a frame on the
        stride) or of the every-frame groups only."""
        levels = Q.quantise(values, self._steps, None if key else self._levels)
        m = self._models
        if key:
            for i, level in enumerate(levels.tolist()):
                self._coder.encode(level, m.key[i])
        else:
            levels = np.where(full | Q.EVERY_FRAME, levels, self._levels)
            changes, previous = levels - self._levels, self._levels.tolist()
            for g in Q.groups_in(full):
                members = Q.GROUP_MEMBERS[g]
                changed = int(changes[members].any())
                self._coder.encode_symbol(changed, m.group_flag[g][m.group_moved[g]])
                m.group_moved[g] = changed
                for i in members.tolist():
                    if changed:
                        self._coder.encode(int(changes[i]), m.change_model(i, previous[i]))
                    m.moved[i] = int(changes[i] != 0)
        self._levels = levels

    def _close_packet(self) -> bytes:
        if not self._pending:
            return b""
        key = self._packet_start % self.key_interval == 0
        payload = (bytes([self._quality]) if key else b"") + self._coder.bytes()
        out = self._packet(B.KEY if key else B.PREDICTED, self._packet_start, self._pending, payload)
        self._interval_bits += 8 * len(out)
        self.dynamics_bytes += len(out)
        self._coder, self._pending = None, 0
        return out

    def _packet(self, kind: int, time: int, count: int, payload: bytes) -> bytes:
        data = B.Packet(kind, self._sequence, time, count, payload).to_bytes()
        self._sequence = (self._sequence + 1) & 0xFFFF
        return data


class Decoder:
    """Stream bytes in, decoded frames out, in any chunks.

    Args:
        strict: True (files): anything wrong raises StreamError with one line. False (live
            streams): a damaged, lost or out-of-order packet is skipped, counted in `skipped`
            with a warning, and decoding resumes at the next key packet.

    Attributes:
        header: the stream's Header once read, else None.
        skipped: packets skipped (damaged, lost, out of order or waiting for a key packet).
        received: packets and bytes read, by kind ("key", "predicted", "audio" and "<kind>_bytes").
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.header: B.Header | None = None
        self.skipped = 0
        self.received = {f"{kind}{tail}": 0 for kind in _KIND_NAMES.values() for tail in ("", "_bytes")}
        self._buffer = bytearray()
        self._expected_sequence: int | None = None
        self._synced = False  # a key packet has been decoded and nothing lost since
        self._next_frame = 0
        self._models: _Models | None = None  # from the first key packet on
        self._levels: np.ndarray | None = None  # the last frame's levels
        self._steps: np.ndarray | None = None
        self._last: DecodedFrame | None = None  # the last frame on the stride, to interpolate from
        self._between: list[DecodedFrame] = []  # frames since, their openings decoded, the rest to interpolate
        self._audio: list[tuple[int, bytes]] = []

    def feed(self, data: bytes) -> list[DecodedFrame]:
        """Decode what `data` completes; keeps a partial packet for the next call.

        Raises:
            StreamError: (strict) a damaged, truncated-inside, reordered or unsupported stream.
        """
        self._buffer += data
        if len(self._buffer) > MAX_BUFFER:
            raise B.StreamError("no valid packet in 2 MB of stream data")
        frames: list[DecodedFrame] = []
        offset = self._read_header()
        while offset is not None and offset < len(self._buffer):
            try:
                packet, end = B.Packet.parse(self._buffer, offset)
            except B.NeedMoreData:
                break
            except B.StreamError as exc:
                offset = self._damaged(offset, str(exc))
                continue
            self.received[_KIND_NAMES[packet.kind]] += 1
            self.received[f"{_KIND_NAMES[packet.kind]}_bytes"] += end - offset
            frames += self._packet(packet)
            offset = end
        if offset:
            del self._buffer[:offset]
        return frames

    def finish(self) -> list[DecodedFrame]:
        """Say the stream has ended; returns the frames after the last coded one.

        Raises:
            StreamError: (strict) it ended inside the header or a packet: truncated.
        """
        if self.header is None or self._buffer:
            message = "the stream is truncated: it ends inside " + ("its header" if self.header is None else "a packet")
            if self.strict:
                raise B.StreamError(message)
            log.warning("%s; %d bytes dropped", message, len(self._buffer))
            self._buffer.clear()
        if self._last is None:
            return []
        between, self._between = self._between, []  # after the last frame on the stride: held there
        end = max(self.header.frame_count, between[-1].index + 1 if between else 0)
        decoded = {f.index: f.values for f in between}
        return [DecodedFrame(k, np.where(Q.EVERY_FRAME, decoded.get(k, self._last.values), self._last.values))
                for k in range(self._last.index + 1, end)]

    def take_audio(self) -> list[tuple[int, bytes]]:
        """The Opus packets read so far, as (time in 1/audio.rate s, payload), and forget them."""
        audio, self._audio = self._audio, []
        return audio

    def _read_header(self) -> int | None:
        if self.header is not None:
            return 0
        try:
            self.header, used = B.Header.parse(bytes(self._buffer))
        except B.NeedMoreData:
            return None
        if self.header.rig_version != RIG_VERSION or self.header.parameter_count != len(PARAMETERS) or \
                len(self.header.base_steps) != len(Q.GROUPS):
            raise B.StreamError(f"the stream was made with rig version {self.header.rig_version}, "
                              f"{self.header.parameter_count} parameters; this facedyn has rig version "
                              f"{RIG_VERSION}, {len(PARAMETERS)} (use the facedyn that made it)")
        return used

    def _damaged(self, offset: int, message: str) -> int:
        if self.strict:
            raise B.StreamError(message)
        self._skip(message)
        return offset + 1  # look for the next packet start byte by byte

    def _skip(self, message: str) -> None:
        self.skipped += 1
        self._synced = False
        log.warning("%s; skipping to the next key packet (%d skipped so far)", message, self.skipped)

    def _packet(self, packet: B.Packet) -> list[DecodedFrame]:
        if not self._in_order(packet):
            return []
        if packet.kind == B.AUDIO:
            self._add_audio(packet)
            return []
        if packet.kind == B.PREDICTED and (not self._synced or packet.time != self._next_frame):
            if self.strict:
                raise B.StreamError(f"packet {packet.sequence} continues frame {packet.time}, "
                                  f"but the stream is at frame {self._next_frame}: packets are missing or out of order")
            if self._synced:
                self._skip(f"packet {packet.sequence} does not follow on")
            else:
                self.skipped += 1
            return []
        return self._frames_of(packet)

    def _in_order(self, packet: B.Packet) -> bool:
        expected, self._expected_sequence = self._expected_sequence, (packet.sequence + 1) & 0xFFFF
        if expected is None or packet.sequence == expected:
            return True
        message = f"packet {packet.sequence} arrived where {expected} was due"
        if self.strict:
            raise B.StreamError(message + ": packets are missing or out of order")
        self._skip(message)
        return packet.kind != B.PREDICTED

    def _add_audio(self, packet: B.Packet) -> None:
        if self.header.audio is None:
            return
        offset, data, step = 0, packet.payload, self.header.audio.frame_samples
        for k in range(packet.count):
            try:
                length, offset = B.read_varint(data, offset)
            except (B.NeedMoreData, B.StreamError):
                length = len(data) + 1
            if offset + length > len(data):
                message = f"audio packet {packet.sequence} is malformed"
                if self.strict:
                    raise B.StreamError(message)
                log.warning("%s; its audio is dropped", message)
                return
            self._audio.append((packet.time + k * step, bytes(data[offset: offset + length])))
            offset += length
        del self._audio[:-MAX_PENDING_AUDIO]

    def _frames_of(self, packet: B.Packet) -> list[DecodedFrame]:
        payload = packet.payload
        key = packet.kind == B.KEY
        if key:
            if not payload or payload[0] > Q.QUALITY_MAX or packet.time % self.header.key_interval:
                return self._bad_key(packet)
            self._steps = Q.steps(self.header.base_steps, payload[0], self.header.version)
            self._models, self._levels = _Models(self.header.version), None
            payload = payload[1:]
        coder = IntegerDecoder(payload)
        out = []
        if not self._synced:
            self._last, self._between = None, []  # frames lost since: nothing to interpolate from
        for k in range(packet.count):
            index = packet.time + k
            full = index % self.header.stride == 0
            levels = self._decode_levels(coder, key and k == 0, full)
            frame = DecodedFrame(index, np.clip(Q.dequantise(levels, self._steps), Q.LOW, Q.HIGH))
            out += self._interpolated(frame) if full else self._held(frame)
        self._synced, self._next_frame = True, packet.time + packet.count
        return out

    def _held(self, frame: DecodedFrame) -> list[DecodedFrame]:
        """A frame between strides waits for the next frame on the stride."""
        if self._last is None:
            return [frame]  # joined between strides: its pose and expression are the last levels'
        self._between.append(frame)
        return []

    def _interpolated(self, frame: DecodedFrame) -> list[DecodedFrame]:
        """The frames waiting since the last frame on the stride, their pose and expression on
        straight lines between the two, then `frame`."""
        last, self._last = self._last, frame
        between, self._between = self._between, []
        if last is None:
            return [frame]
        gap = frame.index - last.index
        out = []
        for waiting in between:
            line = last.values + (frame.values - last.values) * ((waiting.index - last.index) / gap)
            out.append(DecodedFrame(waiting.index, np.where(Q.EVERY_FRAME, waiting.values, line)))
        return out + [frame]

    def _bad_key(self, packet: B.Packet) -> list[DecodedFrame]:
        message = f"key packet {packet.sequence} is malformed (quality or frame index out of range)"
        if self.strict:
            raise B.StreamError(message)
        self._skip(message)
        return []

    def _decode_levels(self, coder: IntegerDecoder, key: bool, full: bool) -> np.ndarray:
        m = self._models
        if key:
            levels = np.array([coder.decode(m.key[i]) for i in range(len(PARAMETERS))], np.int64)
        else:
            levels, previous = self._levels.copy(), self._levels.tolist()
            for g in Q.groups_in(full):
                changed = coder.decode_symbol(m.group_flag[g][m.group_moved[g]])
                m.group_moved[g] = changed
                for i in Q.GROUP_MEMBERS[g].tolist():
                    change = coder.decode(m.change_model(i, previous[i])) if changed else 0
                    m.moved[i] = int(change != 0)
                    levels[i] += change
        self._levels = np.clip(levels, -Q.MAX_LEVEL, Q.MAX_LEVEL)
        return self._levels
