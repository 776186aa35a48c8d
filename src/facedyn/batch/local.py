"""Running jobs on a local process pool: one process per worker, each loading the models once.

A worker that dies (killed for memory, a crash in native code) takes no other job down: the
jobs in flight when the pool broke run again, each in a process of its own, and the one
whose process dies again fails.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from facedyn.batch.worker import WorkerResult, run_in_process, start_process

CRASHED = "the worker process stopped while running this job (out of memory, or a crash in native code)"


def run_local(jobs: dict[str, dict], workers: int, task: Callable[[dict], WorkerResult] = run_in_process,
              initializer: Callable[[], None] = start_process) -> Iterator[tuple[str, WorkerResult]]:
    """Run `jobs` ({key: Job.to_dict()}) on `workers` processes; yields (key, result) as each
    ends, in the order they end. At most 2 jobs per worker are queued at once.

    Args:
        task, initializer: what each process runs per job and once at its start (module-level
            functions: the processes are spawned).
    """
    queue = list(jobs.items())[::-1]  # popped from the end: file order
    while queue:
        with _pool(workers, initializer) as pool:
            suspects = yield from _drain(pool, queue, workers * 2, task)
        for key in suspects:  # which of them killed the worker is unknown: each runs again alone
            yield key, _alone(jobs[key], task, initializer)


def _pool(workers: int, initializer: Callable[[], None]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer)


def _alone(job: dict, task: Callable[[dict], WorkerResult], initializer: Callable[[], None]) -> WorkerResult:
    """`job` in a process of its own: if that process dies too, the job is the one at fault."""
    with _pool(1, initializer) as pool:
        try:
            return pool.submit(task, job).result()
        except BrokenProcessPool:
            return WorkerResult("failed", CRASHED)


def _finished_or_suspect(running: dict[Future, str]) -> Iterator[tuple[str, WorkerResult]]:
    """After the pool broke: yields the jobs that did finish; returns the keys of the rest."""
    suspects = []
    for future, key in running.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            yield key, future.result()
        else:
            suspects.append(key)
    return suspects


def _drain(pool: ProcessPoolExecutor, queue: list, depth: int, task: Callable) -> Iterator[tuple[str, WorkerResult]]:
    """Feed `pool` from `queue` until both are empty; returns the keys in flight if the pool broke."""
    running: dict[Future, str] = {}
    try:
        while queue or running:
            while queue and len(running) < depth:
                key, job = queue.pop()
                running[pool.submit(task, job)] = key
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                try:
                    yield key, future.result()
                except BrokenProcessPool:
                    running[future] = key
                    return (yield from _finished_or_suspect(running))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return []
