"""facedyn eval codec: pixel codecs round trip, where a codec's curve meets a target, the report."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from facedyn.eval import ratedistortion as rd
from facedyn.eval.protocols import ClipResult


def test_bitrate_to_match_interpolates_on_a_log_axis():
    curve = [(8.0, 10.0), (16.0, 4.0), (32.0, 1.0)]
    assert rd.bitrate_to_match(curve, 4.0) == pytest.approx(16.0)
    assert rd.bitrate_to_match(curve, 2.5) == pytest.approx(math.exp((math.log(16) + math.log(32)) / 2))
    assert rd.bitrate_to_match(curve, 20.0) == 8.0  # met from its lowest rate
    assert math.isnan(rd.bitrate_to_match(curve, 0.5))  # never met


@pytest.mark.parametrize("codec", list(rd.PIXEL_CODECS))
def test_pixel_codecs_round_trip_at_their_rate(codec):
    rng = np.random.default_rng(0)
    base = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    frames = [np.roll(np.kron(base, np.ones((4, 4, 1), np.uint8)), k, axis=1) for k in range(30)]
    low, low_kbps = rd.pixel_round_trip(frames, 25, codec, 16000, 64)
    high, high_kbps = rd.pixel_round_trip(frames, 25, codec, 400000, 64)
    assert len(low) == len(frames) and low[0].shape == frames[0].shape
    assert low_kbps < high_kbps
    error = [np.abs(out.astype(float) - frames[10]).mean() for out in (low[10], high[10])]
    assert error[1] < error[0]


def _policies() -> set[int]:
    return {os.sched_getscheduler(int(tid)) for tid in os.listdir("/proc/self/task")}


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="no scheduling policies on this OS")
def test_encoding_leaves_every_thread_on_the_ordinary_scheduler():
    """SVT-AV1 run as root moves its caller to SCHED_FIFO at top priority (a CI run hung on
    it); run as another user it cannot, and the first check then shows nothing."""
    before = _policies()
    frames = [np.full((64, 64, 3), 40 * k, np.uint8) for k in range(6)]
    rd.pixel_round_trip(frames, 25, "av1", 16000, 64)
    assert _policies() == before
    if os.geteuid() == 0:
        with rd.ordinary_scheduling():
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        assert _policies() == before


def _summary_results() -> list[ClipResult]:
    metrics = {"facedyn-uncompressed": {"kbps": np.nan, "akd_mesh": 2.0, "emotion_distance": 0.20}}
    for kbps, akd in ((0.5, 2.3), (1.0, 2.1), (2.0, 2.05)):
        metrics[f"facedyn-{int(kbps * 1000)}"] = {"kbps": kbps, "akd_mesh": akd, "emotion_distance": 0.21}
    for kbps, akd, emo in ((10, 8.0, 0.6), (20, 4.0, 0.4), (40, 1.5, 0.15), (80, 1.0, 0.1)):
        metrics[f"h264-256-{kbps * 1000}"] = {"kbps": kbps, "akd_mesh": akd, "emotion_distance": emo}
    return [ClipResult("a", 10, {m: dict(v) for m, v in metrics.items()}), ClipResult("b", error="no face")]


def test_match_table_says_how_many_more_bits_a_pixel_codec_needs():
    summary = rd.summarize_methods(_summary_results())
    (row,) = rd.match_table(summary)
    assert row["codec"] == "h264-256"
    assert 20 < row["akd_mesh"] < 40 and row["akd_mesh_factor"] == pytest.approx(row["akd_mesh"] / 1.0)
    assert rd.sheet_columns(summary) == ["facedyn-500", "h264-256-10000", "h264-256-10000"]


def test_codec_report_has_table_plots_and_failures(tmp_path):
    report = rd.write_codec_report(tmp_path, _summary_results(), {"max_frames": 10})
    text = report.read_text()
    assert "| facedyn-1000 |" in text and "| h264-256 |" in text and "- b: no face" in text
    assert (tmp_path / "rd_akd_mesh.png").stat().st_size > 1000 and (tmp_path / "report.json").exists()
