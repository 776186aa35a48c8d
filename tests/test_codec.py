"""The dynamics codec: round trips within the quantiser's bound, streams in any chunks, loss
and damage, rate control, files and the CLI; the decoder fuzzed."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facedyn import codec, drivers
from facedyn.cli import main
from facedyn.codec import bitstream as B
from facedyn.codec import quantiser as Q
from facedyn.codec.distortion import mesh_distance, posed_vertices
from facedyn.codec.files import FITTED_STRIDES
from facedyn.drivers.parametric import COEFFICIENTS, OPENING_VALUES, PARAMETERS, shared_rig
from facedyn.errors import InputError
from facedyn.io import probe_video
from facedyn.rig.blendshapes import RIG_VERSION
from facedyn.tracking import topology as T

DATA = Path(__file__).parent / "data"


def _values(seconds: float = 6.0, fps: int = 25, seed: int = 2) -> np.ndarray:
    """(N, 62) lively values: imagine's motion with openings that blink and speak."""
    rows = drivers.imagine(seconds, seed=seed, style="lively", fps=fps).rows()
    t = np.arange(len(rows)) / fps
    eyes, lips, width = (PARAMETERS.index(name) for name in ("eyeOpenRight", "lipGap", "mouthWidth"))
    rows[:, eyes] = rows[:, eyes + 1] = np.where((t % 2.3) < 0.12, 0.05, 1.0)
    rows[:, lips] = 0.04 * np.abs(np.sin(5 * t))
    rows[:, width] = 1.0 - 0.1 * np.abs(np.sin(3 * t))
    return rows


def _encode(values: np.ndarray, fps: float = 25, **config) -> tuple[bytes, codec.Encoder]:
    encoder = codec.Encoder(fps, config=codec.CodecConfig(**config), frame_count=len(values))
    return b"".join(encoder.push_values(v) for v in values) + encoder.flush(), encoder


def _decode(data: bytes, strict: bool = True, chunk: int | None = None) -> tuple[list, codec.Decoder]:
    decoder = codec.Decoder(strict)
    chunks = [data] if chunk is None else [data[k: k + chunk] for k in range(0, len(data), chunk)]
    frames = [f for c in chunks for f in decoder.feed(c)]
    return frames + decoder.finish(), decoder


@pytest.mark.parametrize("quality", [0, 32, 63])
def test_round_trip_within_one_step(quality):
    values = _values()
    data, encoder = _encode(values, quality=quality)
    frames, decoder = _decode(data)
    assert [f.index for f in frames] == list(range(len(values)))
    decoded = np.array([f.values for f in frames])
    step = Q.steps(decoder.header.base_steps, quality)
    assert (np.abs(decoded - np.clip(values, Q.LOW, Q.HIGH)) <= step * (1 + 1e-9)).all()


def test_version_1_streams_still_decode(tmp_path):
    """A stream written by facedyn before version 2 (equal steps within a group, a change model
    per parameter) decodes to the values it decoded to then."""
    data = (DATA / "stream_v1.fdyn").read_bytes()
    frames, decoder = _decode(data)
    assert decoder.header.version == 1 and decoder.header.stride == 2
    expected = np.load(DATA / "stream_v1_decoded.npz")["values"]
    np.testing.assert_array_equal(np.array([f.values for f in frames]), expected)
    path = tmp_path / "old.fdyn"
    path.write_bytes(data)
    assert codec.stream_info(path)["format"] == "facedyn dynamics stream, version 1"


def test_written_streams_are_version_2_with_coarser_steps_for_coefficients_that_move_little():
    data, encoder = _encode(_values(1.0))
    assert B.Header.parse(data)[0].version == B.VERSION == 2
    step = Q.steps(encoder.header.base_steps, Q.QUALITY_UNITY)
    jaw_open, roll_lower = PARAMETERS.index("jawOpen"), PARAMETERS.index("mouthRollLower")
    assert step[jaw_open] < Q.GROUPS[2].step < step[roll_lower]
    version_1 = Q.steps(encoder.header.base_steps, Q.QUALITY_UNITY + 8, version=1)  # one group, one step
    np.testing.assert_allclose(version_1[Q.GROUP_MEMBERS[2]], 2 * encoder.header.base_steps[2])


