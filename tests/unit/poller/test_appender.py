"""Group commit of the polls' outcomes (services/poller/appender.py), on a real SQLite log."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.eventlog import EventLog, Message, NewTopic, Position, open_log
from services.eventlog.errors import EventLogError, RetryableError
from services.eventlog.reading import read_topic
from services.poller.appender import GroupAppender

TOPIC = "t"


class HeldLog:
    """A real log whose first append waits until released, so that the polls finishing
    meanwhile pile up behind it; counts the messages of each append."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []

    def append(self, messages: Sequence[Message]) -> list[Position]:
        if not self.sizes:
            self.entered.set()
            self.release.wait(10)
        self.sizes.append(len(messages))
        return self.inner.append(messages)


@pytest.fixture
def elog(tmp_path: Path) -> Iterator[EventLog]:
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    log.create_topics([NewTopic(TOPIC, 2)])
    yield log
    log.close()


def batch(poll: int, size: int, topic: str = TOPIC) -> list[Message]:
    return [Message(topic, f"{poll}:{i}".encode(), key=str(poll).encode()) for i in range(size)]


async def run_polls(
    appender: GroupAppender, held: HeldLog, batches: list[list[Message]]
) -> list[BaseException | None]:
    """The first poll's append is held; the others finish while it runs; then release."""
    first = asyncio.ensure_future(appender.append(batches[0]))
    await asyncio.to_thread(held.entered.wait, 10)
    rest = [asyncio.ensure_future(appender.append(b)) for b in batches[1:]]
    await asyncio.sleep(0.05)  # every other poll is waiting now
    held.release.set()
    return list(await asyncio.gather(first, *rest, return_exceptions=True))


def values(elog: EventLog, topic: str = TOPIC) -> list[bytes]:
    return sorted(r.value for r in read_topic(elog, topic, timeout_s=5))


def test_polls_finishing_together_share_one_append_and_each_lands_whole(elog: EventLog) -> None:
    held = HeldLog(elog)
    with ThreadPoolExecutor(1) as writer:
        appender = GroupAppender(held, writer)  # type: ignore[arg-type]
        batches = [batch(p, 3) for p in range(10)]
        outcomes = asyncio.run(run_polls(appender, held, batches))
    assert outcomes == [None] * 10
    assert held.sizes == [3, 27]  # the first alone, the nine that waited behind it together
    assert (appender.appends, appender.batches) == (2, 10)
    assert values(elog) == sorted(m.value for b in batches for m in b)
    # per key (one poll), the order of the batch is kept
    by_key: dict[bytes | None, list[bytes]] = {}
    for record in read_topic(elog, TOPIC, timeout_s=5):
        by_key.setdefault(record.key, []).append(record.value)
    for p in range(10):
        assert by_key[str(p).encode()] == [f"{p}:{i}".encode() for i in range(3)]


def test_a_bad_batch_fails_only_its_own_poll(elog: EventLog) -> None:
    held = HeldLog(elog)
    with ThreadPoolExecutor(1) as writer:
        appender = GroupAppender(held, writer)  # type: ignore[arg-type]
        batches = [batch(0, 1), batch(1, 2), batch(2, 2, topic="no-such-topic"), batch(3, 2)]
        outcomes = asyncio.run(run_polls(appender, held, batches))
    assert outcomes[0] is None and outcomes[1] is None and outcomes[3] is None
    assert isinstance(outcomes[2], EventLogError)
    assert "no-such-topic" in str(outcomes[2])
    # the joint append failed as a whole (one transaction), then each batch went alone
    assert held.sizes == [1, 6, 2, 2, 2]
    assert values(elog) == sorted(m.value for b in (batches[0], batches[1], batches[3]) for m in b)


def test_a_group_stops_at_the_message_cap_and_never_splits_a_batch(elog: EventLog) -> None:
    held = HeldLog(elog)
    with ThreadPoolExecutor(1) as writer:
        appender = GroupAppender(held, writer, max_messages=5)  # type: ignore[arg-type]
        batches = [batch(0, 1), batch(1, 3), batch(2, 2), batch(3, 7), batch(4, 1)]
        outcomes = asyncio.run(run_polls(appender, held, batches))
    assert outcomes == [None] * 5
    # 3 + 2 fill a group; 7 is over the cap but goes whole, alone; then 1
    assert held.sizes == [1, 5, 7, 1]
    assert len(values(elog)) == 14


def test_a_lone_failure_reaches_its_poll(elog: EventLog) -> None:
    async def one() -> None:
        with ThreadPoolExecutor(1) as writer:
            await GroupAppender(elog, writer).append(batch(0, 1, topic="missing"))

    with pytest.raises(EventLogError, match="missing"):
        asyncio.run(one())


def test_a_log_that_is_down_fails_the_whole_group_at_once(tmp_path: Path) -> None:
    """A retryable failure (here: another process holds the database's write lock past the
    busy timeout) is the log's, not a batch's: every poll of the group gets it, with no
    attempt per batch (on Kafka each would wait out a timeout)."""
    path = tmp_path / "log.db"
    log = open_log(f"sqlite:///{path}?busy_timeout_ms=100")
    log.create_topics([NewTopic(TOPIC, 2)])
    held = HeldLog(log)
    other = sqlite3.connect(path, isolation_level=None)
    try:

        async def scenario() -> list[BaseException | None]:
            with ThreadPoolExecutor(1) as writer:
                appender = GroupAppender(held, writer)  # type: ignore[arg-type]
                first = asyncio.ensure_future(appender.append(batch(0, 1)))
                await asyncio.to_thread(held.entered.wait, 10)
                rest = [asyncio.ensure_future(appender.append(batch(p, 2))) for p in (1, 2, 3)]
                await asyncio.sleep(0.05)
                other.execute("BEGIN IMMEDIATE")  # the next append finds the file locked
                held.release.set()
                return list(await asyncio.gather(first, *rest, return_exceptions=True))

        outcomes = asyncio.run(scenario())
    finally:
        other.close()
        log.close()
    # the first append (alone) and the joint one of the other three: one attempt each
    assert all(isinstance(o, RetryableError) for o in outcomes), outcomes
    assert held.sizes == [1, 6]
