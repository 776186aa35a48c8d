"""facedyn batch: jobs files, a batch with bad rows, resuming, a dying worker, Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from facedyn.batch import REPORT_NAME, read_jobs, run_batch
from facedyn.batch.local import CRASHED, run_local
from facedyn.batch.worker import WorkerResult
from facedyn.errors import InputError
from facedyn.io import probe_video


def _jobs_csv(tmp_path, testdata, extra_rows=()):
    """Three good jobs (expression, imagine, a video) and `extra_rows`."""
    images, videos = testdata / "images", testdata / "videos"
    rows = ["photo,driver,output,size,output-size,mouth",
            f"{images / 'woman_sad.jpg'},expression:smile:1s,smile.mp4,256,256,",
            f"{images / 'mona_lisa_painting.jpg'},imagine:1s:2,sub/mona.mp4,256,256,1.5",
            f"{images / 'man_glasses_beard_smile.jpg'},{videos / 'woman_smile_happy.mp4'},video.mp4,256,256,",
            *extra_rows]
    path = tmp_path / "jobs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


BAD_ROWS = ("missing.jpg,expression:smile,a.mp4,,,",  # no such photo (relative to the jobs file)
            "{photo},expression:grin,b.mp4,,,",  # unknown expression
            "{photo},expression:smile,c.mp4,,,loud")  # a bad option value


def test_a_batch_with_bad_rows_writes_the_good_and_reports_the_bad(tmp_path, testdata):
    photo = testdata / "images" / "woman_sad.jpg"
    jobs = _jobs_csv(tmp_path, testdata, [row.format(photo=photo) for row in BAD_ROWS])
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "facedyn.cli", "batch", str(jobs), "-o", str(out), "--workers", "2"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stderr
    assert "3 done, 0 skipped (already there), 3 failed" in run.stdout
    for name, frames in (("smile.mp4", 25), ("sub/mona.mp4", 25), ("video.mp4", None)):
        info = probe_video(out / name)
        assert max(info.width, info.height) == 256 and info.frame_count == (frames or info.frame_count) > 20
    report = json.loads((out / f"{REPORT_NAME}.json").read_text())
    assert report["summary"] == {"done": 3, "skipped": 0, "failed": 3}
    failed = {j["job"]: j["error"] for j in report["jobs"] if j["status"] == "failed"}
    assert list(failed) == ["line 5", "line 6", "line 7"]
    assert "image not found" in failed["line 5"] and str(tmp_path / "missing.jpg") in failed["line 5"]
    assert "unknown expression 'grin'" in failed["line 6"]
    assert "option 'mouth' must be a number, got 'loud'" in failed["line 7"]
    for line, error in failed.items():
        assert f"jobs.csv {line}: {error}" in run.stderr
    csv_rows = (out / f"{REPORT_NAME}.csv").read_text().splitlines()
    assert csv_rows[0] == "job,status,error,seconds,frames,photo,driver,output" and len(csv_rows) == 7
    assert not [p for p in out.rglob("*.tmp")]  # nothing half-written


def test_a_rerun_skips_finished_outputs(tmp_path, testdata):
    jobs = _jobs_csv(tmp_path, testdata)
    out = tmp_path / "out"
    out.mkdir()
    (out / "smile.mp4").write_bytes(b"finished before")  # as a previous run would have left it
    seen = []
    report = run_batch(jobs, out, workers=1, progress=lambda done, total: seen.append((done, total)))
    assert [report.count(s) for s in ("done", "skipped", "failed")] == [2, 1, 0]
    assert (out / "smile.mp4").read_bytes() == b"finished before"
    assert seen[0] == (1, 3) and seen[-1] == (3, 3)
    again = run_batch(jobs, out, workers=1)
    assert [again.count(s) for s in ("done", "skipped", "failed")] == [0, 3, 0]


def test_json_lines_and_repeated_outputs(tmp_path, testdata):
    photo = str(testdata / "images" / "woman_sad.jpg")
    lines = [json.dumps({"photo": photo, "driver": "expression:smile:0.5s", "output": "a.mp4", "size": 256}),
             "not json",
             json.dumps([1, 2]),
             json.dumps({"photo": photo, "driver": "imagine:1s", "output": "a.mp4"}),
             json.dumps({"photo": photo, "output": "b.mp4"})]
    (tmp_path / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    rows = read_jobs(tmp_path / "jobs.jsonl", tmp_path / "out")
    assert [r.line for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].job.options.size == 256 and rows[0].job.output == tmp_path / "out" / "a.mp4"
    assert "not valid JSON" in rows[1].error and "a JSON object per line" in rows[2].error
    assert "missing driver" in rows[4].error
    report = run_batch(tmp_path / "jobs.jsonl", tmp_path / "out", workers=1)
    errors = {o.job: o.error for o in report.outcomes if o.status == "failed"}
    assert set(errors) == {"line 2", "line 3", "line 4", "line 5"} and "also line 1's" in errors["line 4"]


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("photo,output\nx.jpg,y.mp4\n", "has no driver column"),
])
def test_unusable_jobs_files_fail_at_once(tmp_path, text, message):
    path = tmp_path / "jobs.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        run_batch(path, tmp_path / "out")
    with pytest.raises(InputError, match="not found"):
        run_batch(tmp_path / "nope.csv", tmp_path / "out")


def _dies_on_b(job: dict) -> WorkerResult:
    if job["output"] == "b":
        os._exit(9)  # as a worker killed for memory would
    return WorkerResult("done", frames=1)


def _nothing() -> None:
    return None


def test_a_dying_worker_fails_only_its_job(tmp_path):
    jobs = {k: {"output": k} for k in "abcde"}
    results = dict(run_local(jobs, 2, task=_dies_on_b, initializer=_nothing))
    assert set(results) == set("abcde")
    assert results["b"] == WorkerResult("failed", CRASHED)
    assert all(results[k].status == "done" for k in "acde")


def test_batch_on_ray(tmp_path, testdata):
    ray = pytest.importorskip("ray", reason="Ray is an extra: make ray (pip install 'facedyn[ray]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    jobs = _jobs_csv(tmp_path, testdata, ["missing.jpg,expression:smile,a.mp4,,,"])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        report = run_batch(jobs, tmp_path / "out", workers=2, ray="auto")
    finally:
        ray.shutdown()
    assert [report.count(s) for s in ("done", "skipped", "failed")] == [3, 0, 1]
    assert probe_video(tmp_path / "out" / "sub" / "mona.mp4").frame_count == 25


def test_an_output_onto_an_input_fails_rather_than_counting_as_done(tmp_path, testdata):
    video = testdata / "videos" / "woman_smile_happy.mp4"
    before = video.stat().st_mtime_ns
    (tmp_path / "jobs.csv").write_text(f"photo,driver,output\n{testdata / 'images' / 'woman_sad.jpg'},{video},{video}\n")
    report = run_batch(tmp_path / "jobs.csv", tmp_path / "out", workers=1)
    [outcome] = report.outcomes
    assert outcome.status == "failed" and "is the input" in outcome.error
    assert video.stat().st_mtime_ns == before
