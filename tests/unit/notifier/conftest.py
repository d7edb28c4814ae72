"""Fixtures for the notifier tests: a SQLite log file with Tocsin's topics, receivers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from notifier_support import Receiver

from services.eventlog import EventLog, open_log
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tocsin.db'}"


@pytest.fixture
def elog(log_url: str) -> Iterator[EventLog]:
    log = open_log(log_url)
    log.create_topics(tocsin_topics(Settings(log=log_url)))
    yield log
    log.close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.close()
