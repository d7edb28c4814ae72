"""The poller's memory, rebuilt from the log at start: nothing is kept anywhere else.

- ``KnownArticles``: article id -> content hash of its last publication, read from
  ``articles.published``. Each record's key is the article id and a header carries the
  hash, so the rebuild never parses JSON (records without the header, written by another
  producer, are decoded). See bench/poller.py for the time it takes over 1,000,000 ids.
- ``SourceHealth``: the last ``source.polled`` per source (validators for conditional GET,
  status, last error, whether it was disabled after a 410), read from ``sources.polled``
  over a recent window (every poll carries the validators forward, so the last event is
  enough; a source silent for longer than the window simply polls once unconditionally).
  The book also keeps each source's last ``source.subscription`` (its WebSub state), for
  ``tocsin sources list``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from schemas import PollStatus, SourcePolled, SourceSubscription
from schemas.articles import ARTICLE_PUBLISHED
from schemas.sources import SOURCE_POLLED, SOURCE_SUBSCRIPTION
from services.eventlog import EventLog, Record, TopicPartition
from services.eventlog.reading import read_topic
from services.poller.core import HASH_HEADER
from services.poller.fetch import Validators

log = logging.getLogger(__name__)


class KnownArticles:
    """Article id -> content hash. Thread-safe enough for one writer (plain dict ops)."""

    def __init__(self) -> None:
        self.hashes: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.hashes)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.hashes

    def get(self, article_id: str) -> str | None:
        return self.hashes.get(article_id)

    def add(self, article_id: str, content_hash: str) -> None:
        self.hashes[article_id] = content_hash

    def apply(self, record: Record) -> None:
        """Take one ``articles.published`` record into account (newest wins)."""
        value = record.header(HASH_HEADER)
        if record.key is not None and value is not None:
            self.hashes[record.key.decode()] = value.decode()
            return
        ce_type = record.header("ce_type")
        if ce_type is not None and ce_type.decode() != ARTICLE_PUBLISHED:
            return
        try:
            data = json.loads(record.value)["data"]
            self.hashes[str(data["article_id"])] = str(data["content_hash"])
        except (ValueError, KeyError, TypeError):
            log.warning(
                "skipping an unreadable record in %s[%d]@%d",
                record.topic,
                record.partition,
                record.offset,
            )


@dataclass
class SourceHealth:
    last: SourcePolled
    last_error: SourcePolled | None = None
    last_ok: SourcePolled | None = None
    polls: int = 0

    @property
    def validators(self) -> Validators:
        return Validators(self.last.etag, self.last.last_modified)

    @property
    def disabled(self) -> bool:
        return self.last.status is PollStatus.DISABLED


@dataclass
class HealthBook:
    by_source: dict[str, SourceHealth] = field(default_factory=dict)
    #: source id -> its WebSub subscription's last change
    push: dict[str, SourceSubscription] = field(default_factory=dict)

    def apply_polled(self, polled: SourcePolled) -> None:
        health = self.by_source.get(polled.source_id)
        if health is None:
            health = self.by_source[polled.source_id] = SourceHealth(polled)
        health.polls += polled.polls  # a record of quiet polls stands for all of them
        if polled.polled_at < health.last.polled_at:
            return  # an older poll recorded late (its source moved here since): counted only
        health.last = polled
        if polled.status in (PollStatus.ERROR, PollStatus.DISABLED):
            health.last_error = polled
        else:
            health.last_ok = polled

    def apply_subscription(self, change: SourceSubscription) -> None:
        last = self.push.get(change.source_id)
        if last is None or change.at >= last.at:
            self.push[change.source_id] = change

    def apply(self, record: Record) -> None:
        """One ``sources.polled`` record (one without a ``ce_type`` header is read as a poll)."""
        header = record.header("ce_type")
        kind = SOURCE_POLLED if header is None else header.decode()
        if kind == SOURCE_POLLED:
            polled = _payload(record, SourcePolled)
            if polled is not None:
                self.apply_polled(polled)
        elif kind == SOURCE_SUBSCRIPTION:
            change = _payload(record, SourceSubscription)
            if change is not None:
                self.apply_subscription(change)

    def validators(self, source_id: str, url: str) -> Validators:
        """The last validators for this source, unless its URL changed since."""
        health = self.by_source.get(source_id)
        if health is None or health.last.url != url:
            return Validators()
        return health.validators

    def disabled(self, source_id: str, url: str) -> SourcePolled | None:
        """The event that disabled this source (for this URL), else None."""
        health = self.by_source.get(source_id)
        if health is None or not health.disabled or health.last.url != url:
            return None
        return health.last


_Payload = TypeVar("_Payload", SourcePolled, SourceSubscription)


def _payload(record: Record, model: type[_Payload]) -> _Payload | None:
    """The record's ``data`` as ``model``; ``None``, with a warning, when it is not one."""
    try:
        return model.model_validate(json.loads(record.value)["data"])
    except (ValueError, KeyError, TypeError, ValidationError):
        log.warning(
            "skipping an unreadable %s record at offset %d", model.event_type, record.offset
        )
        return None


def rebuild_known(
    event_log: EventLog, topic: str
) -> tuple[KnownArticles, float, dict[TopicPartition, int]]:
    """Read all of ``articles.published``: the state, the seconds it took, and the positions
    reached (where a tail of the topic should go on from)."""
    started = time.perf_counter()
    known = KnownArticles()
    positions = dict(event_log.end_offsets([topic]))
    for record in read_topic(event_log, topic, timeout_s=math.inf):
        known.apply(record)
        positions[record.tp] = record.offset + 1
    return known, time.perf_counter() - started, positions


def rebuild_health(event_log: EventLog, topic: str, *, since: datetime | None = None) -> HealthBook:
    """The last ``source.polled`` per source, reading from ``since`` (everything when None)."""
    book = HealthBook()
    since_ms = None if since is None else int(since.timestamp() * 1000)
    for record in read_topic(event_log, topic, since_ms=since_ms, timeout_s=math.inf):
        book.apply(record)
    return book


def health_since(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)