def test_step_shifts_follow_the_rig():
    """The format's table is the documented rule applied to this rig version's basis."""
    basis = shared_rig().basis  # (52, 478, 3) face heights per unit coefficient
    moved = np.linalg.norm(basis[..., :2], axis=-1).mean(1)
    rule = np.round(8 * np.log2(np.clip(np.sqrt(Q.SHIFT_REFERENCE / np.maximum(moved, 1e-12)), 0.25, 4)))
    assert RIG_VERSION == 1, "a new rig version needs its own step shift table"
    np.testing.assert_array_equal(Q.STEP_SHIFTS, rule.astype(int))


def test_stride_interpolates_every_frame_and_codes_fewer_bits():
    values = _values()
    whole, full = _encode(values, quality=40)
    half, strided = _encode(values, quality=40, stride=2)
    frames, decoder = _decode(half)
    assert [f.index for f in frames] == list(range(len(values))) and decoder.header.stride == 2
    assert strided.dynamics_bytes < 0.9 * full.dynamics_bytes
    decoded = np.array([f.values for f in frames])
    step = Q.steps(decoder.header.base_steps, 40)
    assert (np.abs(decoded[::2] - values[::2]) <= step * (1 + 1e-9)).all()  # the coded ones


def test_any_chunking_decodes_the_same():
    data, _ = _encode(_values(3.0), packet_frames=3)
    whole = np.array([f.values for f in _decode(data)[0]])
    for chunk in (1, 7, 1000):
        assert np.array_equal(np.array([f.values for f in _decode(data, chunk=chunk)[0]]), whole)


def _packets(data: bytes) -> tuple[bytes, list[bytes]]:
    header = B.Header.parse(data)[1]
    out, offset = [], header
    while offset < len(data):
        end = B.Packet.parse(data, offset)[1]
        out.append(data[offset:end])
        offset = end
    return data[:header], out


def test_a_file_has_one_packet_per_key_interval():
    """Packet headers cost bits: without packet_frames, a packet runs to the next key packet
    (and at most 255 frames)."""
    data, _ = _encode(_values(9.0), key_seconds=4.0)
    counts = [B.Packet.parse(packet, 0)[0].count for packet in _packets(data)[1]]
    assert counts == [100, 100, 25]
    data, _ = _encode(_values(22.0), key_seconds=20.0)
    assert [B.Packet.parse(packet, 0)[0].count for packet in _packets(data)[1]] == [255, 245, 50]


def test_a_lost_packet_skips_to_the_next_key_packet(caplog):
    data, encoder = _encode(_values(9.0), packet_frames=5, key_seconds=2.0)
    header, packets = _packets(data)
    lost = b"".join([header, *packets[:3], *packets[4:]])  # packet 3 is predicted (keys every 10 packets)
    frames, decoder = _decode(lost, strict=False)
    indices = [f.index for f in frames]
    assert decoder.skipped == 6 and "skipping to the next key packet" in caplog.text
    assert indices == list(range(15)) + list(range(50, len(_values(9.0))))
    with pytest.raises(codec.StreamError, match="missing or out of order"):
        _decode(lost)
    reordered = b"".join([header, packets[0], packets[2], packets[1], *packets[3:]])
    with pytest.raises(codec.StreamError, match="missing or out of order"):
        _decode(reordered)


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-3], "truncated"),
    (lambda d: d[:20], "truncated: it ends inside its header"),
    (lambda d: d[:100] + bytes([d[100] ^ 0x40]) + d[101:], "damaged"),
    (lambda d: d[:4] + b"\x03" + d[5:], "version 3; this facedyn reads versions 1 and 2"),
    (lambda d: b"RIFF" + d[4:], "not a facedyn dynamics stream"),
])
def test_damaged_files_fail_in_one_line(tmp_path, damage, message):
    data, _ = _encode(_values(3.0))
    path = tmp_path / "x.fdyn"
    path.write_bytes(damage(data))
    with pytest.raises(InputError, match=message) as caught:
        codec.read_stream(path)
    assert "\n" not in str(caught.value) and "x.fdyn" in str(caught.value)


