"""Running jobs on a local process pool: one process per worker, each loading the models once.

A worker that dies (killed for memory, a crash in native code) takes no other job down: the
jobs it had are run again once in a fresh pool, and a job that kills a worker twice fails.
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
    attempts: dict[str, int] = {}
    while queue:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=initializer) as pool:
            broken = yield from _drain(pool, queue, workers * 2, task)
            if broken:
                pool.shutdown(wait=True, cancel_futures=True)
        for key in broken:
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] >= 2:
                yield key, WorkerResult("failed", CRASHED)
            else:
                queue.append((key, jobs[key]))


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
                    running[future] = key  # counted with the rest below
                    return list(running.values())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return []
