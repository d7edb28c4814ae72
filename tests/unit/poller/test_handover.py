"""A source whose partition just moved is not polled again within half an interval of the
previous owner's poll (services/poller/runner.py ``_polled_lately``), and the new owner
knows that poll: the previous owner records it in the log's rebalance hook, and the new
owner counts a partition as its own only once it has read it to its end
(services/poller/assignment.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pollers import not_modified, offline_poller
from waiting import wait_until as _wait

from schemas import SourcePolled
from services.eventlog import EventLog, open_log
from services.eventlog.base import partition_for_key
from services.poller.assignment import PartitionOwnership
from services.poller.config import load_sources
from services.poller.core import polled_message
from services.poller.runner import _polled_lately
from services.poller.state import HealthBook
from services.runtime.bootstrap import tocsin_topics
from services.runtime.clock import FakeClock
from services.runtime.settings import Settings


def test_a_poll_by_the_previous_owner_defers_the_new_owners_first_run(
    sqlite_log: EventLog,
) -> None:
    clock = FakeClock()
    poller = offline_poller(sqlite_log, clock)
    every, cron = load_sources(
        [
            {"id": "every", "url": "https://a.example/feed", "every": 10},
            {"id": "cron", "url": "https://b.example/feed", "cron": "* * * * *"},
        ]
    )
    try:
        assert not _polled_lately(poller, every)  # never polled
        for source in (every, cron):  # what the previous owner's poll left in sources.polled
            poller.health.apply_polled(
                not_modified(source.id, source.url, clock.now() - timedelta(seconds=2))
            )
        assert _polled_lately(poller, every)  # 2 s ago, interval 10 s
        assert not _polled_lately(poller, cron)  # cron runs are at fixed times anyway
        clock.advance(3.5)
        assert not _polled_lately(poller, every)  # 5.5 s ago: past half the interval
    finally:
        poller.close()


def _polled(source_id: str, at: datetime) -> SourcePolled:
    return not_modified(source_id, f"https://{source_id}.example/feed", at)


def test_the_new_owner_knows_the_previous_owners_last_polls_before_it_owns_a_source(
    tmp_path: Path,
) -> None:
    """Two ownerships on one SQLite log. Each partition of sources.polled holds a backlog
    (4,000 old polls: several reads of 1,000), and the first owner records one last poll
    per source in its hook. Whenever the second owns a partition, its health book already
    has that last poll of every source there."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    opts = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 100}
    log_a, log_b = open_log(url, **opts), open_log(url, **opts)
    log_a.create_topics(tocsin_topics(Settings()))
    ids = [f"source-{i}" for i in range(30)]
    partitions = {sid: partition_for_key(sid.encode(), 3) for sid in ids}
    old = datetime(2026, 1, 1, tzinfo=UTC)
    log_a.append(
        [polled_message(_polled(ids[i % 30], old), "sources.polled") for i in range(12_000)]
    )
    last_poll = datetime.now(UTC)
    handed: list[frozenset[int]] = []

    def hand_over(revoked: frozenset[int]) -> None:
        handed.append(revoked)
        log_a.append(
            [
                polled_message(_polled(sid, last_poll), "sources.polled")
                for sid in ids
                if partitions[sid] in revoked
            ]
        )

    a = PartitionOwnership(
        log_a, "sources.polled", "articles.published", poll_interval_s=0.05, on_revoked=hand_over
    )
    health_b = HealthBook()
    b = PartitionOwnership(
        log_b, "sources.polled", "articles.published", health=health_b, poll_interval_s=0.05
    )
    unknown: list[str] = []
    watching = threading.Event()

    def watch() -> None:  # what b knows whenever it owns a source
        while not watching.is_set():
            owned = b.owned_partitions
            for sid in ids:
                if partitions[sid] in owned:
                    health = health_b.by_source.get(sid)
                    if health is None or health.last.polled_at != last_poll:
                        unknown.append(sid)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    try:
        a.start()
        _wait(lambda: len(a.owned_partitions) == 3)
        watcher.start()
        b.start()
        _wait(
            lambda: (
                bool(b.owned_partitions)
                and len(a.owned_partitions | b.owned_partitions) == 3
                and a.owned_partitions.isdisjoint(b.owned_partitions)
            )
        )
        assert handed and b.owned_partitions <= handed[0]
        assert not unknown, f"b owned sources before knowing their last poll: {unknown[:5]}"
    finally:
        watching.set()
        if watcher.is_alive():
            watcher.join()
        a.stop()
        b.stop()
        log_a.close()
        log_b.close()
