"""Live: the authenticated UDP transport of codec packets, its receiver under loss, replays,
wrong keys and garbage, Live Link Face packets, cameras, sinks, and the CLI end to end on
loopback (127.0.0.1 only; every loop ends by itself)."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facedyn import codec, drivers, live
from facedyn.drivers.parametric import PARAMETERS
from facedyn.errors import InputError
from facedyn.io import iter_frames, probe_video
from facedyn.live import livelink, wire
from facedyn.rig import BLENDSHAPES
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T

from .conftest import write_video
from .test_codec import _values

KEY = bytes(range(32))
LOOPBACK = ("127.0.0.1", 0)
LIP_GAP = PARAMETERS.index("lipGap")


def _datagrams(values: np.ndarray, key: bytes = KEY, start: float | None = None, **config) -> list[bytes]:
    """The datagrams a sender makes of `values` at 25 fps, captured from `start` on."""
    start = time.time() if start is None else start
    sender = live.StreamSender(key, ("127.0.0.1", 9), 25, live.LinkConfig(**config))
    try:
        return [sender.code(v, start + k / 25) for k, v in enumerate(values)]
    finally:
        sender.close()


def _offline(values: np.ndarray, key_seconds: float = 1.0) -> np.ndarray:
    """What `facedyn decode` makes of the same values coded into a file (one key a second)."""
    encoder = codec.Encoder(25, config=codec.CodecConfig(key_seconds=key_seconds), frame_count=len(values))
    data = b"".join(encoder.push_values(v) for v in values) + encoder.flush()
    decoder = codec.Decoder()
    return np.array([f.values for f in decoder.feed(data) + decoder.finish()])


def _receive(datagrams, key: bytes = KEY) -> tuple[list, live.LinkState]:
    state = live.LinkState(key)
    frames = [f for d in datagrams for f in state.accept(d)]
    return frames, state


# -- wire ------------------------------------------------------------------------------------------

def test_a_datagram_opens_only_whole_and_under_its_key():
    data = wire.seal(KEY, wire.Datagram(5, 7, 123, True, b"payload"))
    assert wire.unseal(KEY, data) == wire.Datagram(5, 7, 123, True, b"payload")
    assert wire.unseal(bytes(32), data) is None
    for position in (0, 5, 20, len(data) - 1):
        flipped = bytearray(data)
        flipped[position] ^= 1
        assert wire.peek(bytes(flipped)) is None or wire.unseal(KEY, bytes(flipped)) is None
    with pytest.raises(ValueError, match="exceeds"):
        wire.seal(KEY, wire.Datagram(1, 1, 1, False, bytes(wire.MAX_DATAGRAM)))


def test_the_replay_window_takes_each_counter_once():
    window = wire.ReplayWindow(size=8)
    for counter in (3, 1, 2, 10):
        assert window.is_new(counter)
        window.accept(counter)
    assert not any(window.is_new(c) for c in (1, 2, 3, 10))
    assert window.is_new(9) and window.is_new(4)
    assert not window.is_new(2)  # below the window: counted as seen
    window.accept(100)
    assert not window.is_new(10) and window.is_new(101)


# -- the receiving end, without sockets ---------------------------------------------------------------

def test_a_lossless_stream_decodes_as_the_offline_file():
    values = _values(4.0)
    frames, state = _receive(_datagrams(values))
    assert [f.index for f in frames] == list(range(len(values)))
    np.testing.assert_array_equal(np.array([f.values for f in frames]), _offline(values))
    assert state.stats.accepted == len(values) and not any(state.stats.dropped.values())


def test_ten_percent_loss_costs_nothing_with_redundancy_and_resumes_at_key_packets_without():
    values = _values(12.0)
    keep = np.random.default_rng(4).random(len(values)) >= 0.10
    datagrams = _datagrams(values)
    frames, _ = _receive([d for d, k in zip(datagrams, keep, strict=True) if k])
    np.testing.assert_array_equal(live.played(frames), _offline(values)[: frames[-1].index + 1])
    shown = live.played(frames)[:, LIP_GAP]
    assert np.corrcoef(shown, _offline(values)[: len(shown), LIP_GAP])[0, 1] > 0.99

    # Without redundancy a loss costs the rest of its key interval: decoding resumes at the
    # next key packet received (a lost key packet costs a second interval).
    bare = _datagrams(values, redundancy=0)
    frames, state = _receive([d for d, k in zip(bare, keep, strict=True) if k])
    indices = np.array([f.index for f in frames])
    resumed = indices[1:][np.diff(indices) > 1]
    assert len(frames) < 0.8 * len(values) and len(resumed) > 3
    assert (resumed % 25 == 0).all() and np.diff(indices).max() <= 2 * 25


def test_reordered_datagrams_are_late_not_queued():
    values = _values(3.0)
    datagrams = _datagrams(values)
    swapped = list(datagrams)
    for k in range(5, len(swapped) - 1, 10):
        swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
    frames, state = _receive(swapped)
    assert [f.index for f in frames] == list(range(len(values)))  # the newer one carried the older packet
    assert state.stats.dropped["late"] == len(range(5, len(swapped) - 1, 10))


def test_replays_older_sessions_and_stale_datagrams_are_dropped():
    values = _values(2.0)
    old = _datagrams(values)
    time.sleep(0.001)
    new = _datagrams(values)
    state = live.LinkState(KEY)
    first = [f for d in old[:20] for f in state.accept(d)]
    assert len(first) == 20
    assert [f for d in old[:20] for f in state.accept(d)] == []
    assert state.stats.dropped["replayed"] == 20
    followed = [f for d in new for f in state.accept(d)]
    assert len(followed) == len(values) and state.stats.sessions == 2
    assert [f for d in old[20:] for f in state.accept(d)] == []
    assert state.stats.dropped["older_session"] == len(values) - 20
    stale = _datagrams(values[:3], start=time.time() - 3600)
    fresh_state = live.LinkState(KEY, max_clock_skew=30)
    assert [f for d in stale for f in fresh_state.accept(d)] == []
    assert fresh_state.stats.dropped["stale"] == 3


def test_a_wrong_key_gives_no_frames_and_one_message(caplog):
    datagrams = _datagrams(_values(3.0), key=bytes(32))
    with caplog.at_level(logging.WARNING, logger="facedyn"):
        frames, state = _receive(datagrams)
    assert frames == [] and state.stats.dropped["unauthenticated"] == len(datagrams)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "another key" in messages[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_datagrams_never_crash_the_receiver(data):
    """Garbage, and authenticated datagrams with damaged payloads (a sender with the key but
    broken): dropped or decoded in range, never an exception; memory stays put."""
    values = _values(2.0, seed=data.draw(st.integers(0, 3)))
    datagrams = _datagrams(values, redundancy=data.draw(st.integers(0, 3)))
    state = live.LinkState(KEY)
    for datagram in datagrams:
        kind = data.draw(st.sampled_from(["keep", "garbage", "payload", "drop"]))
        if kind == "garbage":
            datagram = data.draw(st.binary(max_size=200))
        elif kind == "payload":  # re-seal a damaged payload under the right key
            inner = wire.unseal(KEY, datagram)
            raw = bytearray(inner.payload)
            position = data.draw(st.integers(0, max(len(raw) - 1, 0)))
            raw[position: position + 3] = data.draw(st.binary(max_size=6))
            datagram = wire.seal(KEY, wire.Datagram(inner.session, inner.counter, inner.capture_us, inner.has_header,
                                                    bytes(raw)))
        elif kind == "drop":
            continue
        for frame in state.accept(datagram):
            assert frame.values.shape == (len(PARAMETERS),) and np.isfinite(frame.values).all()
    assert state.stats.datagrams <= len(datagrams)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_live_link_packets_raise_packet_error_only(blob):
    for data in (blob, bytes([livelink.VERSION]) + blob):
        try:
            packet = livelink.parse_packet(data)
        except livelink.PacketError:
            continue
        assert packet.values.shape == (livelink.VALUE_COUNT,)


# -- keys ---------------------------------------------------------------------------------------------

def test_keygen_writes_a_private_key_once(tmp_path):
    path = live.generate_key(tmp_path / "key.txt")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(live.load_key(path)) == 32
    with pytest.raises(InputError, match="never overwritten"):
        live.generate_key(path)
    bad = tmp_path / "bad.txt"
    for text in ("", "zz" * 32, "ab" * 31, "\x00\xff"):
        bad.write_bytes(text.encode("latin-1"))
        with pytest.raises(InputError, match="not a facedyn key"):
            live.load_key(bad)
    with pytest.raises(InputError, match="not found"):
        live.load_key(tmp_path / "missing.txt")


# -- sockets on 127.0.0.1 ---------------------------------------------------------------------------

def _take_until(receiver, count: int, seconds: float) -> list:
    frames, end = [], time.monotonic() + seconds
    while len(frames) < count and time.monotonic() < end:
        frames += receiver.take(timeout=0.05)
    return frames


def test_a_flood_of_garbage_does_not_stop_the_stream():
    values = _values(2.0)
    import socket

    with live.StreamReceiver(KEY, LOOPBACK, max_pending=64) as receiver, \
            live.StreamSender(KEY, receiver.address, 25) as sender, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        forged = wire.seal(bytes(32), wire.Datagram(time.time_ns() // 1000 + 10**6, 1, time.time_ns() // 1000, True, b"x"))
        frames = []
        for k, v in enumerate(values):
            for junk in (os.urandom(100), forged) * 100:
                flood.sendto(junk, receiver.address)
            sender.send(v)
            frames += receiver.take(timeout=0.01 if k % 5 else None)
        frames += _take_until(receiver, len(values) - len(frames), 5.0)
        stats = receiver.stats
    assert len({f.index for f in frames}) >= 0.9 * len(values), stats.summary()
    assert stats.dropped["malformed"] > 0 and stats.dropped["unauthenticated"] > 0


def test_a_port_in_use_is_one_clear_error():
    with live.StreamReceiver(KEY, LOOPBACK) as first:
        with pytest.raises(InputError, match="cannot listen on 127.0.0.1"):
            live.StreamReceiver(KEY, first.address)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, video_path) -> Path:
    """The first 40 frames of a speaking clip."""
    path = video_path("man_speaking_outdoors")
    frames = [f for _, f in zip(range(40), iter_frames(path), strict=False)]
    return write_video(tmp_path_factory.mktemp("live") / "speaker40.mp4", frames, fps=25)


def _facedyn(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facedyn.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_loopback_send_receive_reproduces_the_offline_decode(tmp_path, short_clip):
    key_file = live.generate_key(tmp_path / "key.txt")
    with live.StreamReceiver(live.load_key(key_file), LOOPBACK) as receiver:
        sender = _facedyn("send", "--camera", short_clip, "--to", f"127.0.0.1:{receiver.address[1]}", "--key", key_file)
        frames = _take_until(receiver, 40, 60.0)
        out, err = sender.communicate(timeout=60)
    assert sender.returncode == 0, err
    assert "sent 40 frames" in out
    stream = tmp_path / "clip.fdyn"
    encode = subprocess.run([sys.executable, "-m", "facedyn.cli", "encode", short_clip, "-o", stream, "--key-seconds", "1"],
                            capture_output=True, text=True, timeout=120)
    assert encode.returncode == 0, encode.stderr
    offline = codec.read_stream(stream).values
    assert [f.index for f in frames] == list(range(40))
    np.testing.assert_array_equal(np.array([f.values for f in frames]), offline)


def _listening(receiver: subprocess.Popen, seconds: float = 60.0) -> str:
    """Wait until a `facedyn receive` child says it listens; returns its stderr so far."""
    import select

    seen, end = "", time.monotonic() + seconds
    while "listening on" not in seen and time.monotonic() < end and receiver.poll() is None:
        if select.select([receiver.stderr], [], [], 0.2)[0]:
            seen += receiver.stderr.readline()
    assert "listening on" in seen, seen
    return seen


def test_cli_receive_records_the_stream_and_a_wrong_key_says_so(tmp_path, short_clip, image_path):
    good, wrong = live.generate_key(tmp_path / "good.txt"), live.generate_key(tmp_path / "wrong.txt")
    port = _free_port()
    recording = tmp_path / "rec.mp4"
    receiver = _facedyn("receive", "--photo", image_path("woman_frontal_neutral"), "--listen", f"127.0.0.1:{port}",
                        "--key", good, "-o", recording, "--duration", 12, "--size", 256, "--no-paste-back")
    _listening(receiver)
    impostor = _facedyn("send", "--camera", short_clip, "--to", f"127.0.0.1:{port}", "--key", wrong)
    impostor.communicate(timeout=60)
    sender = _facedyn("send", "--camera", short_clip, "--realtime", "--to", f"127.0.0.1:{port}", "--key", good)
    sent = int(sender.communicate(timeout=60)[0].split()[1])  # "sent N frames ...": real time drops some under load
    out, err = receiver.communicate(timeout=60)
    assert receiver.returncode == 0, err
    assert sent >= 30 and f" {sent} frames decoded" in out and "40 unauthenticated" in out, out
    assert err.count("another key") == 1, err
    # The recording keeps the stream's pace from the first frame shown to the last: frames a
    # loaded machine kept the sender from sending, or the receiver skipped behind newer ones,
    # before the first of them are not in it (a full CI run once recorded 37).
    skipped = re.search(r"(\d+) skipped behind newer ones", out)
    info = probe_video(recording)
    least = min(38, sent) - (int(skipped[1]) if skipped else 0)
    assert least <= info.frame_count <= 41 and info.fps == Fraction(25), (out, sent)


def test_cli_wrong_key_alone_writes_no_recording(tmp_path, short_clip, image_path):
    port = _free_port()
    recording = tmp_path / "rec.mp4"
    receiver = _facedyn("receive", "--photo", image_path("woman_frontal_neutral"), "--listen", str(port),
                        "--key", live.generate_key(tmp_path / "a.txt"), "-o", recording, "--duration", 5,
                        "--size", 256, "--no-paste-back")
    _listening(receiver)
    _facedyn("send", "--camera", short_clip, "--to", f"127.0.0.1:{port}", "--key",
             live.generate_key(tmp_path / "b.txt")).communicate(timeout=60)
    out, err = receiver.communicate(timeout=60)
    assert receiver.returncode == 0, err
    assert out.startswith("0 frames") and "another key" in err and "nothing was recorded" in err, (out, err)
    assert not recording.exists() and not list(tmp_path.glob("*.tmp"))


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(LOOPBACK)
        return s.getsockname()[1]


# -- Live Link Face -----------------------------------------------------------------------------------

def test_live_link_packets_round_trip_and_map_to_motion_values():
    values = np.linspace(0, 1, livelink.VALUE_COUNT)
    values[livelink.HEAD] = np.radians([10, -5, 3])
    packet = livelink.parse_packet(livelink.build_packet(values, frame=7, fps=60, device="$abc"))
    assert packet.device == "$abc" and packet.frame == 7 and packet.fps == 60
    np.testing.assert_allclose(packet.values, values, atol=1e-6)
    row = livelink.row_from_packet(packet.values)
    np.testing.assert_allclose(row[:3], [10, -5, 3], atol=1e-4)
    assert np.isnan(row[-4:]).all() and row[5] == 1.0


def test_live_link_face_from_an_arkit_take_moves_the_mouth(animator, image_path, testdata):
    """A synthetic Live Link Face sender replays a real take on loopback; the rendered mouth
    follows the take's jawOpen."""
    import socket

    take = drivers.motion(testdata / "motion" / "livelinkface_jm_mouth_smile_5s_60fps.csv")
    rows = take.coefficients[::2]  # 30 fps
    packets = []
    for k, coefficients in enumerate(rows):
        values = np.zeros(livelink.VALUE_COUNT)
        values[:52] = coefficients
        packets.append(livelink.build_packet(values, frame=k, fps=30))
    source = animator.load_source(image_path("woman_frontal_neutral"))
    frames = Captured()
    player = live.Player(animator, source, [frames])
    player.prepare_parametric()
    with live.LiveLinkReceiver(LOOPBACK) as receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        import threading

        def send() -> None:
            for packet in packets:
                phone.sendto(packet, receiver.address)
                time.sleep(1 / 30)

        threading.Thread(target=send, daemon=True).start()
        report = live.run_livelink(player, receiver, duration=len(packets) / 30 + 1.5)
    assert report.frames >= 0.9 * len(packets) and receiver.state.stats.frames == len(packets)
    with FaceTracker() as tracker:
        opening = np.array([T.mouth_opening(tracker.track(f)) for f in frames.frames])
    jaw = rows[np.array(frames.indices), BLENDSHAPES.index("jawOpen")]
    r = np.corrcoef(opening, jaw)[0, 1]
    print(f"rendered mouth opening against the take's jawOpen: r = {r:.3f} over {len(jaw)} frames")
    assert r > 0.8


