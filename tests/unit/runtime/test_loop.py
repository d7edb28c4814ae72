"""The runtime loop's failure handling on the in-memory log: transient errors are retried
without losing or duplicating output, a stop during a retry commits nothing, and a lost
partition drops the batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import pytest

from schemas import CloudEvent, PollStatus, SourcePolled, new_event
from services.eventlog import (
    EventLog,
    FatalError,
    NewTopic,
    RebalanceError,
    Record,
    RetryableError,
    open_log,
)
from services.eventlog.codec import decode, encode
from services.runtime.loop import ConsumerLoop, Emit, LoopSettings
from services.runtime.metrics import DEADLETTERED, REBALANCES, RECORDS_CONSUMED, RETRIES

FAST = LoopSettings(batch_size=10, poll_timeout_s=0.05, retry_initial_s=0.01, retry_max_s=0.05)


@pytest.fixture
def log() -> Iterator[EventLog]:
    with open_log("memory://?heartbeat_interval_ms=50") as opened:
        opened.create_topics([NewTopic("in", 2), NewTopic("out", 2), NewTopic("dlq", 1)])
        yield opened


def _feed(log: EventLog, n: int) -> None:
    events = [
        new_event(
            SourcePolled(
                source_id=f"s{i}",
                url="https://example.org/",
                polled_at=datetime(2026, 1, 1, tzinfo=UTC),
                status=PollStatus.OK,
                latency_ms=1.0,
            ),
            id=f"in-{i}",
            source="/test",
        )
        for i in range(n)
    ]
    log.append([encode(e, topic="in", key=e.data.source_id) for e in events])


def _copy(event: CloudEvent, record: Record) -> Iterable[Emit]:
    return [Emit("out", "k", new_event(event.data, id=f"out-{event.id}", source="/test"))]


def _outputs(log: EventLog) -> list[str]:
    with log.consumer(["out"], group=None) as reader:
        return sorted(decode(r).id for r in reader.poll(max_records=10_000, timeout_s=0.1))


def test_transient_handler_errors_are_retried_without_duplicates(log: EventLog) -> None:
    _feed(log, 30)
    failures = {"left": 3}

    def flaky(event: CloudEvent, record: Record) -> Iterable[Emit]:
        if event.id == "in-17" and failures["left"]:
            failures["left"] -= 1
            raise RetryableError("feed server timed out")
        return _copy(event, record)

    loop = ConsumerLoop(
        log, group="g", topics=["in"], handler=flaky, deadletter_topic="dlq", settings=FAST
    )
    assert loop.run_until_idle() >= 30
    loop.close()
    assert failures["left"] == 0
    assert _outputs(log) == sorted(f"out-in-{i}" for i in range(30)), "each input exactly once"
    assert loop.metrics.value(RETRIES, group="g", operation="handler") == 3
    assert loop.metrics.total(DEADLETTERED) == 0


class _FlakyCommitLog:
    """Wraps a log so that its consumers' commits fail with a transport error N times."""

    def __init__(self, inner: EventLog, failures: int, error: Exception) -> None:
        self.inner, self.failures, self.error = inner, failures, error

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def consumer(self, topics: list[str], **kwargs: object) -> object:
        consumer = self.inner.consumer(topics, **kwargs)  # type: ignore[arg-type]
        original = consumer.append_and_commit
        outer = self

        def failing(messages, offsets=None):  # type: ignore[no-untyped-def]
            if outer.failures:
                outer.failures -= 1
                raise outer.error
            return original(messages, offsets)

        consumer.append_and_commit = failing  # type: ignore[method-assign]
        return consumer


def test_commit_retries_on_transport_errors_then_succeeds(log: EventLog) -> None:
    _feed(log, 12)
    flaky = _FlakyCommitLog(log, failures=4, error=RetryableError("database is locked"))
    loop = ConsumerLoop(
        flaky, group="g", topics=["in"], handler=_copy, deadletter_topic="dlq", settings=FAST
    )  # type: ignore[arg-type]
    loop.run_until_idle()
    loop.close()
    assert flaky.failures == 0
    assert _outputs(log) == sorted(f"out-in-{i}" for i in range(12))
    assert loop.metrics.value(RETRIES, group="g", operation="commit") == 4
    assert loop.metrics.total(RECORDS_CONSUMED) == 12


