"""Datagrams of a live stream: codec packets sealed with a MAC under a shared key.

    datagram := "FDL" version:u8 flags:u8 session:u64 counter:u32 capture_us:u64
                payload mac:16                       (integers big-endian)
    payload  := [stream header, when flags bit 0] codec packet*   (docs/codec.md)
    mac      := HMAC-SHA256(key, every byte before it), first 16 bytes

session: the sender's start time in microseconds since the Unix epoch: a receiver follows a
    newer session (a restarted sender) and ignores older ones (a replayed recording).
counter: the datagram's number in its session, from 0; a window of the last REPLAY_WINDOW
    counters rejects replays.
capture_us: when the newest frame in it was captured (sender's clock, µs since the epoch):
    the receiver measures latency with it and drops datagrams too far from its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

MAGIC = b"FDL"
VERSION = 1
HAS_HEADER = 1
_HEAD = struct.Struct(">3sBBQIQ")
MAC_BYTES = 16
MAX_DATAGRAM = 1400  # fits one Ethernet frame with IP and UDP headers
MIN_DATAGRAM = _HEAD.size + MAC_BYTES
REPLAY_WINDOW = 1024  # datagrams: 40 s at 25 fps


@dataclass(frozen=True)
class Datagram:
    session: int
    counter: int
    capture_us: int
    has_header: bool
    payload: bytes


def seal(key: bytes, datagram: Datagram) -> bytes:
    """The datagram's bytes, MAC appended.

    Raises:
        ValueError: it would exceed MAX_DATAGRAM bytes.
    """
    body = _HEAD.pack(MAGIC, VERSION, HAS_HEADER if datagram.has_header else 0, datagram.session, datagram.counter,
                      datagram.capture_us) + datagram.payload
    if len(body) + MAC_BYTES > MAX_DATAGRAM:
        raise ValueError(f"a datagram of {len(body) + MAC_BYTES} bytes exceeds {MAX_DATAGRAM}")
    return body + _mac(key, body)


def peek(data: bytes) -> tuple[int, int] | None:
    """(session, counter) of bytes shaped like a datagram, before any MAC is checked, or None."""
    if not MIN_DATAGRAM <= len(data) <= MAX_DATAGRAM or data[:3] != MAGIC or data[3] != VERSION:
        return None
    _, _, _, session, counter, _ = _HEAD.unpack_from(data)
    return session, counter


def unseal(key: bytes, data: bytes) -> Datagram | None:
    """The datagram in `data` if its MAC is right under `key`, else None (call peek() first)."""
    body, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, body)):
        return None
    _, _, flags, session, counter, capture_us = _HEAD.unpack_from(body)
    return Datagram(session, counter, capture_us, bool(flags & HAS_HEADER), bytes(body[_HEAD.size:]))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.digest(key, body, hashlib.sha256)[:MAC_BYTES]


class ReplayWindow:
    """Which datagram counters of a session were accepted: the highest, and a bitmap of the
    REPLAY_WINDOW below it (as IPsec and WireGuard do). Anything older counts as seen."""

    def __init__(self, size: int = REPLAY_WINDOW) -> None:
        self.size = size
        self.highest = -1
        self._bits = 0  # bit k: counter highest - k was accepted

    def is_new(self, counter: int) -> bool:
        if counter > self.highest:
            return True
        back = self.highest - counter
        return back < self.size and not (self._bits >> back) & 1

    def accept(self, counter: int) -> None:
        """Mark `counter` seen (call only with a new, authenticated one)."""
        if counter > self.highest:
            shift = counter - self.highest
            self._bits = ((self._bits << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self.highest = counter
        else:
            self._bits |= 1 << (self.highest - counter)
