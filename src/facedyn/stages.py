"""Overlapping stages: a producer or a consumer on its own thread, behind a bounded queue.

Decoding and tracking (PyAV, MediaPipe), rendering (OpenCV, NumPy) and encoding (PyAV) spend
most of their time in native code that releases the GIL, so threads let them run on
different cores at once. Each stage still handles its items one at a time and in order, so
the output is the same as running them one after another; a bounded queue keeps memory
flat when one stage is slower than the next.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")

DEPTH = 4  # items a stage may run ahead of the next
_POLL = 0.05  # seconds between checks for a stop while a queue is full or empty
_END = object()


class _Failure:
    """An exception raised on a worker thread, carried to the caller's."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable[Item], depth: int = DEPTH) -> Iterator[Item]:
    """Iterate `items` on a worker thread, up to `depth` items ahead of the caller.

    An exception in the worker is raised in the caller at the item where it happened. When
    the caller stops early (break, close, an exception of its own), the worker stops at its
    next item and is joined before this returns, so what it used (a tracker) is free again.

    Args:
        items: any iterable; it is iterated on the worker thread only.
        depth: how far ahead; 0 iterates `items` on the caller's thread (no worker).
    """
    if depth < 0:
        raise ValueError(f"depth must be 0 or more, got {depth}")
    if depth == 0:
        yield from items
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if not _put(buffer, item, stop):
                    return
            _put(buffer, _END, stop)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            _put(buffer, _Failure(error), stop)

    worker = threading.Thread(target=work, name="facedyn-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


class Behind(Generic[Item]):
    """Hands items to `consume` on a worker thread, up to `depth` behind the caller.

    Use as a context manager: leaving it normally waits for every item to be consumed and
    raises the worker's exception if it had one; leaving it with an exception drops what is
    still queued. `put` raises the worker's exception as soon as it is known.

    Args:
        consume: called with each item, in order, on the worker thread.
        depth: how far behind; 0 calls `consume` on the caller's thread (no worker).
    """

    def __init__(self, consume: Callable[[Item], object], depth: int = DEPTH) -> None:
        if depth < 0:
            raise ValueError(f"depth must be 0 or more, got {depth}")
        self._inline = depth == 0
        self._consume = consume
        self._buffer: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._worker = threading.Thread(target=self._work, name="facedyn-behind", daemon=True)

    def __enter__(self) -> Behind[Item]:
        if not self._inline:
            self._worker.start()
        return self

    def put(self, item: Item) -> None:
        """Queue one item (waits while the queue is full)."""
        if self._inline:
            self._consume(item)
            return
        self._raise_failure()
        if not _put(self._buffer, item, self._stop):
            self._raise_failure()

    def __exit__(self, kind, error, trace) -> None:
        if self._inline:
            return
        if kind is None:
            _put(self._buffer, _END, self._stop)
        else:
            self._stop.set()
        self._worker.join()
        if kind is None:
            self._raise_failure()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._buffer.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._consume(item)
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller
                self._failure = error
                self._stop.set()
                return

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def _put(buffer: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item`, waiting while the queue is full; False if `stop` was set meanwhile."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False
