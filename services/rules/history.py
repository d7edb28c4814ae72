"""Reading the log's past for the rules: state at start, and backtests. Read-only.

Records are read with a group-less consumer (no commits, nothing written; to the real end,
see ``services.eventlog.reading``) and returned in time order (record timestamp, then
partition and offset), the order a replay applies them. A record that is not a valid event
is skipped and counted, as the live loop would have dead-lettered it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from schemas import CloudEvent
from services.eventlog import EventLog, PoisonRecordError, Record, TopicPartition
from services.eventlog.codec import decode
from services.eventlog.reading import read_topic

__all__ = ["Read", "read_events"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Read:
    record: Record
    event: CloudEvent


def read_events(
    elog: EventLog,
    topic: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    stop_at: Mapping[TopicPartition, int] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[Read]:
    """Events of ``topic`` with ``since_ms <= timestamp < until_ms``, before ``stop_at``
    offsets (exclusive; default: everything on the log now), in time order."""
    records = [
        r
        for r in read_topic(elog, topic, since_ms=since_ms, stop_at=stop_at, timeout_s=timeout_s)
        if until_ms is None or r.timestamp_ms < until_ms
    ]
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    for record in records:
        try:
            yield Read(record, decode(record))
        except PoisonRecordError as exc:
            log.warning("skipping a record that is not a valid event: %s", exc)
