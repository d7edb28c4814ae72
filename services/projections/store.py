"""The read-model database: open it, apply events in transactions, remember positions.

One writer (the projection) and any number of readers (the API's threads): SQLite in WAL
mode lets readers see the last committed batch while the writer works on the next.
A batch is one transaction: ``apply`` opens it on first use, each event runs inside a
savepoint (an event whose fold fails leaves no half-written rows), and ``commit`` writes
the batch's log positions into ``tracking`` and commits them with the rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from schemas import CloudEvent
from services.eventlog import TopicPartition
from services.projections.fold import FOLDS
from services.projections.schema import ADDED_COLUMNS, DDL, SCHEMA_VERSION, VIEW_TABLES

log = logging.getLogger(__name__)


class ReadModelError(Exception):
    """The read-model file cannot be used (another schema version, not a database)."""


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every user of the read model wants."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False
        )
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


class ReadModel:
    """The writer's handle on the read model. Not thread-safe: one thread applies."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.conn = connect(self.path)
            self.conn.executescript(DDL)
            self._check_version()
            self._add_columns()
        except sqlite3.DatabaseError as exc:
            raise ReadModelError(f"read model {self.path}: {exc}") from exc
        self._in_tx = False
        self.applied = 0
        self.ignored = 0
        self.tracking: dict[TopicPartition, int] = {
            TopicPartition(t, p): o
            for t, p, o in self.conn.execute("SELECT topic, partition, next_offset FROM tracking")
        }

    def _add_columns(self) -> None:
        for table, column, definition in ADDED_COLUMNS:
            present = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _check_version(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        elif row[0] != SCHEMA_VERSION:
            raise ReadModelError(
                f"read model {self.path} has schema version {row[0]}, this code needs "
                f"{SCHEMA_VERSION}: run `tocsin projections rebuild`"
            )

    # -- writing ----------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self.conn.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def apply(self, event: CloudEvent) -> bool:
        """Fold one event into the open batch. False when its type has no view."""
        fold = FOLDS.get(type(event.data))
        if fold is None:
            self.ignored += 1
            return False
        self._begin()
        self.conn.execute("SAVEPOINT event")
        try:
            fold(self.conn, event)
        except BaseException:
            self.conn.execute("ROLLBACK TO event")
            self.conn.execute("RELEASE event")
            raise
        self.conn.execute("RELEASE event")
        self.applied += 1
        return True

    def commit(self, positions: Mapping[TopicPartition, int] | None = None) -> None:
        """Record the next offsets reached and commit the batch with them."""
        if positions:
            self._begin()
            self.conn.executemany(
                "INSERT OR REPLACE INTO tracking (topic, partition, next_offset) VALUES (?, ?, ?)",
                [(tp.topic, tp.partition, o) for tp, o in positions.items()],
            )
        if self._in_tx:
            self.conn.execute("COMMIT")
            self._in_tx = False
        if positions:
            self.tracking.update(positions)

    def rollback(self) -> None:
        if self._in_tx:
            self.conn.execute("ROLLBACK")
            self._in_tx = False

    def close(self) -> None:
        self.rollback()
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def counts(self, tables: Iterable[str] = VIEW_TABLES) -> dict[str, int]:
        return {t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
