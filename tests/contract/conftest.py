"""One event-log contract suite, run against every backend (memory, sqlite, kafka).

The kafka run talks to a real broker process: the session's Tansu broker, or the Apache
Kafka that ``TOCSIN_TEST_KAFKA=host:port`` names. Every test gets fresh topic names and
group ids, and deletes its Kafka topics at teardown (the test broker never frees memory).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from services.eventlog import EventLog, NewTopic, open_log

BACKENDS = ["memory", "sqlite", pytest.param("kafka", marks=pytest.mark.kafka)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    fast_groups = "heartbeat_interval_ms=100&session_timeout_ms=2000"
    if backend == "memory":
        return f"memory://{uuid.uuid4().hex}?{fast_groups}"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/log.db?{fast_groups}"
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    from kafka_broker import kafka_test_url

    return kafka_test_url(bootstrap)


@pytest.fixture
def log(log_url: str, backend: str) -> Iterator[EventLog]:
    opened = open_log(log_url)
    created: list[str] = []
    opened._test_created = created  # type: ignore[attr-defined]
    yield opened
    opened.close()
    if backend == "kafka" and created:
        from kafka_broker import delete_topics

        delete_topics(log_url, created)


@pytest.fixture
def make_topic(log: EventLog) -> Callable[..., str]:
    """Create a uniquely named topic and return its name."""

    def make(partitions: int = 3, base: str = "t") -> str:
        name = f"{base}-{uuid.uuid4().hex[:10]}"
        log.create_topics([NewTopic(name, partitions)])
        log._test_created.append(name)  # type: ignore[attr-defined]
        return name

    return make


@pytest.fixture
def group() -> str:
    return f"g-{uuid.uuid4().hex[:10]}"
