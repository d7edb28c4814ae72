"""Which input offsets may be committed: the lowest record per partition that still waits
for a delivery outcome holds the commit there.

The notifier hands deliveries to worker threads and commits the ``alerts.raised`` records
only once every delivery they caused has a recorded outcome. A crash therefore replays
exactly the records whose deliveries were not all recorded; ``DeliveryState`` (rebuilt from
``alerts.delivered``) drops the ones that were.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.eventlog import Record, TopicPartition

__all__ = ["Watermarks"]


class Watermarks:
    def __init__(self) -> None:
        self._next: dict[TopicPartition, int] = {}  # next offset after the last record seen
        self._pending: dict[TopicPartition, dict[int, set[str]]] = {}
        self._where: dict[str, list[tuple[TopicPartition, int]]] = {}

    def seen(self, record: Record, waits_for: Iterable[str] = ()) -> None:
        """A record was processed; it may be committed once ``waits_for`` are all resolved."""
        self._next[record.tp] = max(self._next.get(record.tp, 0), record.offset + 1)
        ids = set(waits_for)
        if ids:
            self._pending.setdefault(record.tp, {})[record.offset] = ids
            for ident in ids:
                self._where.setdefault(ident, []).append((record.tp, record.offset))

    def resolve(self, ident: str) -> None:
        for tp, offset in self._where.pop(ident, ()):
            waiting = self._pending.get(tp, {}).get(offset)
            if waiting is not None:
                waiting.discard(ident)
                if not waiting:
                    del self._pending[tp][offset]

    def pending(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def offsets(self, owned: Iterable[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Per partition seen: the lowest offset still pending, else the next offset."""
        keep = None if owned is None else set(owned)
        out = {}
        for tp, nxt in self._next.items():
            if keep is not None and tp not in keep:
                continue
            pending = self._pending.get(tp)
            out[tp] = min(pending) if pending else nxt
        return out

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Partitions this consumer lost: their new owner replays what was not committed."""
        for tp in tps:
            self._next.pop(tp, None)
            for offset_ids in self._pending.pop(tp, {}).values():
                for ident in offset_ids:
                    self._where.pop(ident, None)
