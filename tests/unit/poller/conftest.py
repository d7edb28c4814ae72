"""Fixtures for the poller tests: a live HTTP server, a SQLite log with Tocsin's topics,
and fetch options with short timeouts so the broken variants fail fast."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feed_server import FeedServer

from services.eventlog import EventLog, open_log
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[EventLog]:
    log = open_log(f"sqlite:///{tmp_path / 'tocsin.db'}")
    log.create_topics(tocsin_topics(Settings()))
    yield log
    log.close()