class Captured(live.Sink):
    """Keeps what it is shown."""

    def __init__(self) -> None:
        self.frames, self.indices = [], []

    def show(self, frame, index) -> None:
        self.frames.append(frame)
        self.indices.append(index)


# -- cameras and sinks ----------------------------------------------------------------------------------

def test_a_file_camera_gives_every_frame_or_keeps_real_time(short_clip):
    with live.Camera(short_clip, realtime=False) as camera:
        frames = list(camera)
    assert [f.index for f in frames] == list(range(40)) and camera.dropped == 0
    with live.Camera(short_clip, realtime=True) as camera:
        slow = []
        for frame in camera:
            slow.append(frame.index)
            time.sleep(0.1)  # a consumer slower than the camera's 25 fps
    assert camera.dropped > 0 and slow[-1] >= 35 and len(slow) < 25
    assert all(b > a for a, b in zip(slow, slow[1:], strict=False))
    with pytest.raises(InputError, match="not found"):
        live.Camera(Path("missing.mp4"))
    with pytest.raises(InputError, match="camera 99 cannot be opened"):
        live.Camera(99)


def test_a_recording_keeps_the_stream_pace_over_losses(tmp_path):
    sink = live.RecordingSink(tmp_path / "rec.mp4")
    sink.start(Fraction(25), (64, 64))
    for index in (0, 1, 4, 5):
        sink.show(np.full((64, 64, 3), 40 * index, np.uint8), index)
    sink.close()
    assert probe_video(tmp_path / "rec.mp4").frame_count == 6 and sink.held == 2


