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

import importlib
import itertools
import logging
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, NamedTuple, Self

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- fast paths
#
# Backends build a Record per record read and a Position per record appended: at 100k+
# records/s the frozen dataclass ``__init__`` (one ``object.__setattr__`` per field, ~1 us for
# a Record) was a third of the SQLite consume time. The classes below build the very same
# objects 3-4x faster: a plain ``__slots__`` twin with the same slots (hence the same memory
# layout) sets its fields directly, then becomes the frozen class (``__class__`` assignment,
# allowed between layout-compatible classes). The result is an ordinary Record / Position:
# same type, equality, hash, repr, immutability, pickling, ``dataclasses.replace``.


class _RecordTwin:
    """``_RecordTwin(topic, partition, offset, timestamp_ms, key, value, headers)`` -> Record.

    ``headers`` may also be the ``pack_headers`` bytes of the headers: ``Record.headers``
    decodes them on first access (see ``_record_headers``)."""

    __slots__ = Record.__slots__

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes,
        headers: Headers | bytes,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp_ms = timestamp_ms
        self.key = key
        self.value = value
        self.headers = headers
        self.__class__ = Record  # type: ignore[assignment]


class _PositionTwin:
    """``_PositionTwin(topic, partition, offset)`` -> Position."""

    __slots__ = Position.__slots__

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.__class__ = Position  # type: ignore[assignment]


#: ``new_record(topic, partition, offset, timestamp_ms, key, value, headers)``: a Record,
#: built fast; ``headers`` as a tuple, or as ``pack_headers`` bytes (decoded lazily).
new_record: Callable[[str, int, int, int, bytes | None, bytes, Headers | bytes], Record]
new_record = _RecordTwin  # type: ignore[assignment]

#: ``new_position(topic, partition, offset)``: a Position, built fast.
new_position: Callable[[str, int, int], Position] = _PositionTwin  # type: ignore[assignment]


# Headers in a compact binary form, for backends that store them as one blob: per header,
# the length of the name's UTF-8 (surrogates passed through, so any str round-trips), the
# name, the length of the value, the value. Lengths are unsigned LEB128 varints (one byte
# below 128). No headers = b"".

