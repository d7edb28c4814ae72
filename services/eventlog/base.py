"""The event log: Tocsin's source of truth, one interface over SQLite, Kafka and memory.

Semantics every backend keeps (the contract suite in ``tests/contract`` proves them):

Topics and partitions
    A topic has a fixed number of partitions, created explicitly (``create_topics``); an
    unknown topic is an error, never created on the fly. A message's partition is
    ``murmur2(key) mod partitions``, the same function as Kafka's default partitioner, so a
    key lands on the same partition on every backend. Messages without a key are spread
    round-robin. Order is kept per partition, hence per key.

Records and offsets
    An append returns a ``Position`` per message: the partition and the *offset* of the
    record in it. Offsets in a partition start at 0 and grow by one per record. A record
    has a key, a timestamp (ms since the epoch; the producer's, or the append time), headers
    and value bytes. Records are never changed or removed (no retention is enforced here).

Consumers and groups
    ``consumer(topics, group=...)`` joins a consumer group: the group divides the partitions
    of its topics among its live members, each partition owned by at most one member at a
    time, and rebalances when members join, leave or stop heartbeating (a consumer
    heartbeats from ``poll``; one that does not poll within the session timeout is
    considered dead). ``group=None`` reads every partition, without commits (tail, replay).
    A consumer's *position* in a partition is the offset of the next record ``poll`` will
    return. A *committed offset* is a position too: the next offset to read, so committing
    after processing record n commits n + 1.

Where a consumer starts
    On a partition it gains, a group consumer starts at the group's committed offset; with
    none, at ``reset`` ("earliest" = offset 0, "latest" = the end). After a restart it
    therefore replays everything after the last commit: processing is at-least-once, and
    outputs must be idempotent (deterministic event ids) so a replayed input does no harm.

Committing with effects
    ``Consumer.append_and_commit(messages, offsets)`` appends the outputs of a batch and
    commits its inputs. On SQLite and memory both happen in one transaction: a crash
    leaves either both or neither. On Kafka the outputs are appended and acknowledged first,
    then the offsets committed: a crash in between replays the batch, and the
    deterministic ids let downstream consumers drop the duplicate outputs. A commit for a
    partition this consumer no longer owns raises ``RebalanceError`` and appends nothing
    (on SQLite and memory); the consumer then rewinds to its committed offsets.

Time
    ``offsets_for_time`` gives, per partition, the earliest offset whose record timestamp is
    at or after the time (``None`` when there is none): replay ``--since``.

Lag
    ``end_offsets`` is the offset the next appended record will get, per partition;
    ``lag(group)`` is end offset minus committed offset (all of it when nothing is committed).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, NamedTuple, Self

Reset = Literal["earliest", "latest"]
Headers = tuple[tuple[str, bytes], ...]


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    partitions: int
    retention_ms: int | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"topic {self.name!r} needs at least one partition")
        if (
            not self.name
            or len(self.name) > 249
            or not all(c.isalnum() or c in "._-" for c in self.name)
        ):
            raise ValueError(
                f"invalid topic name {self.name!r}: use letters, digits, '.', '_' and '-'"
            )


@dataclass(frozen=True, slots=True)
class Message:
    """A record to append. ``timestamp_ms`` None means the append time."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A record read from the log."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: Headers = field(default=())

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended record landed."""

    topic: str
    partition: int
    offset: int


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's ``Utils.murmur2``), as an unsigned 32-bit int."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = length4 * 4
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for keyed messages: positive murmur2 mod partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class KeylessPartitioner:
    """Round-robin for messages without a key (Kafka's sticky partitioner differs, harmlessly)."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, partitions: int) -> int:
        return next(self._counter) % partitions


class Consumer(ABC):
    """Reads records from the partitions it owns. Not thread-safe: one thread drives it."""

    group: str | None

    @abstractmethod
    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records, in offset order per partition; waits up to ``timeout_s``
        for the first. Advances the positions. Heartbeats the group and may rebalance."""

    @abstractmethod
    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this consumer owns now (after the last poll)."""

    @abstractmethod
    def position(self, tp: TopicPartition) -> int:
        """The offset of the next record ``poll`` returns for an owned partition."""

    @abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Move an owned partition's position."""

    def seek_to_time(self, timestamp_ms: int) -> None:
        """Move every owned partition to its first record at or after the time (or its end)."""
        for topic in {tp.topic for tp in self.assignment()}:
            found = self.log.offsets_for_time(topic, timestamp_ms)
            ends = self.log.end_offsets([topic])
            for tp in self.assignment():
                if tp.topic == topic:
                    offset = found.get(tp)
                    self.seek(tp, ends[tp] if offset is None else offset)

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit next-offsets (the current positions when None). Raises ``RebalanceError``."""

    @abstractmethod
    def append_and_commit(
        self, messages: Sequence[Message], offsets: Mapping[TopicPartition, int] | None = None
    ) -> list[Position]:
        """Append a batch's outputs and commit its inputs: atomically where the backend can
        (SQLite, memory), appended-then-committed on Kafka. See the module docstring."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group (its partitions go to the others at once) and free resources."""

    @property
    @abstractmethod
    def log(self) -> EventLog:
        """The log this consumer reads."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventLog(ABC):
    """An append-only, partitioned log of records with consumer groups. See the module docstring."""

    url: str

    @abstractmethod
    def create_topics(self, topics: Iterable[NewTopic]) -> list[str]:
        """Create the topics that do not exist yet; return their names. Existing ones are kept
        as they are (a partition count cannot shrink)."""

    @abstractmethod
    def list_topics(self) -> dict[str, int]:
        """Topic name -> number of partitions."""

    @abstractmethod
    def append(self, messages: Sequence[Message]) -> list[Position]:
        """Append records; positions in the order of ``messages``. All or nothing on SQLite and
        memory; on Kafka each record is acknowledged before this returns."""

    @abstractmethod
    def consumer(
        self,
        topics: Sequence[str],
        *,
        group: str | None,
        reset: Reset = "earliest",
    ) -> Consumer:
        """A consumer of ``topics`` in ``group`` (None: every partition, no commits)."""

    @abstractmethod
    def end_offsets(self, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        """Per partition, the offset the next appended record will get (all topics when None)."""

    @abstractmethod
    def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed next-offsets, for the partitions it has committed."""

    @abstractmethod
    def groups(self) -> list[str]:
        """The consumer groups that have committed offsets on this log."""

    @abstractmethod
    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[TopicPartition, int | None]:
        """Per partition, the earliest offset whose timestamp is >= ``timestamp_ms``, else None."""

    def lag(self, group: str, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        """End offset minus committed offset, per partition of the topics (default: those the
        group has committed on)."""
        committed = self.committed(group)
        names = set(topics) if topics is not None else {tp.topic for tp in committed}
        if not names:
            return {}
        ends = self.end_offsets(names)
        return {tp: max(0, end - committed.get(tp, 0)) for tp, end in ends.items()}

    @abstractmethod
    def close(self) -> None:
        """Flush and release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
