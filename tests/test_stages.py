import threading
import time

import pytest

from facedyn.stages import Behind, ahead


def test_ahead_yields_every_item_in_order_from_another_thread():
    seen_on = set()

    def items():
        for k in range(50):
            seen_on.add(threading.current_thread().name)
            yield k

    assert list(ahead(items(), 3)) == list(range(50))
    assert seen_on == {"facedyn-ahead"}


def test_ahead_depth_0_runs_on_the_callers_thread():
    names = []

    def items():
        names.append(threading.current_thread().name)
        yield 1

    assert list(ahead(items(), 0)) == [1]
    assert names == [threading.current_thread().name]


def test_ahead_raises_the_workers_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise KeyError("bad frame")

    got = []
    with pytest.raises(KeyError, match="bad frame"):
        for item in ahead(items(), 4):
            got.append(item)
    assert got == [1, 2]


def test_ahead_stopped_early_stops_and_joins_its_worker():
    produced = []

    def items():
        for k in range(10_000):
            produced.append(k)
            yield k

    stream = ahead(items(), 2)
    assert next(stream) == 0
    before = threading.active_count()
    stream.close()
    assert threading.active_count() == before - 1
    assert len(produced) <= 4  # at most depth + the one in hand + the one being put
    assert not any(t.name == "facedyn-ahead" for t in threading.enumerate())


def test_ahead_rejects_a_negative_depth():
    with pytest.raises(ValueError, match="depth must be 0 or more, got -1"):
        list(ahead([1], -1))


def test_behind_consumes_every_item_in_order_before_leaving():
    got = []

    def slow(item):
        time.sleep(0.001)
        got.append((item, threading.current_thread().name))

    with Behind(slow, 2) as sink:
        for k in range(30):
            sink.put(k)
    assert [k for k, _ in got] == list(range(30))
    assert {name for _, name in got} == {"facedyn-behind"}


def test_behind_raises_the_consumers_error_in_the_caller():
    def fails(item):
        if item == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with Behind(fails, 2) as sink:
            for k in range(100):
                sink.put(k)
                time.sleep(0.002)


def test_behind_left_with_an_error_drops_the_rest_and_joins():
    got = []
    with pytest.raises(RuntimeError, match="caller failed"):
        with Behind(lambda item: (time.sleep(0.05), got.append(item)), 4) as sink:
            for k in range(4):
                sink.put(k)
            raise RuntimeError("caller failed")
    assert len(got) < 4
    assert not any(t.name == "facedyn-behind" for t in threading.enumerate())


def test_behind_depth_0_consumes_inline():
    got = []
    with Behind(got.append, 0) as sink:
        sink.put(1)
        assert got == [1]
