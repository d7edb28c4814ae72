"""The event log, chosen by URL, each backend imported only when its scheme is used.

``sqlite:///path/to/tocsin.db``  the embedded default (one machine, several processes)
``kafka://host:9092,host2:9092`` Apache Kafka through kafka-python
``memory://[name]``              SQLite on an in-memory database: unit tests only

Backend options come from the URL's query string (``kafka://h:9092?idempotent=false``) or
as keyword arguments to ``open_log``; a backend refuses options it does not know.
The embedded backends never import kafka-python.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlsplit

from services.eventlog.base import (
    Consumer,
    EventLog,
    Headers,
    Message,
    NewTopic,
    Position,
    Record,
    Reset,
    TopicPartition,
)
from services.eventlog.errors import (
    EventLogError,
    FatalError,
    PoisonRecordError,
    RebalanceError,
    RetryableError,
    UnavailableError,
    UnknownTopicError,
)

#: URL scheme -> "module:factory"; the module is imported on first use only.
BACKENDS: dict[str, str] = {
    "sqlite": "services.eventlog.sqlite:open_sqlite",
    "memory": "services.eventlog.sqlite:open_memory",
    "kafka": "services.eventlog.kafka:open_kafka",
}


def local_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names (``None`` for the other backends): what commands
    that read history check before opening, since opening creates it."""
    if urlsplit(url).scheme != "sqlite":
        return None
    from services.eventlog.sqlite import path_from_url

    return Path(path_from_url(url))


def open_log(url: str, **options: object) -> EventLog:
    """Open the log a URL names. Raises ``FatalError`` for an unknown scheme or bad options."""
    scheme = urlsplit(url).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        raise FatalError(
            f"unknown event log URL {url!r}: the scheme must be one of {', '.join(sorted(BACKENDS))}"
        )
    module_name, _, factory = target.partition(":")
    module = importlib.import_module(module_name)
    log: EventLog = getattr(module, factory)(url, **options)
    return log


__all__ = [
    "BACKENDS",
    "Consumer",
    "EventLog",
    "EventLogError",
    "FatalError",
    "Headers",
    "Message",
    "NewTopic",
    "OnRevoked",
    "PoisonRecordError",
    "Position",
    "RebalanceError",
    "Record",
    "Reset",
    "RetryableError",
    "TopicPartition",
    "UnavailableError",
    "UnknownTopicError",
    "local_file",
    "open_log",
]
