"""Batch runs: a jobs file (CSV or JSON Lines) rendered on a local process pool or on Ray.

    from facedyn.batch import run_batch
    report = run_batch("jobs.csv", "out/", workers=2)          # or ray="auto"
    print(report.count("done"), report.count("failed"))
"""

from facedyn.batch.jobsfile import JobRow, read_jobs
from facedyn.batch.report import JobOutcome, Report
from facedyn.batch.runner import REPORT_NAME, default_workers, run_batch

__all__ = ["REPORT_NAME", "JobOutcome", "JobRow", "Report", "default_workers", "read_jobs", "run_batch"]
