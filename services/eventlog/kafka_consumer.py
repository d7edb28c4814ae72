"""The Kafka backend's consumer: a kafka-python ``KafkaConsumer`` behind ``base.Consumer``.

Kept apart from ``kafka.py`` (options, error boundary, the log) because the group
mechanics are the part that differs most from the embedded backends and deserves its own
reading. Why it does what it does:

- Auto-commit is off: a commit means "processed", so only ``commit`` /
  ``append_and_commit`` commit, with the offsets the caller names.
- ``group=None`` assigns every partition by hand: no group, no rebalances, no commits
  (tail and replay), so ``commit`` is a usage error there.
- A commit naming a partition this consumer does not own is refused with
  ``RebalanceError`` *before* anything is appended. Kafka's classic group protocol would
  accept it (it checks the generation, not ownership), and the embedded backends refuse it.
- After a ``RebalanceError`` the consumer rewinds the partitions it still owns to their
  committed offsets, so the dropped batch is read again instead of skipped.
- Groups use the cooperative protocol by default (KIP-429, kafka-python's
  ``CooperativeStickyAssignor``; ``KafkaOptions.assignor``): a rebalance revokes only the
  partitions that change owner, in a first round, and gives them to their new owner in a
  second; the partitions a member keeps are never paused. ``range`` is the eager protocol,
  which revokes every partition of every member before each JoinGroup.
- ``on_revoked`` runs in kafka-python's ``ConsumerRebalanceListener``, in the client's
  network thread: with the partitions that move once the first round has settled who
  keeps what (cooperative; nobody else owns them until this member rejoins), or before the
  JoinGroup with every partition (eager); at close; and when the membership was lost. From
  then until a join completes, ``assignment`` leaves the revoked partitions out.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.structs import OffsetAndMetadata

from services.eventlog.base import (
    Consumer,
    Message,
    OnRevoked,
    Position,
    Record,
    Reset,
    TopicPartition,
    run_on_revoked,
)
from services.eventlog.errors import FatalError, RebalanceError
from services.eventlog.kafka import _translate, build_client

if TYPE_CHECKING:
    from services.eventlog.base import EventLog
    from services.eventlog.kafka import KafkaLog


log = logging.getLogger(__name__)

_ASSIGNORS: dict[str, tuple[Any, ...]] = {
    "cooperative-sticky": (CooperativeStickyAssignor,),
    "range": (RangePartitionAssignor,),
}


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """kafka-python's rebalance listener: runs ``on_revoked``, then leaves the revoked
    partitions out of ``assignment`` until the join completes (kafka-python still lists
    them, and a join can outlast a ``poll``, whose caller must not think them still its
    own)."""

    def __init__(self, hook: OnRevoked | None) -> None:
        self.hook = hook
        self.revoked: frozenset[TopicPartition] = frozenset()

    def on_partitions_revoked(self, revoked: Any) -> None:
        tps = frozenset(TopicPartition(tp.topic, tp.partition) for tp in revoked or ())
        if not tps:
            return
        try:
            run_on_revoked(self.hook, tps)  # caught there: kafka-python would fail the next poll
        finally:
            self.revoked |= tps

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.revoked = frozenset()


class KafkaLogConsumer(Consumer):
    """One kafka-python consumer; driven by one thread (kafka-python's own I/O thread keeps
    heartbeating between polls)."""

    def __init__(
        self,
        log: KafkaLog,
        topics: list[str],
        partitions: list[TopicPartition],
        group: str | None,
        reset: Reset,
        on_revoked: OnRevoked | None = None,
    ) -> None:
        self.group = group
        self.reset = reset
        self._rebalances = _Rebalances(on_revoked)
        self._log = log
        self._bootstrap = log.options.bootstrap
        self._timeout_ms = log.options.request_timeout_ms
        self._closed = False
        options = log.options
        config: dict[str, Any] = {
            **options.client_config(),
            "group_id": group,
            "enable_auto_commit": False,
            "auto_offset_reset": reset,
            "session_timeout_ms": options.session_timeout_ms,
            "heartbeat_interval_ms": options.heartbeat_interval_ms,
            "fetch_max_wait_ms": options.fetch_max_wait_ms,
            "partition_assignment_strategy": _ASSIGNORS[options.assignor],
        }
        self._consumer: Any = build_client(
            KafkaConsumer, options, "connecting (consumer)", **config
        )
        try:
            with self._guard("subscribing"):
                if group is None:
                    assigned = [KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions]
                    self._consumer.assign(assigned)
                    if reset == "earliest":
                        self._consumer.seek_to_beginning(*assigned)
                    else:
                        self._consumer.seek_to_end(*assigned)
                else:
                    self._consumer.subscribe(topics, listener=self._rebalances)
        except BaseException:
            self._consumer.close(autocommit=False, timeout_ms=self._timeout_ms)
            raise

    def __repr__(self) -> str:
        return f"KafkaLogConsumer(group={self.group!r}, log={self._log.url!r})"

    @property
    def log(self) -> EventLog:
        return self._log

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        if self._closed:
            raise FatalError("this Kafka consumer is closed")
        return _translate(self._bootstrap, action)

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        with self._guard("polling"):
            batches = self._consumer.poll(
                timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records
            )
        records: list[Record] = []
        for batch in batches.values():
            for r in batch:
                headers = tuple((str(k), bytes(v or b"")) for k, v in (r.headers or ()))
                records.append(
                    Record(
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        timestamp_ms=r.timestamp,
                        key=r.key,
                        value=r.value if r.value is not None else b"",
                        headers=headers,
                    )
                )
        return records

    def assignment(self) -> frozenset[TopicPartition]:
        with self._guard("reading the assignment"):
            assigned = self._consumer.assignment() or ()
        owned = frozenset(TopicPartition(tp.topic, tp.partition) for tp in assigned)
        return owned - self._rebalances.revoked

    def _owned(self, tp: TopicPartition) -> KafkaTopicPartition:
        if tp not in self.assignment():
            raise ValueError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
        return KafkaTopicPartition(tp.topic, tp.partition)

    def position(self, tp: TopicPartition) -> int:
        ktp = self._owned(tp)
        with self._guard(f"reading the position of {tp.topic}[{tp.partition}]"):
            return int(self._consumer.position(ktp, timeout_ms=self._timeout_ms))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        ktp = self._owned(tp)
        with self._guard(f"seeking {tp.topic}[{tp.partition}]"):
            self._consumer.seek(ktp, offset)

    def _offsets_to_commit(
        self, offsets: Mapping[TopicPartition, int] | None
    ) -> dict[KafkaTopicPartition, OffsetAndMetadata]:
        if self.group is None:
            raise FatalError("a consumer without a group cannot commit (group=None reads only)")
        owned = self.assignment()
        if offsets is None:
            offsets = {tp: self.position(tp) for tp in owned}
        lost = sorted(tp for tp in offsets if tp not in owned)
        if lost:
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in lost)
            raise RebalanceError(f"group {self.group!r} no longer assigns {names} to this consumer")
        for tp, offset in offsets.items():
            if offset < 0:
                raise ValueError(
                    f"offset for {tp.topic}[{tp.partition}] must be >= 0, got {offset}"
                )
        # kafka-python 3 wants the leader epoch; -1 means "unknown", as the Java client sends.
        return {
            KafkaTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "", -1)
            for tp, offset in offsets.items()
        }

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        try:
            prepared = self._offsets_to_commit(offsets)
            if prepared:
                with self._guard("committing"):
                    self._consumer.commit(prepared, timeout_ms=self._timeout_ms)
        except RebalanceError:
            self._rewind()
            raise

    def append_and_commit(
        self, messages: Sequence[Message], offsets: Mapping[TopicPartition, int] | None = None
    ) -> list[Position]:
        # Validate the commit first, so a lost partition appends nothing; then append (and
        # wait for the acks) and commit. A crash in between replays the batch: the outputs'
        # deterministic ids make the duplicates harmless.
        try:
            prepared = self._offsets_to_commit(offsets)
        except RebalanceError:
            self._rewind()
            raise
        positions = self._log.append(messages)
        if prepared:
            try:
                with self._guard("committing"):
                    self._consumer.commit(prepared, timeout_ms=self._timeout_ms)
            except RebalanceError:
                self._rewind()
                raise
        return positions

    def _rewind(self) -> None:
        """Move every partition still owned back to its committed offset (or the reset end)."""
        if self._closed:
            return
        with self._guard("rewinding to the committed offsets"):
            for ktp in list(self._consumer.assignment() or ()):
                committed = self._consumer.committed(ktp, timeout_ms=self._timeout_ms)
                # A partition lost meanwhile raises ValueError("Unassigned partition"): the
                # next owner starts from the committed offset anyway.
                with contextlib.suppress(ValueError):
                    if committed is not None:
                        self._consumer.seek(ktp, committed)
                    elif self.reset == "earliest":
                        self._consumer.seek_to_beginning(ktp)
                    else:
                        self._consumer.seek_to_end(ktp)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._log.forget_consumer(self)
        with _translate(self._bootstrap, "closing the consumer"):
            self._consumer.close(autocommit=False, timeout_ms=self._timeout_ms)