def test_an_unreachable_bitrate_gets_the_fewest_bits():
    values = _values(10.0)
    config = codec.files.fit_bitrate(values, 25, 20, codec.CodecConfig())
    rates = {stride: _encode(values, quality=63, stride=stride)[1].dynamics_bytes for stride in FITTED_STRIDES}
    assert config.quality == 63 and rates[config.stride] == min(rates.values())


@pytest.mark.parametrize("bitrate", [1000, 4000])
def test_rate_control_finds_the_least_distortion_within_the_budget(bitrate):
    """No quality and stride on a grid that keeps within the budget decodes closer to the
    original than the ones rate control picks. The values jitter as tracked ones do (a fixed
    stride penalty picked stride 3 here, 2.5 to 6 times as far off as stride 1)."""
    values, seconds, rng = _values(8.0), 8.0, np.random.default_rng(0)
    values[:, :3] += rng.normal(0, 0.3, (len(values), 3))  # degrees
    values[:, 3:5] += rng.normal(0, 0.002, (len(values), 2))  # face heights
    values[:, COEFFICIENTS] = np.clip(values[:, COEFFICIENTS] + rng.normal(0, 0.03, (len(values), 52)), 0, 1)

    def outcome(quality: int, stride: int) -> tuple[float, float]:
        data, encoder = _encode(values, quality=quality, stride=stride)
        decoded = np.array([f.values for f in _decode(data)[0]])
        return 8 * encoder.dynamics_bytes / seconds, mesh_distance(values, decoded)

    config = codec.files.fit_bitrate(values, 25, bitrate, codec.CodecConfig())
    rate, chosen = outcome(config.quality, config.stride)
    assert rate <= bitrate
    grid = [outcome(q, s) for q in range(0, Q.QUALITY_MAX + 1, 4) for s in FITTED_STRIDES]
    within = [distance for rate, distance in grid if rate <= bitrate]
    assert within and chosen <= 1.02 * min(within)


def test_mesh_distance_measures_face_heights():
    values = _values(1.0)
    moved = values.copy()
    moved[:, PARAMETERS.index("tx")] += 0.01
    assert mesh_distance(values, values) == 0.0
    assert mesh_distance(values, moved) == pytest.approx(0.01)
    turned = values.copy()
    turned[:, PARAMETERS.index("yaw")] += 2.0
    assert 0.001 < mesh_distance(values, turned) < 0.02  # a face height's head turned by 2 degrees
    with pytest.raises(ValueError, match=r"expected \(N, 62\) values, got \(25, 61\)"):
        posed_vertices(values[:, :61])


