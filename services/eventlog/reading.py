"""Reading a topic's past once, to its end: state rebuilt at start, backtests, CLI listings.

"The end" is read, not trusted. Some Kafka-protocol brokers (Tansu, the test broker) report
a partition's end offset as its last batch's base offset + 1; a reader that stopped there
silently dropped the rest of that batch, i.e. the newest records, exactly those a restarted
service must know (the rules service raised alerts again, the notifier sent again). So
without ``stop_at`` the reader goes on past the reported ends until a poll comes back empty;
with ``stop_at`` (committed offsets, which are exact) it reads up to them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from services.eventlog.base import EventLog, Record, TopicPartition
from services.eventlog.errors import RetryableError

__all__ = ["read_topic"]

#: After the reported ends: read until a poll this long is empty (a fetch returns whole
#: batches, so the rest of the last batch is already buffered), for at most DRAIN_MAX_S.
DRAIN_QUIET_S = 0.1
DRAIN_MAX_S = 5.0


def read_topic(
    elog: EventLog,
    topic: str,
    *,
    since_ms: int | None = None,
    stop_at: Mapping[TopicPartition, int] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[Record]:
    """The records of ``topic`` from the first at or after ``since_ms`` (default: the start)
    to the end (or to ``stop_at``, exclusive), in each partition's order, as they are read.

    Raises ``RetryableError`` when no record came for ``timeout_s`` before every record
    known to exist was read: a partial past must never pass for the whole one."""
    if topic not in elog.list_topics():
        return
    reported = elog.end_offsets([topic])
    ends = dict(reported) if stop_at is None else {tp: stop_at.get(tp, 0) for tp in reported}
    starts = (
        elog.offsets_for_time(topic, since_ms) if since_ms is not None else dict.fromkeys(ends, 0)
    )
    with elog.consumer([topic], group=None) as reader:
        wanted = 0
        for tp, end in ends.items():
            found = starts.get(tp)
            start = end if found is None else min(found, end)
            reader.seek(tp, start)
            wanted += end - start
        got, deadline = 0, time.monotonic() + timeout_s
        while got < wanted:
            batch = reader.poll(max_records=5000, timeout_s=0.2)
            if batch:
                deadline = time.monotonic() + timeout_s
            elif time.monotonic() > deadline:
                raise RetryableError(
                    f"read {got} of {wanted} records of {topic}; none came for {timeout_s:g} s"
                )
            for record in batch:
                if record.offset < ends.get(record.tp, 0):
                    got += 1
                    yield record
                elif stop_at is None:
                    yield record
        if stop_at is None:
            drain_until = time.monotonic() + DRAIN_MAX_S
            while time.monotonic() < drain_until:
                batch = reader.poll(max_records=5000, timeout_s=DRAIN_QUIET_S)
                if not batch:
                    break
                yield from batch
