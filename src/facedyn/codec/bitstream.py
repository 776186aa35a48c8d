"""The facedyn dynamics stream, version 2, byte by byte (docs/codec.md is the specification).

    stream  := header packet*
    header  := "FDYN" version:u8 flags:u8 fps_num:u32 fps_den:u32 rig:u16 frames:u32
               key_interval:u16 stride:u8 parameters:u8 groups:u8 step:f32*groups
               [audio: codec:u8 rate:u32 channels:u8 frame_samples:u16]   (when flags bit 0)
               crc32:u32                                  (of all the header's bytes before it)
    packet  := type:u8 seq:u16 time:varint count:u8 length:varint crc16:u16 payload
    (integers big-endian; varint: 7 bits a byte, low bits first, high bit = more follows)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction

MAGIC = b"FDYN"
VERSION = 2  # what facedyn writes
READABLE_VERSIONS = (1, 2)  # version 1: equal steps within a group, a change model per parameter
KEY, PREDICTED, AUDIO = 1, 2, 3  # packet types
PACKET_TYPES = (KEY, PREDICTED, AUDIO)
AUDIO_OPUS = 1
MAX_PAYLOAD = 1 << 20  # no packet of facial dynamics or 20 ms of audio comes near this
MAX_VARINT_BYTES = 5
_FIXED = ">BBIIHIHBBB"  # the header's fixed fields after the magic


class StreamError(ValueError):
    """Bytes that are not a valid facedyn stream; the message says what is wrong."""


class NeedMoreData(Exception):
    """The bytes end inside a header or packet (a stream: wait for more; a file: truncated)."""


@dataclass(frozen=True)
class AudioInfo:
    rate: int  # samples per second of the Opus packets' clock
    channels: int
    frame_samples: int  # samples per Opus packet (960 = 20 ms at 48 kHz)


@dataclass(frozen=True)
class Header:
    fps: Fraction
    rig_version: int
    frame_count: int  # 0 when unknown (a live stream)
    key_interval: int  # frames from one key packet to the next (a multiple of stride)
    stride: int  # every stride-th frame is coded; the decoder interpolates between them
    parameter_count: int
    base_steps: tuple[float, ...]  # one per quantiser group
    audio: AudioInfo | None = None
    version: int = VERSION

    def to_bytes(self) -> bytes:
        out = bytearray(MAGIC)
        out += struct.pack(_FIXED, self.version, int(self.audio is not None), self.fps.numerator, self.fps.denominator,
                           self.rig_version, self.frame_count, self.key_interval, self.stride, self.parameter_count,
                           len(self.base_steps))
        out += struct.pack(f">{len(self.base_steps)}f", *self.base_steps)
        if self.audio is not None:
            out += struct.pack(">BIBH", AUDIO_OPUS, self.audio.rate, self.audio.channels, self.audio.frame_samples)
        out += struct.pack(">I", zlib.crc32(out))
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> tuple[Header, int]:
        """(header, bytes used) from the start of `data`.

        Raises:
            NeedMoreData: `data` ends inside the header.
            StreamError: not a facedyn stream, another version, or a damaged header.
        """
        if len(data) < 4:
            raise NeedMoreData
        if data[:4] != MAGIC:
            raise StreamError("not a facedyn dynamics stream (it does not start with FDYN)")
        fixed = struct.calcsize(_FIXED)
        if len(data) < 4 + fixed:
            raise NeedMoreData
        version, flags, num, den, rig, frames, key, stride, params, groups = struct.unpack_from(_FIXED, data, 4)
        if version not in READABLE_VERSIONS:
            readable = " and ".join(map(str, READABLE_VERSIONS))
            raise StreamError(f"stream version {version}; this facedyn reads versions {readable} (upgrade facedyn)")
        end = 4 + fixed + 4 * groups + (8 if flags & 1 else 0)
        if len(data) < end + 4:
            raise NeedMoreData
        if struct.unpack_from(">I", data, end)[0] != zlib.crc32(data[:end]):
            raise StreamError("the stream's header is damaged (checksum mismatch)")
        steps = struct.unpack_from(f">{groups}f", data, 4 + fixed)
        audio = None
        if flags & 1:
            codec, rate, channels, samples = struct.unpack_from(">BIBH", data, 4 + fixed + 4 * groups)
            if codec != AUDIO_OPUS or not 8000 <= rate <= 192000 or not 1 <= channels <= 2 or not samples:
                raise StreamError(f"the stream's audio is not Opus mono/stereo (codec {codec}, {rate} Hz, "
                                  f"{channels} channels, {samples} samples a packet)")
            audio = AudioInfo(rate, channels, samples)
        if num == 0 or den == 0 or not 1 <= num / den <= 1000:
            raise StreamError(f"the stream's frame rate {num}/{den} is not 1..1000 fps")
        if not stride or key % stride or any(not (s > 0 and s < 1e6) for s in steps):
            raise StreamError(f"the stream's header is malformed (key interval {key}, stride {stride}, steps {steps})")
        return cls(Fraction(num, den), rig, frames, key, stride, params, tuple(steps), audio, version), end + 4


@dataclass(frozen=True)
class Packet:
    kind: int  # KEY, PREDICTED or AUDIO
    sequence: int  # 0..65535, one more for each packet of any kind
    time: int  # first frame's index (KEY, PREDICTED); the first Opus packet's time in 1/rate s (AUDIO)
    count: int  # frames in the packet (KEY, PREDICTED); Opus packets, each its length (varint) then its bytes (AUDIO)
    payload: bytes

    def to_bytes(self) -> bytes:
        head = bytes([self.kind]) + struct.pack(">H", self.sequence) + varint(self.time) + bytes([self.count]) + \
            varint(len(self.payload))
        return head + struct.pack(">H", zlib.crc32(head + self.payload) & 0xFFFF) + self.payload

    @classmethod
    def parse(cls, data: bytes | memoryview, offset: int = 0) -> tuple[Packet, int]:
        """(packet, offset after it) from `data` at `offset`.

        Raises:
            NeedMoreData: `data` ends inside the packet.
            StreamError: an unknown type, an oversized length or a checksum mismatch.
        """
        start = offset
        if len(data) < offset + 3:
            raise NeedMoreData
        kind, sequence = data[offset], struct.unpack_from(">H", data, offset + 1)[0]
        if kind not in PACKET_TYPES:
            raise StreamError(f"unknown packet type {kind} at byte {start}")
        time, offset = read_varint(data, offset + 3)
        if len(data) < offset + 1:
            raise NeedMoreData
        count = data[offset]
        length, offset = read_varint(data, offset + 1)
        if length > MAX_PAYLOAD:
            raise StreamError(f"packet at byte {start} claims {length} bytes, more than any packet holds")
        if len(data) < offset + 2 + length:
            raise NeedMoreData
        crc = struct.unpack_from(">H", data, offset)[0]
        payload = bytes(data[offset + 2: offset + 2 + length])
        if crc != zlib.crc32(bytes(data[start:offset]) + payload) & 0xFFFF:
            raise StreamError(f"packet {sequence} at byte {start} is damaged (checksum mismatch)")
        return cls(kind, sequence, time, count, payload), offset + 2 + length


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    value = 0
    for k in range(MAX_VARINT_BYTES):
        if offset + k >= len(data):
            raise NeedMoreData
        byte = data[offset + k]
        value |= (byte & 0x7F) << (7 * k)
        if not byte & 0x80:
            return value, offset + k + 1
    raise StreamError(f"a number at byte {offset} runs past {MAX_VARINT_BYTES} bytes")
