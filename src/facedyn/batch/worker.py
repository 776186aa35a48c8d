"""What runs on a batch worker (a local process or a Ray actor): one Animator for the worker's
life, so the models load once, and one job at a time on it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from facedyn.animator import Animator
from facedyn.errors import error_line
from facedyn.jobs import Job, run_job
from facedyn.tracking.facemesh import silence_native_logs


@dataclass(frozen=True)
class WorkerResult:
    """A job's end on the worker: status done or failed, the error line, seconds, frames."""

    status: str
    error: str = ""
    seconds: float = 0.0
    frames: int = 0


class JobWorker:
    """Holds the models; call it with a job (as Job.to_dict) to run the job. For worker
    processes only: MediaPipe's native log lines go to /dev/null (the process's stderr file
    descriptor changes)."""

    def __init__(self) -> None:
        silence_native_logs()
        logging.getLogger("facedyn").setLevel(logging.ERROR)  # per-job notices would bury the progress bar
        self._animator = Animator()

    def __call__(self, job: dict) -> WorkerResult:
        try:
            result = run_job(self._animator, Job.from_dict(job))
        except Exception as exc:  # every failure, bugs too, goes to the report; the batch goes on
            return WorkerResult("failed", error_line(exc))
        return WorkerResult("done", "", result.seconds, result.frames)

    def close(self) -> None:
        self._animator.close()


_worker: JobWorker | None = None


def start_process() -> None:
    """A pool process's initializer: load the models once."""
    global _worker
    _worker = JobWorker()


def run_in_process(job: dict) -> WorkerResult:
    """A pool process's task."""
    if _worker is None:
        start_process()
    return _worker(job)
