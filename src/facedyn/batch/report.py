"""The batch report: one row per job (done, skipped or failed, with the error line), written
as CSV and JSON beside each other, atomically, while the batch runs."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from facedyn.io.files import write_atomic

STATUSES = ("done", "skipped", "failed")
COLUMNS = ("job", "status", "error", "seconds", "frames", "photo", "driver", "output")


@dataclass(frozen=True)
class JobOutcome:
    """How one job ended.

    job: "line N" of the jobs file; status: done, skipped (its output already existed) or
    failed; error: the one-line reason of a failure; seconds: its run time on the worker;
    frames: frames written.
    """

    job: str
    status: str
    error: str = ""
    seconds: float = 0.0
    frames: int = 0
    photo: str = ""
    driver: str = ""
    output: str = ""

    @property
    def line(self) -> int:
        """The job's line in the jobs file."""
        return int(self.job.removeprefix("line "))


class Report:
    """The outcomes so far, written to `path`.csv and `path`.json at most every `every` seconds
    and on `flush()`, so an interrupted batch still leaves its report."""

    def __init__(self, path: Path, every: float = 2.0) -> None:
        self.path, self.every = Path(path), every
        self.outcomes: list[JobOutcome] = []
        self._written = 0.0

    @property
    def csv_path(self) -> Path:
        return self.path.with_suffix(".csv")

    @property
    def json_path(self) -> Path:
        return self.path.with_suffix(".json")

    def add(self, outcome: JobOutcome) -> None:
        self.outcomes.append(outcome)
        if time.monotonic() - self._written >= self.every:
            self.flush()

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def in_file_order(self) -> list[JobOutcome]:
        return sorted(self.outcomes, key=lambda o: o.line)

    def flush(self) -> None:
        rows = self.in_file_order()
        write_atomic(self.csv_path, lambda tmp: _write_csv(tmp, rows))
        summary = {status: self.count(status) for status in STATUSES}
        document = {"summary": summary, "jobs": [asdict(o) for o in rows]}
        write_atomic(self.json_path, lambda tmp: tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8"))
        self._written = time.monotonic()


def _write_csv(path: Path, rows: list[JobOutcome]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for outcome in rows:
            row = asdict(outcome)
            row["seconds"] = f"{outcome.seconds:.2f}"
            writer.writerow(row)
