"""SQLite: a consumer waiting in ``poll`` wakes as soon as a writer of the same process commits
records to one of its topics (not at its next timed look), whether the writer appends or
commits a consumer's batch; appends to other topics do not cut its wait short; and
in-process writers on separate connections queue on one lock without losing a record."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from services.eventlog import Message, NewTopic, open_log
from services.eventlog.base import EventLog

# Timed looks back off 1, 2, 4 ... ms up to 3 s: after an append at 1.1 s into a poll the
# next timed look is at 2.05 s, so a consumer that has the record by 1.6 s was woken.
SLOW_LOOKS = "?max_wait_ms=3000"
APPEND_AT_S, WOKEN_BY_S = 1.1, 1.6


def opened(tmp_path: Path) -> EventLog:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}{SLOW_LOOKS}")
    log.create_topics([NewTopic("in", 2), NewTopic("out", 2), NewTopic("other", 1)])
    return log


def later(seconds: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_waiting_consumer_wakes_on_an_append_in_this_process(tmp_path: Path) -> None:
    with opened(tmp_path) as log, log.consumer(["in"], group="g") as consumer:
        writer = later(APPEND_AT_S, lambda: log.append([Message("in", b"v", key=b"k")]))
        started = time.monotonic()
        records = consumer.poll(timeout_s=5)
        waited = time.monotonic() - started
        writer.join()
    assert [r.value for r in records] == [b"v"]
    assert waited < WOKEN_BY_S, f"had the record {waited:.2f} s into the poll (append at 1.1 s)"


def test_a_commit_with_outputs_wakes_the_next_stage(tmp_path: Path) -> None:
    with opened(tmp_path) as log:
        log.append([Message("in", b"a", key=b"k")])
        with (
            log.consumer(["in"], group="first") as first,
            log.consumer(["out"], group="next") as nxt,
        ):
            batch = first.poll(timeout_s=5)
            assert batch

            def commit() -> None:
                first.append_and_commit(
                    [Message("out", b"b", key=b"k")], {batch[0].tp: batch[0].offset + 1}
                )

            writer = later(APPEND_AT_S, commit)
            started = time.monotonic()
            records = nxt.poll(timeout_s=5)
            waited = time.monotonic() - started
            writer.join()
    assert [r.value for r in records] == [b"b"]
    assert waited < WOKEN_BY_S


def test_appends_to_other_topics_do_not_end_the_wait(tmp_path: Path) -> None:
    with opened(tmp_path) as log, log.consumer(["in"], group="g") as consumer:
        writer = later(0.1, lambda: log.append([Message("other", b"x", key=b"k")]))
        started = time.monotonic()
        records = consumer.poll(timeout_s=0.6)
        waited = time.monotonic() - started
        writer.join()
    assert records == []
    assert waited >= 0.55


def test_writers_on_separate_connections_lose_nothing(tmp_path: Path) -> None:
    with opened(tmp_path) as log:
        consumers = [log.consumer(["in"], group=f"w{n}") for n in range(3)]

        def write(n: int) -> None:
            for i in range(100):
                if i % 2:
                    log.append([Message("out", f"{n}-{i}".encode(), key=b"k")])
                else:
                    consumers[n].append_and_commit([Message("out", f"{n}-{i}".encode(), key=b"k")])

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in consumers:
            c.close()
        assert sum(log.end_offsets(["out"]).values()) == 300
