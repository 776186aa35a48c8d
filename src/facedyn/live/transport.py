"""Codec packets over UDP: a sender that seals every frame's packet (with the last few as
redundancy) into an authenticated datagram, and a receiver that checks, de-duplicates and
decodes them as they come, never waiting for a lost one (live/wire.py has the layout).

    with StreamSender(key, ("127.0.0.1", 9000), fps=25) as sender:
        sender.send(values, capture_time=time.time())        # (len(PARAMETERS),) per frame

    with StreamReceiver(key, ("127.0.0.1", 9000)) as receiver:
        for frame in receiver.take(timeout=0.04): ...         # ReceivedFrame, in order
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from facedyn.codec import bitstream as B
from facedyn.codec.stream import CodecConfig, Decoder, Encoder
from facedyn.errors import InputError
from facedyn.live import wire

log = logging.getLogger("facedyn")


@dataclass(frozen=True)
class LinkConfig:
    """How a live stream is coded and carried."""

    quality: int = 32  # codec quality, 0 (finest) .. 63
    key_seconds: float = 1.0  # time between key packets: after a loss the picture holds at most this long
    redundancy: int = 3  # earlier packets repeated in each datagram (0..8): that many losses in a row cost nothing
    header_seconds: float = 1.0  # how often the stream header travels (a receiver that joins waits this long)

    def __post_init__(self) -> None:
        if not 0 <= self.redundancy <= 8:
            raise ValueError(f"redundancy must be 0..8, got {self.redundancy}")
        if not 0.1 <= self.header_seconds <= 60:
            raise ValueError(f"header_seconds must be 0.1..60, got {self.header_seconds}")

    def codec(self) -> CodecConfig:
        """One packet a frame, every frame coded: nothing waits for a later frame."""
        return CodecConfig(quality=self.quality, key_seconds=self.key_seconds, packet_frames=1, stride=1)


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """"HOST:PORT", "PORT" or "[IPv6]:PORT" -> (host, port).

    Raises:
        InputError: no valid port (1..65535).
    """
    host, _, port = str(text).strip().rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InputError(f"expected HOST:PORT or PORT with a port 1..65535, got {text!r}")
    return host, int(port)


def _udp_socket(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    return socket.socket(family, socket.SOCK_DGRAM)


class StreamSender:
    """Sends a frame's values as one authenticated datagram (live/wire.py).

    Args:
        key: the shared 32-byte key (live.load_key).
        address: (host, port) of the receiver.
        fps: the frame rate of the values sent.
        config: quality, key interval, redundancy.

    Attributes:
        sent_bytes: datagram bytes sent so far (UDP and IP headers not counted).
        send_errors: datagrams the network refused (e.g. nobody listening yet).
    """

    def __init__(self, key: bytes, address: tuple[str, int], fps: float | Fraction, config: LinkConfig | None = None) -> None:
        self.config = config or LinkConfig()
        self._key = key
        self._encoder = Encoder(fps, config=self.config.codec())
        self._header = self._encoder.header.to_bytes()
        self._header_every = max(1, round(self.config.header_seconds * float(self._encoder.fps)))
        self._recent: deque[bytes] = deque(maxlen=self.config.redundancy + 1)
        self.session = time.time_ns() // 1000
        self._counter = 0
        self.sent_bytes = 0
        self.send_errors = 0
        self._socket = _udp_socket(address)
        try:
            self._socket.connect(address)
        except OSError as exc:  # an unknown host name, an unreachable network
            self._socket.close()
            raise InputError(f"cannot send to {address[0]}:{address[1]}: {exc.strerror or exc}") from None

    def send(self, values: np.ndarray, capture_time: float | None = None) -> int:
        """Code one frame of (len(PARAMETERS),) values and send it; returns the datagram's size.

        capture_time: when the frame was captured (time.time() seconds); default now.
        """
        datagram = self.code(values, capture_time)
        try:
            self._socket.send(datagram)
            self.sent_bytes += len(datagram)
        except OSError:  # e.g. ECONNREFUSED from an earlier datagram: the receiver is not up yet
            self.send_errors += 1
        return len(datagram)

    def code(self, values: np.ndarray, capture_time: float | None = None) -> bytes:
        """The datagram of one frame of values, without sending it (send() sends it)."""
        self._encoder.push_values(values)  # the first call returns the stream header, which travels separately
        self._recent.append(self._encoder.flush())
        index = self._counter  # one datagram a frame
        header = index % self._encoder.key_interval == 0 or index % self._header_every == 0
        payload = (self._header if header else b"") + b"".join(self._recent)
        stamp = round(1e6 * (time.time() if capture_time is None else capture_time))
        self._counter += 1
        return wire.seal(self._key, wire.Datagram(self.session, index, stamp, header, payload))

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> StreamSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class ReceivedFrame:
    """One decoded frame: its index in the sender's session, its PARAMETERS values (float64),
    when the sender captured it and when it was decoded here (time.time() seconds)."""

    session: int
    index: int
    values: np.ndarray
    capture_time: float
    received_time: float


DROP_REASONS = ("malformed", "unauthenticated", "replayed", "older_session", "stale", "late", "waiting")


@dataclass
class LinkStats:
    """What a receiver did with what arrived (counts)."""

    datagrams: int = 0
    accepted: int = 0
    frames: int = 0
    sessions: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))

    def summary(self) -> str:
        dropped = ", ".join(f"{v} {k}" for k, v in self.dropped.items() if v) or "none"
        return (f"{self.datagrams} datagrams, {self.accepted} accepted, {self.frames} frames decoded, "
                f"{self.sessions} session(s); dropped: {dropped}")


class LinkState:
    """The receiving end of a stream without the socket: datagram bytes in, frames out.

    Checks in order of cost: shape, session and replay window (free), then the MAC, then the
    sender's clock. Codec packets already decoded (redundant copies) or older than the last
    decoded one (late) are dropped; a lost packet is skipped by the live decoder, which
    resumes at the next key packet.

    Args:
        key: the shared 32-byte key.
        max_clock_skew: seconds a datagram's capture time may differ from this clock.
    """

    WRONG_KEY_NOTICE = 25  # unauthenticated datagrams, with none authenticated, before the one message

    def __init__(self, key: bytes, max_clock_skew: float = 30.0) -> None:
        self._key = key
        self._skew_us = round(max_clock_skew * 1e6)
        self.stats = LinkStats()
        self.session: int | None = None
        self._window = wire.ReplayWindow()
        self._decoder: Decoder | None = None
        self._next_sequence: int | None = None
        self._told_wrong_key = False

    @property
    def fps(self) -> Fraction | None:
        """The current session's frame rate, once its header has arrived."""
        return None if self._decoder is None or self._decoder.header is None else self._decoder.header.fps

    def accept(self, data: bytes, source: object = None, now: float | None = None) -> list[ReceivedFrame]:
        """The frames `data` completes (usually one), or none."""
        self.stats.datagrams += 1
        head = wire.peek(data)
        if head is None:
            return self._drop("malformed")
        session, counter = head
        if self.session is not None and session < self.session:
            return self._drop("older_session")
        if session == self.session and not self._window.is_new(counter):
            return self._drop("replayed")
        datagram = wire.unseal(self._key, data)
        if datagram is None:
            self._wrong_key(source)
            return self._drop("unauthenticated")
        now = time.time() if now is None else now
        if abs(datagram.capture_us - now * 1e6) > self._skew_us:
            return self._drop("stale", f"a datagram captured {datagram.capture_us / 1e6 - now:+.0f} s from this "
                                       "machine's clock was dropped: set both clocks (NTP) or raise --max-clock-skew")
        if session != self.session:
            self._new_session(session)
        self._window.accept(counter)
        self.stats.accepted += 1
        return self._decode(datagram, now)

    def _new_session(self, session: int) -> None:
        if self.session is not None:
            log.info("the sender restarted (new session); following it")
        self.session, self._window = session, wire.ReplayWindow()
        self._decoder, self._next_sequence = Decoder(strict=False), None
        self.stats.sessions += 1

    def _decode(self, datagram: wire.Datagram, now: float) -> list[ReceivedFrame]:
        payload, offset = datagram.payload, 0
        if datagram.has_header:
            try:
                _, offset = B.Header.parse(payload)
            except (B.StreamError, B.NeedMoreData):
                return self._drop("malformed")
            if self._decoder.header is None:
                self._decoder.feed(payload[:offset])
        if self._decoder.header is None:
            return self._drop("waiting")
        frames, fresh = [], False
        while offset < len(payload):
            try:
                packet, end = B.Packet.parse(payload, offset)
            except (B.StreamError, B.NeedMoreData):
                return self._drop("malformed")
            if self._next_sequence is None or (packet.sequence - self._next_sequence) & 0xFFFF < 0x8000:
                # new; else decoded before (a redundant copy) or older than the last decoded: late
                self._next_sequence, fresh = (packet.sequence + 1) & 0xFFFF, True
                frames += self._decoder.feed(payload[offset:end])
            offset = end
        if not fresh:
            return self._drop("late")
        return self._stamp(frames, datagram, now)

    def _stamp(self, frames, datagram: wire.Datagram, now: float) -> list[ReceivedFrame]:
        if not frames:
            return frames
        newest, period = frames[-1].index, 1.0 / float(self._decoder.header.fps)
        capture = datagram.capture_us / 1e6
        self.stats.frames += len(frames)
        return [ReceivedFrame(self.session, f.index, f.values, capture - (newest - f.index) * period, now) for f in frames]

    def _drop(self, reason: str, message: str | None = None) -> list[ReceivedFrame]:
        self.stats.dropped[reason] += 1
        if message and self.stats.dropped[reason] == 1:
            log.warning(message)
        return []

    def _wrong_key(self, source: object) -> None:
        if self._told_wrong_key or self.stats.accepted or self.stats.dropped["unauthenticated"] + 1 < self.WRONG_KEY_NOTICE:
            return
        self._told_wrong_key = True
        where = f" from {source[0]}:{source[1]}" if isinstance(source, tuple) else ""
        log.error("%d datagrams%s failed authentication and none passed: the sender uses another key "
                  "(give sender and receiver the same key file)", self.WRONG_KEY_NOTICE, where)


