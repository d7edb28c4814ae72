"""Read-only access to the read model from the API's worker threads: one connection per
thread (sqlite3 connections are not shared across threads), opened on first use.

Readers map the database file into memory (``mmap_size``): pages come straight from the
OS page cache instead of being copied into each connection's private cache, so the
threads share one warm copy rather than warming one cache each."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from services.projections.store import ReadModel, connect

MMAP_BYTES = 4 << 30


class Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        ReadModel(path).close()  # create the file and its tables when missing
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            conn.execute("PRAGMA cache_size=-8192")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
