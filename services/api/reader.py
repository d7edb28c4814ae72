"""Read-only access to the read model from the API's worker threads: one connection per
thread (sqlite3 connections are not shared across threads), opened on first use."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from services.projections.store import ReadModel, connect


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