def test_cli_live_needs_a_source_and_a_sink(tmp_path, image_path, short_clip):
    from click.testing import CliRunner

    from facedyn.cli import main

    photo = image_path("woman_frontal_neutral")
    cases = [(["live", "--photo", photo, "--camera", short_clip], "somewhere for the frames"),
             (["live", "--photo", photo, "-o", tmp_path / "x.mp4"], "give one source"),
             (["send", "--camera", short_clip, "--to", "127.0.0.1:9"], "needs --key"),
             (["send", "--camera", short_clip, "--to", "nowhere", "--key", live.generate_key(tmp_path / "k.txt")],
              "HOST:PORT")]
    for args, message in cases:
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_cli_live_never_records_onto_its_camera_file_or_key(tmp_path, image_path, short_clip):
    from click.testing import CliRunner

    from facedyn.cli import main

    clip = tmp_path / "camera.mp4"
    clip.write_bytes(short_clip.read_bytes())
    key = live.generate_key(tmp_path / "key.txt")
    before = clip.read_bytes(), key.read_bytes()
    photo = str(image_path("woman_frontal_neutral"))
    result = CliRunner().invoke(main, ["live", "--photo", photo, "--camera", str(clip), "-o", str(clip)])
    assert result.exit_code == 2 and "input" in result.output, result.output
    result = CliRunner().invoke(main, ["receive", "--photo", photo, "--listen", "9", "--key", str(key), "-o", str(key)])
    assert result.exit_code == 2, result.output
    assert (clip.read_bytes(), key.read_bytes()) == before


def test_cli_live_from_a_file_camera_records(tmp_path, image_path, short_clip):
    recording = tmp_path / "live.mp4"
    run = subprocess.run([sys.executable, "-m", "facedyn.cli", "live", "--photo", image_path("woman_frontal_neutral"),
                          "--camera", short_clip, "-o", recording, "--size", "256"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "40 frames" in run.stdout
    assert probe_video(recording).frame_count == 40
