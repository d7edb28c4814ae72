"""The embedded event log: one SQLite file in WAL mode, shared by the processes of one machine.

Layout. Each (topic, partition) has a small integer id, ``tp_id``, and its own table of
records, ``records_<tp_id>``, keyed by offset (its rowid): a partition is one B-tree, so an
append always writes at the right edge of a tree (SQLite's cheapest insert; one table
for all partitions, keyed ``tp_id << 40 | offset``, inserted in the middle of the tree for
all partitions but the last, cost ~15% more per record), and a read is a range scan,
with no secondary index to maintain. A record's headers are one BLOB
(``services.eventlog.base.pack_headers``), decoded only when a reader asks for them.
``partitions`` holds each partition's next offset and the largest
timestamp so far; ``time_index`` has one row per appended batch per partition (its first
offset and the running maximum timestamp), which finds the first record at or after a time
without scanning the records (as Kafka's time index does).

Writers serialise on SQLite's write lock (``BEGIN IMMEDIATE``, waiting up to
``busy_timeout_ms``); readers never block in WAL mode and only ever see committed
transactions, so offsets appear without gaps.

Within one process (``tocsin run``: every service a thread, each consumer its own
connection) the connections to one file share a ``_FileSync``: writers queue on its lock
before ``BEGIN IMMEDIATE``, so they take turns at once instead of in SQLite's busy handler
(which sleeps 1, 2, 5 ... 100 ms between tries), and a commit that appended records wakes
the consumers of this process waiting for those topics, so a record is read as soon as it
is committed rather than at the consumer's next timed look (backing off to ``max_wait_ms``;
appends by other processes are still found by those looks).

Consumer groups. The database is the coordinator: ``group_members`` holds each member's
topics and last heartbeat, ``partition_owners`` which member owns which partition,
``group_offsets`` the committed offsets. At each heartbeat (from ``poll``, every
``heartbeat_interval_ms``) a member, in one write transaction, drops members silent for
longer than ``session_timeout_ms``, computes the range assignment over the live members,
gives up the partitions no longer its own and takes those of its own that nobody holds.
A commit checks ownership in the same transaction as it writes offsets and outputs, so a
member that lost a partition (it stalled, another took over) cannot commit for it: the
outputs are rolled back with the offsets and the new owner processes the records once.

``memory://`` is this same engine on an in-memory database: identical semantics, one
process, for unit tests.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from services.eventlog.base import (
    Consumer,
    EventLog,
    KeylessPartitioner,
    Message,
    NewTopic,
    OnRevoked,
    Position,
    Record,
    Reset,
    TopicPartition,
    new_position,
    new_record,
    pack_headers,
    partition_for_key,
    run_on_revoked,
)
from services.eventlog.errors import (
    EventLogError,
    FatalError,
    RebalanceError,
    RetryableError,
    UnknownTopicError,
)
from services.eventlog.groups import range_assign
from services.eventlog.options import merged_options

# 2: a records_<tp_id> table per partition, headers a ``pack_headers`` BLOB (1: one records
# table keyed tp_id << 40 | offset, headers as JSON text)
SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL,
    retention_ms INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    tp_id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL REFERENCES topics(name),
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL DEFAULT 0,
    max_ts INTEGER NOT NULL DEFAULT -1,
    UNIQUE (topic, partition)
);
CREATE TABLE IF NOT EXISTS time_index (
    tp_id INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    PRIMARY KEY (tp_id, first_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    tp_id INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    committed_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, tp_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    topics TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partition_owners (
    grp TEXT NOT NULL,
    tp_id INTEGER NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (grp, tp_id)
) WITHOUT ROWID;
"""

_OPTIONS: dict[str, type] = {
    "synchronous": str,  # normal: durable across process crashes; full: across power loss too
    "busy_timeout_ms": int,
    "session_timeout_ms": int,
    "heartbeat_interval_ms": int,
    "max_wait_ms": int,  # longest sleep between two looks for new records in poll
}
_DEFAULTS: dict[str, Any] = {
    "synchronous": "normal",
    "busy_timeout_ms": 10_000,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 1_000,
    "max_wait_ms": 50,
}