def test_a_stop_during_retries_commits_nothing(log: EventLog) -> None:
    _feed(log, 5)
    stop = threading.Event()
    flaky = _FlakyCommitLog(log, failures=10**6, error=RetryableError("broker unreachable"))
    loop = ConsumerLoop(
        flaky,  # type: ignore[arg-type]
        group="g",
        topics=["in"],
        handler=_copy,
        deadletter_topic="dlq",
        stop=stop,
        settings=FAST,
    )
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    loop.run()  # returns once stopped
    timer.join()
    assert _outputs(log) == []
    assert log.committed("g") == {}, "the batch is left for a replay"
    again = ConsumerLoop(
        log, group="g", topics=["in"], handler=_copy, deadletter_topic="dlq", settings=FAST
    )
    again.run_until_idle()
    again.close()
    assert _outputs(log) == sorted(f"out-in-{i}" for i in range(5))


def test_a_batch_run_gives_up_on_a_lasting_failure_a_service_does_not(log: EventLog) -> None:
    """--until-idle must end (a full disk: the error, not a retry loop forever); a running
    service keeps retrying until the failure passes."""
    _feed(log, 5)
    quick = LoopSettings(
        batch_size=10,
        poll_timeout_s=0.05,
        retry_initial_s=0.01,
        retry_max_s=0.05,
        idle_give_up_s=0.3,
    )
    full = _FlakyCommitLog(log, failures=10**6, error=RetryableError("the disk is full"))
    loop = ConsumerLoop(
        full, group="g", topics=["in"], handler=_copy, deadletter_topic="dlq", settings=quick
    )  # type: ignore[arg-type]
    with pytest.raises(RetryableError, match="disk is full"):
        loop.run_until_idle()
    loop.close()
    assert log.committed("g") == {} and _outputs(log) == []

    def unreachable(event: CloudEvent, record: Record) -> Iterable[Emit]:
        raise RetryableError("the webhook stays unreachable")

    loop = ConsumerLoop(
        log, group="g", topics=["in"], handler=unreachable, deadletter_topic="dlq", settings=quick
    )
    with pytest.raises(RetryableError, match="stays unreachable"):
        loop.run_until_idle()
    loop.close()

    full.failures = 20  # a service: about a second of failures (> idle_give_up_s), then done
    stop = threading.Event()
    loop = ConsumerLoop(
        full,  # type: ignore[arg-type]
        group="g",
        topics=["in"],
        handler=_copy,
        deadletter_topic="dlq",
        stop=stop,
        settings=quick,
    )
    runner = threading.Thread(target=loop.run)
    runner.start()
    deadline = time.monotonic() + 30
    while _outputs(log) == [] and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=10)
    loop.close()
    assert full.failures == 0
    assert _outputs(log) == sorted(f"out-in-{i}" for i in range(5))


def test_a_lost_partition_drops_the_batch_for_its_new_owner(log: EventLog) -> None:
    _feed(log, 8)
    flaky = _FlakyCommitLog(log, failures=1, error=RebalanceError("partition moved"))
    loop = ConsumerLoop(
        flaky, group="g", topics=["in"], handler=_copy, deadletter_topic="dlq", settings=FAST
    )  # type: ignore[arg-type]
    loop.run_until_idle()
    loop.close()
    assert loop.metrics.value(REBALANCES, group="g") == 1
    # The dropped batch was nothing committed; the consumer rewound only if the log said so,
    # so what matters is that every input was processed and committed exactly once in the end.
    assert sum(log.lag("g", ["in"]).values()) == 0


def test_fatal_errors_stop_the_loop(log: EventLog) -> None:
    _feed(log, 1)

    def broken(event: CloudEvent, record: Record) -> Iterable[Emit]:
        raise FatalError("the rules file vanished")

    loop = ConsumerLoop(
        log, group="g", topics=["in"], handler=broken, deadletter_topic="dlq", settings=FAST
    )
    with pytest.raises(FatalError):
        loop.run()
