"""Epic's Live Link Face app (iPhone ARKit face capture) as a live source.

The app streams one UDP datagram per frame (packet version 6; integers and floats big-endian):

    version:u8  device_id:(u32 length, UTF-8)  subject:(u32 length, UTF-8)
    frame:u32  subframe:f32  fps:u32  fps_denominator:u32  count:u8 (61)  values:f32*61

values: the 52 ARKit blendshapes in the app's order (the order of its CSV takes, which is
drivers.BLENDSHAPES'), then head yaw, pitch, roll and each eye's yaw, pitch, roll in radians.

Live Link Face has no authentication: the receiver follows the first device it hears (and,
with `allowed_host`, only datagrams from that address), and stays bounded like every listener.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

import numpy as np

from facedyn.drivers.parametric import COEFFICIENTS, OPENINGS, PARAMETERS
from facedyn.live.transport import DatagramListener
from facedyn.rig import BLENDSHAPES

VERSION = 6
VALUE_COUNT = 61  # 52 blendshapes + head yaw, pitch, roll + left and right eye yaw, pitch, roll
HEAD = slice(52, 55)
MAX_NAME = 256  # bytes of a device id or subject name
_TIME = struct.Struct(">IfIIB")
_VALUES = struct.Struct(f">{VALUE_COUNT}f")


class PacketError(ValueError):
    """Bytes that are not a Live Link Face packet; the message says why."""


@dataclass(frozen=True)
class LiveLinkPacket:
    device: str
    subject: str
    frame: int
    fps: float
    values: np.ndarray  # (61,) float64 in the app's order


def parse_packet(data: bytes) -> LiveLinkPacket:
    """One Live Link Face datagram.

    Raises:
        PacketError: another version, a truncated or oversized packet, or non-finite values.
    """
    if len(data) < 1 or data[0] != VERSION:
        raise PacketError(f"not a Live Link Face packet of version {VERSION} (got {data[:1].hex() or 'nothing'})")
    offset = 1
    names = []
    for _ in range(2):
        if len(data) < offset + 4:
            raise PacketError("the packet ends inside its names")
        (length,) = struct.unpack_from(">I", data, offset)
        if length > MAX_NAME or len(data) < offset + 4 + length:
            raise PacketError(f"a name of {length} bytes does not fit the packet")
        names.append(data[offset + 4: offset + 4 + length].decode("utf-8", "replace"))
        offset += 4 + length
    if len(data) != offset + _TIME.size + _VALUES.size:
        raise PacketError(f"a packet of {len(data)} bytes; its names say {offset + _TIME.size + _VALUES.size}")
    frame, _, fps, denominator, count = _TIME.unpack_from(data, offset)
    if count != VALUE_COUNT:
        raise PacketError(f"{count} values; Live Link Face sends {VALUE_COUNT}")
    values = np.array(_VALUES.unpack_from(data, offset + _TIME.size), np.float64)
    if not np.isfinite(values).all():
        raise PacketError("the packet holds values that are not numbers")
    return LiveLinkPacket(names[0], names[1], frame, fps / max(denominator, 1), values)


def build_packet(values: np.ndarray, frame: int = 0, fps: int = 60, device: str = "facedyn-test",
                 subject: str = "iPhone") -> bytes:
    """The datagram the app would send for (61,) values (for tests and synthetic senders)."""
    values = np.asarray(values, np.float64)
    if values.shape != (VALUE_COUNT,):
        raise ValueError(f"expected ({VALUE_COUNT},) values, got {values.shape}")
    out = bytearray([VERSION])
    for name in (device, subject):
        raw = name.encode()
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out + _TIME.pack(frame, 0.0, fps, 1, VALUE_COUNT) + _VALUES.pack(*values))


def row_from_packet(values: np.ndarray) -> np.ndarray:
    """(len(PARAMETERS),) float64 motion values of a packet's (61,) values: head angles in
    degrees (as ARKit CSVs are read), coefficients clipped to 0..1, openings left to the
    coefficients (NaN)."""
    row = np.zeros(len(PARAMETERS))
    row[:3] = np.degrees(values[HEAD])
    row[5] = 1.0
    row[COEFFICIENTS] = np.clip(values[: len(BLENDSHAPES)], 0.0, 1.0)
    row[-len(OPENINGS):] = np.nan
    return row


@dataclass
class LiveLinkStats:
    datagrams: int = 0
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"malformed": 0, "other_device": 0, "other_host": 0})


@dataclass(frozen=True)
class LiveLinkFrame:
    """index: frames received so far; values: (len(PARAMETERS),) float64; fps: the app's
    frame rate; capture_time: when it arrived (time.time() seconds: the app's clock is not
    this machine's)."""

    index: int
    values: np.ndarray
    fps: float
    capture_time: float


class LiveLinkState:
    """Live Link Face datagrams in, motion rows out: follows the first device heard."""

    def __init__(self, allowed_host: str | None = None) -> None:
        self.allowed_host = allowed_host
        self.device: str | None = None
        self.stats = LiveLinkStats()

    def accept(self, data: bytes, source: object = None, now: float = 0.0) -> list[LiveLinkFrame]:
        self.stats.datagrams += 1
        if self.allowed_host is not None and (not isinstance(source, tuple) or source[0] != self.allowed_host):
            self.stats.dropped["other_host"] += 1
            return []
        try:
            packet = parse_packet(data)
        except PacketError:
            self.stats.dropped["malformed"] += 1
            return []
        self.device = self.device or packet.device
        if packet.device != self.device:
            self.stats.dropped["other_device"] += 1
            return []
        self.stats.frames += 1
        return [LiveLinkFrame(self.stats.frames - 1, row_from_packet(packet.values), packet.fps, now or time.time())]


class LiveLinkReceiver(DatagramListener):
    """Listens for Live Link Face on a UDP port (the app's default is 11111); take() returns
    LiveLinkFrames.

    Raises:
        InputError: the address cannot be listened on.
    """

    def __init__(self, address: tuple[str, int], allowed_host: str | None = None, max_pending: int = 250) -> None:
        self.state = LiveLinkState(allowed_host)
        super().__init__(address, self.state.accept, max_pending, "facedyn-livelink")