_VARINT1 = [bytes((n,)) for n in range(128)]
_NAME_CACHE_MAX = 1024
_packed_names: dict[str, bytes] = {}  # name -> its length + UTF-8: a few names, used by all


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _VARINT1[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _packed_name(name: str) -> bytes:
    raw = name.encode("utf-8", "surrogatepass")
    packed = _varint(len(raw)) + raw
    if len(_packed_names) < _NAME_CACHE_MAX:
        _packed_names[name] = packed
    return packed


def pack_headers(headers: Headers) -> bytes:
    """The headers as bytes, ``unpack_headers``' inverse."""
    parts: list[bytes] = []
    names = _packed_names
    small = _VARINT1
    for name, value in headers:
        n = len(value)
        parts.append(names.get(name) or _packed_name(name))
        parts.append(small[n] if n < 0x80 else _varint(n))
        parts.append(value)
    return b"".join(parts)


def unpack_headers(data: bytes) -> Headers:
    """Headers from ``pack_headers`` bytes. ValueError if they are not such bytes."""
    out: list[tuple[str, bytes]] = []
    end = len(data)
    i = 0
    while i < end:
        n, i = _read_varint(data, i)
        stop = i + n
        if stop > end:
            raise ValueError("damaged headers: a name runs past the end")
        name = data[i:stop].decode("utf-8", "surrogatepass")
        n, i = _read_varint(data, stop)
        stop = i + n
        if stop > end:
            raise ValueError("damaged headers: a value runs past the end")
        out.append((name, data[i:stop]))
        i = stop
    return tuple(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at ``data[i:]`` and the index after it."""
    n = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("damaged headers: a length runs past the end")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


_headers_slot = Record.__dict__["headers"]  # the slot's member descriptor


def _record_headers(self: Record) -> Headers:
    headers = _headers_slot.__get__(self, Record)
    if headers.__class__ is bytes:  # packed by a backend: decode once, keep the tuple
        headers = unpack_headers(headers)
        _headers_slot.__set__(self, headers)
    return headers  # type: ignore[no-any-return]


def _set_record_headers(self: Record, headers: Headers) -> None:
    # Only reachable through object.__setattr__ (the dataclass __init__ and unpickling use
    # it); ``record.headers = ...`` still raises FrozenInstanceError, as for every field.
    _headers_slot.__set__(self, headers)


# ``Record.headers`` reads the slot through a property that decodes packed headers lazily:
# a consumer that never looks at the headers never pays for them.
type.__setattr__(
    Record,
    "headers",
    property(
        _record_headers, _set_record_headers, doc="The record's headers, (name, value) pairs."
    ),
)


_MURMUR2_SEED = 0x9747B28C


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's ``Utils.murmur2``), as an unsigned 32-bit int."""
    if _c_murmur2 is not None and data.__class__ is bytes:
        return _c_murmur2(data, _MURMUR2_SEED)
    return _py_murmur2(data)


def _py_murmur2(data: bytes) -> int:
    """Pure-Python murmur2 (~3.5 us for a 36-byte key): the fallback, and the reference."""
    length = len(data)
    m = 0x5BD1E995
    h = (_MURMUR2_SEED ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for block in struct.unpack_from(f"<{length4}I", data):  # 4-byte blocks, little-endian
        k = (block * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
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


def _load_c_murmur2() -> Callable[[bytes, int], int] | None:
    """The ``murmurhash2`` package's C MurmurHash2 (~0.2 us), if installed and equal to ours.

    Its ``murmurhash2(key, seed)`` with Kafka's seed is byte-for-byte Kafka's murmur2 (checked
    against kafka-python's on 100,000 random keys); the vectors below re-check the installed
    build at import, so a different implementation is never used silently."""
    try:
        module = importlib.import_module("murmurhash2")
    except ImportError:
        return None
    fn: Callable[[bytes, int], int] | None = getattr(module, "murmurhash2", None)
    if fn is None:
        return None
    vectors = [b"", b"a", b"ab", b"abc", b"abcd", b"\xff\x80\x00\x7f\xfe", bytes(range(256))]
    try:
        if all(fn(v, _MURMUR2_SEED) == _py_murmur2(v) for v in vectors):
            return fn
    except Exception:  # noqa: S110 - any failure: keep the pure-Python one
        pass
    return None


_c_murmur2 = _load_c_murmur2()


def partition_for_key(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for keyed messages: positive murmur2 mod partitions."""
    c_murmur2 = _c_murmur2  # murmur2() inlined: this runs once per message appended
    if c_murmur2 is not None and key.__class__ is bytes:
        return (c_murmur2(key, _MURMUR2_SEED) & 0x7FFFFFFF) % partitions
    return (_py_murmur2(key) & 0x7FFFFFFF) % partitions


class KeylessPartitioner:
    """Round-robin for messages without a key (Kafka's sticky partitioner differs, harmlessly)."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, partitions: int) -> int:
        return next(self._counter) % partitions


#: ``EventLog.consumer``'s rebalance hook: the partitions about to be given up.
OnRevoked = Callable[[frozenset[TopicPartition]], None]


def run_on_revoked(hook: OnRevoked | None, tps: frozenset[TopicPartition]) -> None:
    """Every backend calls the hook this way: what it raises is logged, and the partitions
    go all the same (a member that cannot hand over must not keep them from the others)."""
    if hook is None:
        return
    try:
        hook(tps)  # still this member's while it runs (see EventLog.consumer)
    except Exception:
        log.exception("the rebalance hook failed for %s", sorted(tps))


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
    #: the largest record (value, key and headers, in bytes) this log takes, ``None`` for
    #: no limit: a consumer dead-letters an input whose output would exceed it rather than
    #: stop on the append (``runtime.loop``)
    max_record_bytes: int | None = None

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
        on_revoked: OnRevoked | None = None,
    ) -> Consumer:
        """A consumer of ``topics`` in ``group`` (None: every partition, no commits).

        ``on_revoked`` is Kafka's rebalance-listener hook, on every backend: called with the
        partitions this member is about to give up, while it still owns them and before any
        other member gets them, so what it appends (through the log) is there for the next
        owner. It runs inside ``poll`` (on Kafka in the client's network thread, which it
        blocks: keep it short, and do not call the consumer from it, not even to commit);
        what it raises is logged, and the partitions go all the same.
        On Kafka's cooperative protocol (the default) it names only the partitions that
        move; on the eager one (``assignor=range``) every partition, including those the
        member gets back. After a crash or an expired session it is called late or never."""

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
