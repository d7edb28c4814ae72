"""Rebuild the read model from the log: a new file, every topic from offset 0, then swap.

The new read model is built beside the old one (``read.db.rebuild``) and moved over it only
when complete, so a failed rebuild leaves the old views in place. Stop the API (whose
projection writes the file) before rebuilding; its next start resumes from the rebuilt
model's positions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.eventlog import EventLog, PoisonRecordError, TopicPartition
from services.eventlog.codec import decode
from services.projections.store import ReadModel

#: progress(records done, records in total): called every batch
Progress = Callable[[int, int], None]


@dataclass
class RebuildResult:
    records: int = 0
    applied: int = 0
    undecodable: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def rebuild(
    event_log: EventLog,
    topics: list[str],
    path: Path,
    *,
    progress: Progress | None = None,
    batch_size: int = 2000,
) -> RebuildResult:
    """Replay ``topics`` (up to their end offsets now) into a fresh read model at ``path``."""
    started = time.monotonic()
    tmp = path.with_name(path.name + ".rebuild")
    _remove(tmp)
    ends = {tp: o for tp, o in event_log.end_offsets(topics).items() if o > 0}
    total = sum(ends.values())
    result = RebuildResult()
    store = ReadModel(tmp)
    try:
        with event_log.consumer(topics, group=None) as consumer:
            remaining = dict(ends)
            while remaining:
                records = consumer.poll(max_records=batch_size, timeout_s=0.5)
                positions: dict[TopicPartition, int] = {}
                for record in records:
                    tp = record.tp
                    if record.offset >= ends.get(tp, 0):
                        continue  # appended after the rebuild began: the live loop takes it
                    positions[tp] = record.offset + 1
                    result.records += 1
                    try:
                        event = decode(record)
                    except PoisonRecordError:
                        result.undecodable += 1  # the live consumers dead-letter these
                        continue
                    if store.apply(event):
                        result.applied += 1
                for tp, nxt in positions.items():
                    if nxt >= ends[tp]:
                        remaining.pop(tp, None)
                store.commit(positions)
                if progress is not None:
                    progress(result.records, total)
        result.counts = store.counts()
    except BaseException:
        store.close()
        _remove(tmp)
        raise
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    for suffix in ("-wal", "-shm"):
        _remove(path.with_name(path.name + suffix))
    os.replace(tmp, path)
    result.seconds = time.monotonic() - started
    return result


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
