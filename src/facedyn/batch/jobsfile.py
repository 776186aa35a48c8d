"""Reading a jobs file: CSV with a header, or JSON Lines, one job per row.

Columns: `photo`, `driver`, `output`, then any of the CLI's long options by name (see
facedyn.jobs.JobOptions). Relative photo and driver paths are relative to the jobs file,
outputs relative to the output folder. A row that cannot be read is kept with its error, so
the batch reports it and goes on.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from facedyn.errors import FacedynError, InputError, error_line
from facedyn.io.files import existing_file
from facedyn.jobs import Job

MAX_JOBS_FILE_BYTES = 64 * 2**20  # a million jobs fit; anything larger is not a jobs file
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class JobRow:
    """One row of a jobs file: the job, or why it could not be read.

    line: the row's line in the file (1 = the first line), which names the job in reports.
    fields: the row's photo, driver and output as written (for the report).
    """

    line: int
    fields: dict[str, str]
    job: Job | None
    error: str | None = None


def read_jobs(path: str | Path, out_dir: str | Path) -> list[JobRow]:
    """Every row of the jobs file at `path`.

    Raises:
        InputError: the file is missing, unreadable, too large, not UTF-8, or has no
            photo/driver/output header (a bad row only marks that row).
    """
    path = existing_file(path, "jobs file", "a CSV file with a header or a JSON Lines file")
    if path.stat().st_size > MAX_JOBS_FILE_BYTES:
        raise InputError(f"{path.name} is larger than {MAX_JOBS_FILE_BYTES // 2**20} MB; split it into several jobs files")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text; save the jobs file as UTF-8 CSV or JSON Lines") from None
    base, out_dir = path.parent, Path(out_dir)
    rows = _json_lines(text, path.name) if _is_json_lines(path, text) else _csv_rows(text, path.name)
    return [_job_row(line, values, base, out_dir) for line, values in rows]


def _is_json_lines(path: Path, text: str) -> bool:
    return path.suffix.lower() in JSON_SUFFIXES or text.lstrip().startswith("{")


def _csv_rows(text: str, name: str) -> list[tuple[int, dict | str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise InputError(f"{name} is empty; a jobs file needs a header row: photo,driver,output[,option...]")
        header = [cell.strip() for cell in header]
        missing = [c for c in ("photo", "driver", "output") if c not in header]
        if missing:
            raise InputError(f"{name}'s header has no {', '.join(missing)} column; it needs photo,driver,output "
                             f"and options by name, got {','.join(header)[:200]!r}")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                rows.append((reader.line_num, f"{len(cells)} cells but the header has {len(header)} columns"))
                continue
            rows.append((reader.line_num, dict(zip(header, cells, strict=False))))
        return rows
    except csv.Error as exc:
        raise InputError(f"{name} is not a readable CSV file: line {reader.line_num}: {exc}") from None


def _json_lines(text: str, name: str) -> list[tuple[int, dict | str]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            rows.append((line, f"not valid JSON: {str(exc)[:120]}"))
            continue
        if not isinstance(value, dict):
            rows.append((line, f"expected a JSON object per line, got {type(value).__name__}"))
            continue
        rows.append((line, {str(k): v for k, v in value.items()}))
    return rows


def _job_row(line: int, values: dict | str, base: Path, out_dir: Path) -> JobRow:
    if isinstance(values, str):
        return JobRow(line, {}, None, values)
    fields = {k: str(values.get(k) if values.get(k) is not None else "") for k in ("photo", "driver", "output")}
    try:
        return JobRow(line, fields, Job.from_strings(values, base, out_dir))
    except FacedynError as exc:
        return JobRow(line, fields, None, error_line(exc))