def test_stream_rate_control_follows_the_bitrate():
    values = _values(40.0)
    for bitrate in (400, 1500):
        _, encoder = _encode(values, bitrate=bitrate, key_seconds=2.0)
        rate = 8 * encoder.dynamics_bytes / 40.0
        assert 0.6 * bitrate < rate < 1.4 * bitrate, (bitrate, rate)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_streams_never_crash_the_decoder(data):
    """Mutated, truncated and spliced streams: strict decoding raises StreamError only, live
    decoding skips and goes on; every value that comes out is in range."""
    stream, _ = _encode(_values(2.0, seed=data.draw(st.integers(0, 3))), packet_frames=data.draw(st.integers(1, 30)))
    raw = bytearray(stream)
    for _ in range(data.draw(st.integers(0, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip":
            raw[position] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[position: position + data.draw(st.integers(1, 40))]
        else:
            raw[position:position] = data.draw(st.binary(max_size=40))
        if not raw:
            raw = bytearray(b"F")
    for strict in (True, False):
        try:
            frames, _ = _decode(bytes(raw), strict=strict, chunk=data.draw(st.integers(1, 64)))
        except codec.StreamError:
            continue
        for frame in frames:
            assert frame.values.shape == (len(PARAMETERS),)
            assert ((frame.values >= Q.LOW) & (frame.values <= Q.HIGH)).all()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_cleanly(blob):
    for strict in (True, False):
        try:
            _decode(b"FDYN" + blob, strict=strict)
        except codec.StreamError:
            pass


# -- real faces ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def speaker(animator, video_path):
    """A speaking clip's dynamics as values, with its reference (the first frame)."""
    motion = drivers.video(video_path("man_speaking_outdoors")).open(animator.tracker)
    return motion.fps, codec.files.motion_values(motion)


def test_one_kilobit_keeps_the_mouth_and_eyes(speaker):
    """At 1 kbit/s, the decoded eye and lip openings follow the uncompressed ones."""
    fps, values = speaker
    config = codec.files.fit_bitrate(values, fps, 1000, codec.CodecConfig())
    data, encoder = codec.files.encode_values(values, fps, config)
    assert 8 * encoder.dynamics_bytes / (len(values) / float(fps)) <= 1000
    decoded = np.array([f.values for f in _decode(data)[0]])
    for k in range(OPENING_VALUES.start, OPENING_VALUES.stop):
        assert np.corrcoef(decoded[:, k], values[:, k])[0, 1] > 0.9, PARAMETERS[k]


def test_cli_encode_info_decode(tmp_path, image_path, video_path):
    video = video_path("man_speaking_outdoors")
    stream, out, motion = tmp_path / "s.fdyn", tmp_path / "o.mp4", tmp_path / "m.json"
    runner = CliRunner()
    result = runner.invoke(main, ["encode", str(video), "-o", str(stream), "--bitrate", "800", "--audio", "opus:12k"])
    assert result.exit_code == 0, result.output
    info = runner.invoke(main, ["info", str(stream)])
    assert info.exit_code == 0 and "frames:          175" in info.output and "Opus 48000 Hz" in info.output
    result = runner.invoke(main, ["decode", str(stream), "--photo", str(image_path("woman_frontal_neutral")),
                                  "-o", str(out), "--output-size", "256"])
    assert result.exit_code == 0, result.output
    written = probe_video(out)
    assert written.frame_count == 175 and written.has_audio
    result = runner.invoke(main, ["decode", str(stream), "--motion-out", str(motion)])
    assert result.exit_code == 0 and len(drivers.motion(motion)) == 175
    not_a_photo = ["decode", str(stream), "--photo", str(video), "-o", str(tmp_path / "s.mp4")]
    for args, message in ((not_a_photo, "use a JPEG or PNG photo"),
                          (["decode", str(stream)], "give --photo and -o VIDEO, or --motion-out"),
                          (["encode", str(video), "-o", str(tmp_path / "x.fdyn"), "--audio", "mp3"], "opus:12k"),
                          (["info", str(video)], "not a facedyn dynamics stream")):
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_decoded_stream_opens_and_closes_the_mouth(animator, image_path, speaker):
    """The photo's rendered geometry follows the decoded lip gap down to closed lips."""
    fps, values = speaker
    data, _ = codec.files.encode_values(values, fps, codec.CodecConfig(quality=48, stride=2))
    decoded = np.array([f.values for f in _decode(data)[0]])
    track = drivers.MotionTrack.from_rows(float(fps), decoded)
    animation = animator.animate(animator.load_source(image_path("woman_frontal_neutral")), track)
    mouth = [T.mouth_opening(animation.retargeter(f.dynamics)[0]) for f in itertools.islice(animation.motion.frames, 175)]
    gap = decoded[: len(mouth), PARAMETERS.index("lipGap")]
    assert np.corrcoef(mouth, gap)[0, 1] > 0.95