class DatagramListener:
    """A UDP port read on its own thread: each datagram goes to `accept(data, source)`, and
    the items it returns wait for take().

    Memory stays bounded under any flood: one datagram is read at a time and at most
    `max_pending` items wait (older ones are let go: a slow consumer sees the newest).

    Raises:
        InputError: the address cannot be listened on (in use, not this machine's).
    """

    def __init__(self, address: tuple[str, int], accept, max_pending: int = 250, name: str = "facedyn-listen") -> None:
        self._accept = accept
        self._pending: deque = deque(maxlen=max_pending)
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._socket = _udp_socket(address)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            self._socket.bind(address)
        except OSError as exc:
            self._socket.close()
            raise InputError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}") from None
        self._socket.settimeout(0.1)
        self.address = self._socket.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def take(self, timeout: float | None = None) -> list:
        """What arrived since the last call, oldest first; waits up to `timeout` seconds
        when nothing has (None: no wait)."""
        with self._ready:
            if not self._pending and timeout:
                self._ready.wait(timeout)
            items = list(self._pending)
            self._pending.clear()
        return items

    def _run(self) -> None:
        receive, accept = self._socket.recvfrom, self._accept
        while not self._stop.is_set():
            try:
                data, source = receive(wire.MAX_DATAGRAM + 1)
            except OSError:  # the timeout, or the socket closed by close()
                continue
            items = accept(data, source)
            if items:
                with self._ready:
                    self._pending.extend(items)
                    self._ready.notify()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StreamReceiver(DatagramListener):
    """Listens for a live stream on a UDP port and decodes it on its own thread
    (LinkState); take() returns the ReceivedFrames.

    Args:
        key: the shared 32-byte key.
        address: (host, port) to listen on; port 0 picks a free one (see `address`).
        max_clock_skew: seconds a datagram's capture time may differ from this clock.
        max_pending: decoded frames kept for take().

    Raises:
        InputError: the address cannot be listened on (in use, not this machine's).
    """

    def __init__(self, key: bytes, address: tuple[str, int], max_clock_skew: float = 30.0, max_pending: int = 250) -> None:
        self.state = LinkState(key, max_clock_skew)
        super().__init__(address, self.state.accept, max_pending, "facedyn-receive")

    @property
    def stats(self) -> LinkStats:
        return self.state.stats
