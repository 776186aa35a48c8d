"""A batch run: read the jobs, skip the finished, run the rest on workers, report each."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from facedyn.batch.jobsfile import JobRow, read_jobs
from facedyn.batch.report import JobOutcome, Report
from facedyn.batch.worker import WorkerResult
from facedyn.errors import FacedynError, InputError, error_line
from facedyn.io import VIDEO_SUFFIXES
from facedyn.io.files import check_output

REPORT_NAME = "facedyn-batch-report"  # .csv and .json in the output folder


WORKER_MEMORY = 2**30  # a worker's peak with a 2048-pixel paste-back is about 0.8 GB


def default_workers() -> int:
    """One worker per core, as far as memory allows one GB each. Each animation already keeps
    about two threads busy, yet on 2 cores 2 workers ran 40 jobs 25 % faster than 1
    (bench/bench_batch.py): one worker's start of a job (photo, models' first frames) fills
    the other's gaps."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 2 * WORKER_MEMORY
    return max(1, min(os.cpu_count() or 1, memory // WORKER_MEMORY))


def run_batch(jobs_file: str | Path, out_dir: str | Path, workers: int | None = None, ray: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> Report:
    """Run every job of a jobs file; a failing job is reported and the batch goes on.

    Args:
        jobs_file: CSV with a header or JSON Lines (see facedyn.batch.jobsfile).
        out_dir: where relative outputs and the report (facedyn-batch-report.csv/.json) go;
            created if missing.
        workers: worker processes (or Ray actors); default: default_workers() locally, one
            per cluster CPU on Ray.
        ray: None for a local process pool; "auto" or a cluster address for Ray.
        progress: called as progress(jobs ended, jobs) after each job.

    Returns:
        The report; each job is done, skipped (its output already existed: a re-run resumes)
        or failed, with its error line.

    Raises:
        InputError: an unreadable jobs file, an output folder that cannot be made, or
            workers < 1.
    """
    if workers is not None and workers < 1:
        raise InputError(f"workers must be 1 or more, got {workers}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from None
    rows = read_jobs(jobs_file, out_dir)
    report = Report(out_dir / REPORT_NAME)
    pending = _plan(rows, out_dir, report)
    ended = len(report.outcomes)
    if progress is not None:
        progress(ended, len(rows))
    try:
        for key, result in _execute(pending, workers, ray):
            report.add(_outcome(pending[key][0], result))
            ended += 1
            if progress is not None:
                progress(ended, len(rows))
    finally:
        report.flush()
    return report


def _plan(rows: list[JobRow], out_dir: Path, report: Report) -> dict[str, tuple[JobRow, dict]]:
    """The jobs to run ({key: (row, Job.to_dict())}); unreadable rows, repeated outputs and
    finished jobs go straight to the report."""
    pending, owners = {}, {}
    for row in rows:
        if row.job is None:
            report.add(_outcome(row, WorkerResult("failed", row.error or "")))
            continue
        output = row.job.output.resolve()
        if output in owners:
            report.add(_outcome(row, WorkerResult("failed", f"the output {row.job.output} is also line {owners[output]}'s; "
                                                           "give each job its own output")))
            continue
        owners[output] = row.line
        if output.is_relative_to(out_dir.resolve()):
            output.parent.mkdir(parents=True, exist_ok=True)  # sub-folders of the output folder are made
        try:  # before "exists, so done": an output that is an input must fail, not pass as finished
            check_output(row.job.output, VIDEO_SUFFIXES, (row.job.photo, Path(row.job.driver)))
        except FacedynError as exc:
            report.add(_outcome(row, WorkerResult("failed", error_line(exc))))
            continue
        if output.exists():
            report.add(_outcome(row, WorkerResult("skipped", "the output exists (delete it to run this job again)")))
            continue
        pending[f"line {row.line}"] = (row, row.job.to_dict())
    return pending


def _execute(pending: dict, workers: int | None, ray: str | None):
    jobs = {key: job for key, (_, job) in pending.items()}
    if not jobs:
        return iter(())
    if ray is not None:
        from facedyn.batch.cluster import run_ray

        return run_ray(jobs, ray, workers)
    from facedyn.batch.local import run_local

    return run_local(jobs, min(workers or default_workers(), len(jobs)))


def _outcome(row: JobRow, result: WorkerResult) -> JobOutcome:
    return JobOutcome(f"line {row.line}", result.status, result.error, round(result.seconds, 3), result.frames,
                      row.fields.get("photo", ""), row.fields.get("driver", ""), row.fields.get("output", ""))