def _records_table(tp_id: int) -> str:
    """The DDL of a partition's records table (created with the partition)."""
    return (
        f"CREATE TABLE IF NOT EXISTS records_{int(tp_id)} (off INTEGER PRIMARY KEY, "
        "ts INTEGER NOT NULL, key BLOB, headers BLOB NOT NULL, value BLOB NOT NULL)"
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _translate(exc: sqlite3.Error, where: str) -> EventLogError:
    """Map a sqlite3 error to the event log's tree (the one place this backend does so)."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return RetryableError(f"{where}: the database stayed locked by another writer ({exc})")
    if "full" in text:
        return RetryableError(f"{where}: the disk is full ({exc})")
    if "disk i/o error" in text:  # e.g. the WAL index cannot grow on a full disk
        return RetryableError(
            f"{where}: cannot write the database files ({exc}); is the disk full or the "
            "folder read-only?"
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return FatalError(
            f"{where}: cannot write the database ({exc}); check the path and permissions"
        )
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return FatalError(f"{where}: the file is not a Tocsin SQLite log or is damaged ({exc})")
    return EventLogError(f"{where}: {exc}")


class _FileSync:
    """What the connections of this process to one database share (see the module docstring):
    the in-process write lock and a version counter per topic, bumped on each commit that
    appended to it."""

    def __init__(self) -> None:
        self.write_lock = threading.RLock()
        self._changed = threading.Condition()
        self._versions: dict[str, int] = {}

    def versions(self, topics: Sequence[str]) -> tuple[int, ...]:
        versions = self._versions
        return tuple(versions.get(t, 0) for t in topics)

    def appended(self, topics: Iterable[str]) -> None:
        with self._changed:
            for t in topics:
                self._versions[t] = self._versions.get(t, 0) + 1
            self._changed.notify_all()

    def wait(self, topics: Sequence[str], seen: tuple[int, ...], timeout_s: float) -> bool:
        """Until one of ``topics`` had an append since ``seen`` (True) or ``timeout_s`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: self.versions(topics) != seen, timeout_s)


_SYNCS: weakref.WeakValueDictionary[str, _FileSync] = weakref.WeakValueDictionary()
_SYNCS_LOCK = threading.Lock()


def _file_sync(target: str, *, uri: bool) -> _FileSync:
    """The one ``_FileSync`` of this process for a database file (or shared memory name)."""
    key = target if uri else os.path.realpath(target)
    with _SYNCS_LOCK:
        sync = _SYNCS.get(key)
        if sync is None:
            sync = _SYNCS[key] = _FileSync()
        return sync


class _Database:
    """One connection and the lock that serialises its use by the threads of this process."""

    def __init__(self, target: str, *, uri: bool, label: str, options: Mapping[str, Any]) -> None:
        self.label = label
        self.lock = threading.RLock()
        self.sync = _file_sync(target, uri=uri)
        self.busy_timeout_s = options["busy_timeout_ms"] / 1000
        try:
            self.conn = sqlite3.connect(
                target,
                uri=uri,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=512,  # ~2 per partition (its append and its read)
                timeout=options["busy_timeout_ms"] / 1000,
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(options['busy_timeout_ms'])}")
            if not uri or "mode=memory" not in target:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise FatalError(f"{label}: SQLite could not switch to WAL mode (got {mode})")
            sync = str(options["synchronous"]).upper()
            if sync not in {"NORMAL", "FULL"}:
                raise FatalError(f"{label}: synchronous must be normal or full, not {sync.lower()}")
            self.conn.execute(f"PRAGMA synchronous = {sync}")
        except sqlite3.Error as exc:
            raise _translate(exc, label) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken with the write lock up front, so it never deadlocks.

        The in-process lock comes first and is waited for at most ``busy_timeout_ms``, as
        SQLite's own lock is: a writer stuck behind it gets a ``RetryableError``, never a hang."""
        if not self.sync.write_lock.acquire(timeout=self.busy_timeout_s):
            raise RetryableError(
                f"{self.label}: another writer of this process held the log for "
                f"{self.busy_timeout_s:g} s"
            )
        try:
            with self.lock:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise _translate(exc, self.label) from exc
                try:
                    yield self.conn
                except BaseException as exc:
                    # SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR):
                    # a second ROLLBACK would raise and hide the real error.
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error):
                        raise _translate(exc, self.label) from exc
                    raise
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise _translate(exc, self.label) from exc
        finally:
            self.sync.write_lock.release()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                yield self.conn
            except sqlite3.Error as exc:
                raise _translate(exc, self.label) from exc

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class _Topic:
    __slots__ = ("name", "partitions", "tp_ids")

    def __init__(self, name: str, tp_ids: list[int]) -> None:
        self.name = name
        self.partitions = len(tp_ids)
        self.tp_ids = tp_ids


class SqliteLog(EventLog):
    def __init__(
        self, url: str, *, path: str | None, memory_name: str | None, options: Mapping[str, Any]
    ) -> None:
        self.url = url
        self._options = {**_DEFAULTS, **options}
        self._path = path
        self._memory_target = (
            f"file:tocsin-{memory_name}?mode=memory&cache=shared" if memory_name else None
        )
        self._topics: dict[str, _Topic] = {}
        self._keyless = KeylessPartitioner()
        self._closed = False
        label = f"event log {path or 'memory://' + (memory_name or '')}"
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FatalError(
                    f"{label}: cannot create the data folder {Path(path).parent}: {exc.strerror}"
                ) from exc
        # An in-memory database lives while one connection to it is open: this one.
        self._db = self._connect(label)
        try:
            with self._db.write() as conn:
                self._check_schema_version(conn, label)
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (k, v) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
        except sqlite3.Error as exc:
            self._db.close()
            raise _translate(exc, label) from exc
        except BaseException:
            self._db.close()
            raise

    @staticmethod
    def _check_schema_version(conn: sqlite3.Connection, label: str) -> None:
        """Refuse a log written with another layout (nothing converts one yet)."""
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return  # a new database
        row = conn.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
        if row is not None and row[0] != SCHEMA_VERSION:
            raise FatalError(
                f"{label}: the log has schema version {row[0]}, this Tocsin reads version "
                f"{SCHEMA_VERSION} only: nothing converts it; move the file away to start a new log"
            )

    # -- plumbing -------------------------------------------------------------------------

    def _connect(self, label: str) -> _Database:
        if self._memory_target is not None:
            return _Database(self._memory_target, uri=True, label=label, options=self._options)
        assert self._path is not None
        return _Database(self._path, uri=False, label=label, options=self._options)

    def _new_connection(self) -> _Database:
        """A consumer's own connection to a file (its reads then never wait on the log's lock);
        the log's own one for memory, where connections share one cache anyway."""
        if self._memory_target is not None:
            return self._db
        return self._connect(self._db.label)

    @property
    def options(self) -> Mapping[str, Any]:
        return self._options

    def topic(self, name: str) -> _Topic:
        """The topic's partitions, loaded once (partition counts never change)."""
        found = self._topics.get(name)
        if found is None:
            with self._db.read() as conn:
                rows = conn.execute(
                    "SELECT tp_id FROM partitions WHERE topic = ? ORDER BY partition", (name,)
                ).fetchall()
            if not rows:
                raise UnknownTopicError(
                    f"unknown topic {name!r} on {self._db.label}: create it first"
                )
            found = self._topics[name] = _Topic(name, [r[0] for r in rows])
        return found

    def tp_id(self, tp: TopicPartition) -> int:
        topic = self.topic(tp.topic)
        if not 0 <= tp.partition < topic.partitions:
            raise UnknownTopicError(f"topic {tp.topic!r} has no partition {tp.partition}")
        return topic.tp_ids[tp.partition]

    def append_in(self, conn: sqlite3.Connection, messages: Sequence[Message]) -> list[Position]:
        """Append inside the caller's write transaction (so a commit can share it)."""
        now = _now_ms()
        # per partition of this batch: [next offset, max ts, first offset, its rows]
        heads: dict[int, list[Any]] = {}
        positions: list[Position] = []
        keyless = self._keyless
        name = ""
        topic: _Topic | None = None
        for m in messages:  # the hot loop: ~1.5 us per message, sqlite3 ~5 more
            if m.topic != name or topic is None:
                name = m.topic
                topic = self.topic(name)
            key = m.key
            p = (
                partition_for_key(key, topic.partitions)
                if key is not None
                else keyless(topic.partitions)
            )
            tp_id = topic.tp_ids[p]
            head = heads.get(tp_id)
            if head is None:
                nxt, max_ts = conn.execute(
                    "SELECT next_offset, max_ts FROM partitions WHERE tp_id = ?", (tp_id,)
                ).fetchone()
                head = heads[tp_id] = [nxt, max_ts, nxt, []]
            offset = head[0]
            head[0] = offset + 1
            ts = m.timestamp_ms
            if ts is None:
                ts = now
            if ts > head[1]:  # noqa: PLR1730 - max() is a call, per message
                head[1] = ts
            headers = m.headers
            head[3].append((offset, ts, key, pack_headers(headers) if headers else b"", m.value))
            positions.append(new_position(name, p, offset))
        for tp_id, head in heads.items():
            conn.executemany(
                f"INSERT INTO records_{tp_id} (off, ts, key, headers, value) VALUES (?, ?, ?, ?, ?)",
                head[3],
            )
        conn.executemany(
            "UPDATE partitions SET next_offset = ?, max_ts = ? WHERE tp_id = ?",
            [(h[0], h[1], tp_id) for tp_id, h in heads.items()],
        )
        conn.executemany(
            "INSERT INTO time_index (tp_id, first_offset, max_ts) VALUES (?, ?, ?)",
            [(tp_id, h[2], h[1]) for tp_id, h in heads.items()],
        )
        return positions

    # -- EventLog ---------------------------------------------------------------------------

    def create_topics(self, topics: Iterable[NewTopic]) -> list[str]:
        created: list[str] = []
        now = _now_ms()
        with self._db.write() as conn:
            for t in topics:
                if conn.execute("SELECT 1 FROM topics WHERE name = ?", (t.name,)).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO topics (name, partitions, retention_ms, created_ms) VALUES (?, ?, ?, ?)",
                    (t.name, t.partitions, t.retention_ms, now),
                )
                conn.executemany(
                    "INSERT INTO partitions (topic, partition) VALUES (?, ?)",
                    [(t.name, p) for p in range(t.partitions)],
                )
                for (tp_id,) in conn.execute(
                    "SELECT tp_id FROM partitions WHERE topic = ?", (t.name,)
                ).fetchall():
                    conn.execute(_records_table(tp_id))
                created.append(t.name)
        return created

    def list_topics(self) -> dict[str, int]:
        with self._db.read() as conn:
            return dict(
                conn.execute("SELECT name, partitions FROM topics ORDER BY name").fetchall()
            )

    def append(self, messages: Sequence[Message]) -> list[Position]:
        if not messages:
            return []
        for name in {m.topic for m in messages}:  # fail before taking the write lock
            self.topic(name)
        with self._db.write() as conn:
            positions = self.append_in(conn, messages)
        self._db.sync.appended({m.topic for m in messages})
        return positions

    def consumer(
        self,
        topics: Sequence[str],
        *,
        group: str | None,
        reset: Reset = "earliest",
        on_revoked: OnRevoked | None = None,
    ) -> Consumer:
        if reset not in ("earliest", "latest"):
            raise ValueError(f"reset must be 'earliest' or 'latest', not {reset!r}")
        return SqliteConsumer(
            self,
            self._new_connection(),
            list(topics),
            group=group,
            reset=reset,
            on_revoked=on_revoked,
        )

    def end_offsets(self, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        names = None if topics is None else list(topics)
        for name in names or ():
            self.topic(name)
        with self._db.read() as conn:
            rows = conn.execute("SELECT topic, partition, next_offset FROM partitions").fetchall()
        return {TopicPartition(t, p): n for t, p, n in rows if names is None or t in names}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT p.topic, p.partition, g.next_offset FROM group_offsets g "
                "JOIN partitions p ON p.tp_id = g.tp_id WHERE g.grp = ?",
                (group,),
            ).fetchall()
        return {TopicPartition(t, p): n for t, p, n in rows}

    def groups(self) -> list[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT grp FROM group_offsets UNION SELECT grp FROM group_members ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[TopicPartition, int | None]:
        t = self.topic(topic)
        out: dict[TopicPartition, int | None] = {}
        with self._db.read() as conn:
            for p, tp_id in enumerate(t.tp_ids):
                row = conn.execute(
                    "SELECT first_offset FROM time_index WHERE tp_id = ? AND max_ts >= ? "
                    "ORDER BY first_offset LIMIT 1",
                    (tp_id, timestamp_ms),
                ).fetchone()
                offset: int | None = None
                if row is not None:
                    hit = conn.execute(
                        f"SELECT off FROM records_{tp_id} WHERE off >= ? AND ts >= ? ORDER BY off LIMIT 1",
                        (row[0], timestamp_ms),
                    ).fetchone()
                    offset = None if hit is None else hit[0]
                out[TopicPartition(topic, p)] = offset
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()


class SqliteConsumer(Consumer):
    def __init__(
        self,
        log: SqliteLog,
        db: _Database,
        topics: list[str],
        *,
        group: str | None,
        reset: Reset,
        on_revoked: OnRevoked | None = None,
    ) -> None:
        if not topics:
            raise ValueError("a consumer needs at least one topic")
        self._log = log
        self._on_revoked = on_revoked
        self._db = db
        self.group = group
        self._topics = topics
        self._reset: Reset = reset
        self._member = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        opts = log.options
        self._session_ms = int(opts["session_timeout_ms"])
        self._heartbeat_s = int(opts["heartbeat_interval_ms"]) / 1000
        self._max_wait_s = int(opts["max_wait_ms"]) / 1000
        self._positions: dict[TopicPartition, int] = {}
        self._owned: frozenset[TopicPartition] = frozenset()
        self._last_heartbeat = float("-inf")
        self._rotation = itertools.count()
        self._closed = False
        for name in topics:
            log.topic(name)  # unknown topics fail here, not at the first poll
        if group is None:
            self._owned = frozenset(
                TopicPartition(name, p)
                for name in topics
                for p in range(log.topic(name).partitions)
            )
            ends = log.end_offsets(topics) if reset == "latest" else {}
            self._positions = {tp: ends.get(tp, 0) for tp in self._owned}
        else:
            self._heartbeat(force=True)

    @property
    def log(self) -> EventLog:
        return self._log

    # -- group membership -------------------------------------------------------------------

    def _heartbeat(self, *, force: bool = False) -> None:
        if self.group is None or self._closed:
            return
        mono = time.monotonic()
        if not force and mono - self._last_heartbeat < self._heartbeat_s:
            return
        self._last_heartbeat = mono
        if self._on_revoked is None:
            self._sync_membership(release=True)
            return
        # Two steps, so that the hook runs while this member still owns what it gives up
        # (and outside the write lock: it may append to the log) and before anyone takes it.
        leaving = self._sync_membership(release=False)
        if leaving:
            run_on_revoked(self._on_revoked, leaving)
            self._sync_membership(release=True)

    def _sync_membership(self, *, release: bool) -> frozenset[TopicPartition]:
        """One heartbeat transaction: take the free partitions of this member's share and,
        with ``release``, give up those no longer in it; returns those it should give up."""
        grp = self.group
        assert grp is not None
        now = _now_ms()
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO group_members (grp, member, topics, heartbeat_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (grp, member) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms, "
                "topics = excluded.topics",
                (grp, self._member, json.dumps(sorted(self._topics)), now),
            )
            conn.execute(
                "DELETE FROM group_members WHERE grp = ? AND heartbeat_ms < ?",
                (grp, now - self._session_ms),
            )
            conn.execute(
                "DELETE FROM partition_owners WHERE grp = ? AND member NOT IN "
                "(SELECT member FROM group_members WHERE grp = ?)",
                (grp, grp),
            )
            members = {
                m: frozenset(json.loads(t))
                for m, t in conn.execute(
                    "SELECT member, topics FROM group_members WHERE grp = ?", (grp,)
                )
            }
            counts: dict[str, int] = {}
            for name in set().union(*members.values()):
                try:
                    counts[name] = self._log.topic(name).partitions
                except UnknownTopicError:
                    continue  # another member's topic that this process cannot see: not ours to assign
            mine = range_assign(members, counts)[self._member]
            owners = dict(
                conn.execute("SELECT tp_id, member FROM partition_owners WHERE grp = ?", (grp,))
            )
            keep: set[TopicPartition] = set()
            leaving: set[TopicPartition] = set()
            for tp in self._owned | {tp for tp in mine}:
                tp_id = self._log.tp_id(tp)
                owner = owners.get(tp_id)
                if tp in mine and owner in (None, self._member):
                    if owner is None:
                        conn.execute(
                            "INSERT INTO partition_owners (grp, tp_id, member) VALUES (?, ?, ?)",
                            (grp, tp_id, self._member),
                        )
                    keep.add(tp)
                elif owner == self._member:
                    leaving.add(tp)
                    if release:
                        conn.execute(
                            "DELETE FROM partition_owners WHERE grp = ? AND tp_id = ?",
                            (grp, tp_id),
                        )
                    else:
                        keep.add(tp)  # still ours until the hook has run
            gained = keep - self._owned
            committed = self._committed_in(conn, gained)
        if gained and self._reset == "latest":
            ends = self._log.end_offsets({tp.topic for tp in gained})
        else:
            ends = {}
        for tp in self._owned - keep:
            self._positions.pop(tp, None)
        for tp in gained:
            self._positions[tp] = committed.get(tp, ends.get(tp, 0))
        self._owned = frozenset(keep)
        return frozenset(leaving)

    def _committed_in(
        self, conn: sqlite3.Connection, tps: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            row = conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND tp_id = ?",
                (self.group, self._log.tp_id(tp)),
            ).fetchone()
            if row is not None:
                out[tp] = row[0]
        return out

    # -- reading ----------------------------------------------------------------------------

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        if self._closed:
            raise FatalError("poll on a closed consumer")
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        deadline = time.monotonic() + max(0.0, timeout_s)
        wait = 0.001
        sync, topics = self._db.sync, self._topics
        while True:
            self._heartbeat()
            seen = sync.versions(topics)  # before the fetch: an append after it wakes the wait
            records = self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            if sync.wait(topics, seen, min(wait, remaining)):
                wait = 0.001  # woken by an append in this process: look again at once
            else:
                wait = min(wait * 2, self._max_wait_s)

    def _fetch(self, max_records: int) -> list[Record]:
        owned = sorted(self._owned)
        if not owned:
            return []
        start = next(self._rotation) % len(owned)  # fair: each poll starts at the next partition
        out: list[Record] = []
        with self._db.read() as conn:
            for tp in owned[start:] + owned[:start]:
                budget = max_records - len(out)
                if budget <= 0:
                    break
                # Rows come out in new_record's argument order; the headers stay packed
                # until a caller reads Record.headers.
                rows = conn.execute(
                    f"SELECT off, ts, key, value, headers FROM records_{self._log.tp_id(tp)} "
                    "WHERE off >= ? ORDER BY off LIMIT ?",
                    (self._positions[tp], budget),
                ).fetchall()
                if not rows:
                    continue
                topic, partition = tp
                out += itertools.starmap(partial(new_record, topic, partition), rows)
                self._positions[tp] = rows[-1][0] + 1
        return out

    def assignment(self) -> frozenset[TopicPartition]:
        return self._owned

    def position(self, tp: TopicPartition) -> int:
        try:
            return self._positions[tp]
        except KeyError:
            raise ValueError(f"{tp} is not assigned to this consumer") from None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self._owned:
            raise ValueError(f"{tp} is not assigned to this consumer")
        if offset < 0:
            raise ValueError("offsets are >= 0")
        self._positions[tp] = offset

    # -- committing -------------------------------------------------------------------------

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self.append_and_commit((), offsets)

    def append_and_commit(
        self, messages: Sequence[Message], offsets: Mapping[TopicPartition, int] | None = None
    ) -> list[Position]:
        if self.group is None:
            raise FatalError("a consumer without a group cannot commit: use EventLog.append")
        for m in messages:
            self._log.topic(m.topic)
        to_commit = dict(self._positions if offsets is None else offsets)
        now = _now_ms()
        try:
            with self._db.write() as conn:
                owned = {
                    r[0]
                    for r in conn.execute(
                        "SELECT tp_id FROM partition_owners WHERE grp = ? AND member = ?",
                        (self.group, self._member),
                    )
                }
                lost = [tp for tp in to_commit if self._log.tp_id(tp) not in owned]
                if lost:
                    raise RebalanceError(
                        f"consumer {self._member} of group {self.group!r} no longer owns "
                        f"{', '.join(f'{t}[{p}]' for t, p in sorted(lost))}; its batch was not committed"
                    )
                positions = self._log.append_in(conn, messages) if messages else []
                conn.executemany(
                    "INSERT INTO group_offsets (grp, tp_id, next_offset, committed_ms) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (grp, tp_id) DO UPDATE SET next_offset = excluded.next_offset, "
                    "committed_ms = excluded.committed_ms",
                    [(self.group, self._log.tp_id(tp), off, now) for tp, off in to_commit.items()],
                )
                conn.execute(
                    "UPDATE group_members SET heartbeat_ms = ? WHERE grp = ? AND member = ?",
                    (now, self.group, self._member),
                )
        except RebalanceError:
            self._rewind()
            raise
        if messages:
            self._db.sync.appended({m.topic for m in messages})
        return positions

    def _rewind(self) -> None:
        """After a failed commit: forget uncommitted progress and rejoin at the next poll."""
        with self._db.read() as conn:
            committed = self._committed_in(conn, self._owned)
        self._positions = {tp: committed.get(tp, 0) for tp in self._owned}
        self._last_heartbeat = float("-inf")

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self.group is not None:
                if self._owned:
                    run_on_revoked(self._on_revoked, self._owned)  # as Kafka's close: still ours
                with self._db.write() as conn:
                    conn.execute(
                        "DELETE FROM group_members WHERE grp = ? AND member = ?",
                        (self.group, self._member),
                    )
                    conn.execute(
                        "DELETE FROM partition_owners WHERE grp = ? AND member = ?",
                        (self.group, self._member),
                    )
        finally:
            self._closed = True
            if self._db is not self._log._db:
                self._db.close()


def path_from_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FatalError(
            f"sqlite URL {url!r} names a host; use sqlite:///relative/path or sqlite:////abs/path"
        )
    path = unquote(parts.path)
    if path.startswith("/"):
        path = path[1:]  # sqlite:///data/x.db is relative, sqlite:////abs/x.db absolute
    if not path:
        raise FatalError(f"sqlite URL {url!r} names no file")
    return path


def open_sqlite(url: str, **options: object) -> SqliteLog:
    return SqliteLog(
        url,
        path=path_from_url(url),
        memory_name=None,
        options=merged_options(url, options, _OPTIONS),
    )


_anonymous = itertools.count()


def open_memory(url: str, **options: object) -> SqliteLog:
    """``memory://name`` is shared by every log opened with that name while one stays open."""
    name = urlsplit(url).netloc or f"anon{os.getpid()}x{next(_anonymous)}x{uuid.uuid4().hex[:6]}"
    return SqliteLog(
        url, path=None, memory_name=name, options=merged_options(url, options, _OPTIONS)
    )
