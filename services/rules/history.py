"""Reading the log's past for the rules: state at start, and backtests. Read-only.

Records are read with a group-less consumer (no commits, nothing written) and returned in
time order (record timestamp, then partition and offset), the order a replay applies them.
A record that is not a valid event is skipped and counted, as the live loop would have
dead-lettered it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from schemas import CloudEvent
from services.eventlog import EventLog, PoisonRecordError, Record, TopicPartition
from services.eventlog.codec import decode

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
    offsets (exclusive; default the current end), in time order."""
    if topic not in elog.list_topics():
        return
    ends = dict(elog.end_offsets([topic]))
    if stop_at is not None:
        ends = {tp: min(end, stop_at.get(tp, 0)) for tp, end in ends.items()}
    starts = (
        elog.offsets_for_time(topic, since_ms) if since_ms is not None else dict.fromkeys(ends, 0)
    )
    records: list[Record] = []
    with elog.consumer([topic], group=None) as reader:
        wanted = 0
        for tp, end in ends.items():
            start = starts.get(tp)
            start = end if start is None else min(start, end)
            reader.seek(tp, start)
            wanted += end - start
        deadline = time.monotonic() + timeout_s
        got = 0
        while got < wanted and time.monotonic() < deadline:
            batch = reader.poll(max_records=2000, timeout_s=0.2)
            for record in batch:
                if record.offset < ends.get(record.tp, 0):
                    got += 1
                    if until_ms is None or record.timestamp_ms < until_ms:
                        records.append(record)
        if got < wanted:
            log.warning("read %d of %d records of %s before the time limit", got, wanted, topic)
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    for record in records:
        try:
            yield Read(record, decode(record))
        except PoisonRecordError as exc:
            log.warning("skipping a record that is not a valid event: %s", exc)
