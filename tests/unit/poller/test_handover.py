"""A source whose partition just moved is not polled again within half an interval of the
previous owner's poll (services/poller/runner.py ``_polled_lately``)."""

from __future__ import annotations

from datetime import timedelta

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog
from services.poller.config import load_sources
from services.poller.fetch import Fetcher, FetchOptions
from services.poller.poller import Poller, Topics
from services.poller.runner import _polled_lately
from services.runtime.clock import FakeClock


def test_a_poll_by_the_previous_owner_defers_the_new_owners_first_run(
    sqlite_log: EventLog,
) -> None:
    clock = FakeClock()
    poller = Poller(
        sqlite_log,
        Topics("articles.published", "sources.polled"),
        Fetcher(FetchOptions(trust_env=False)),
        clock=clock,
    )
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
                SourcePolled(
                    source_id=source.id,
                    url=source.url,
                    polled_at=clock.now() - timedelta(seconds=2),
                    status=PollStatus.NOT_MODIFIED,
                    latency_ms=1.0,
                )
            )
        assert _polled_lately(poller, every)  # 2 s ago, interval 10 s
        assert not _polled_lately(poller, cron)  # cron runs are at fixed times anyway
        clock.advance(3.5)
        assert not _polled_lately(poller, every)  # 5.5 s ago: past half the interval
    finally:
        poller.close()
