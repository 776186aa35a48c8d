"""Running jobs on Ray (`pip install "facedyn[ray]"`): Ray Data's map_batches over the jobs
with a callable class, so each actor loads the models once and keeps them.

Every node needs facedyn installed and must see the photos, drivers and output folder at the
same paths (a shared file system): the jobs travel as paths, never as file contents.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterator

from facedyn.batch.worker import JobWorker, WorkerResult
from facedyn.errors import InputError


class _RayJobWorker:
    """A Ray Data actor: one JobWorker for the actor's life; one job per batch."""

    def __init__(self) -> None:
        self._worker = JobWorker()

    def __call__(self, batch: dict) -> dict:
        keys, results = list(batch["key"]), [self._worker(json.loads(job)) for job in batch["job"]]
        return {"key": keys, "result": [json.dumps(dataclasses.asdict(r)) for r in results]}


def run_ray(jobs: dict[str, dict], address: str, workers: int | None) -> Iterator[tuple[str, WorkerResult]]:
    """Run `jobs` ({key: Job.to_dict()}) on Ray; yields (key, result) as results stream back.

    Args:
        address: "auto" (the cluster this machine has joined, else a new local Ray) or a
            cluster address (host:port or ray://host:port).
        workers: actors to start; None: one per CPU of the cluster.

    Raises:
        InputError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = _connect(address)
    from ray import data

    data.DataContext.get_current().enable_progress_bars = False  # facedyn shows its own
    size = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    items = [{"key": key, "job": json.dumps(job)} for key, job in jobs.items()]
    dataset = data.from_items(items, override_num_blocks=max(1, len(items)))
    results = dataset.map_batches(_RayJobWorker, batch_size=1, concurrency=size, num_cpus=1, batch_format="default")
    for row in results.iter_rows():
        yield str(row["key"]), WorkerResult(**json.loads(row["result"]))


def _connect(address: str):
    try:
        import ray
    except ImportError:
        raise InputError('--ray needs Ray: pip install "facedyn[ray]" (or make ray)') from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports leave this machine
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=None if address == "auto" else address, include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())[:200]}") from None
    return ray
