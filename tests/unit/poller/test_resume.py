"""A source that moves between pollers keeps its cadence: the poller that gains it polls it
one interval after the previous owner's last poll, not at its own schedule's next run
(services/poller/runner.py ``_next_poll_at``, ``PollerService._resume``).

The end-to-end test runs two whole ``PollerService``s on one SQLite log against a real HTTP
server on 127.0.0.1, which timestamps every request and knows each poller by its
User-Agent; the gap between the last poll by one poller and the first by the other is
measured at the server, in both directions (a poller joins; a poller leaves).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from feed_server import FeedServer, Route, rss
from pollers import RunningPoller, not_modified, offline_poller
from waiting import wait_until

from schemas import SourcePolled
from services.eventlog import EventLog, open_log
from services.poller.assignment import PartitionOwnership
from services.poller.config import SourceConfig, load_sources
from services.poller.runner import PollerService, _next_poll_at, trigger_for
from services.runtime.bootstrap import tocsin_topics
from services.runtime.clock import FakeClock
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

EVERY_S = 3.0
SOURCES = 12
#: short group timings, as in test_scaleout.py, so that joins and departures settle fast
LOG_OPTIONS = {"session_timeout_ms": 1500, "heartbeat_interval_ms": 100}


def _polled(source: SourceConfig, at: datetime) -> SourcePolled:
    return not_modified(source.id, source.url, at)


def test_the_next_poll_is_one_interval_after_the_last_known_poll(sqlite_log: EventLog) -> None:
    clock = FakeClock()
    poller = offline_poller(sqlite_log, clock)
    every, cron, quiet = load_sources(
        [
            {"id": "every", "url": "https://a.example/feed", "every": 10, "jitter": 0},
            {"id": "cron", "url": "https://b.example/feed", "cron": "* * * * *", "jitter": 0},
            {"id": "quiet", "url": "https://c.example/feed", "every": 10, "jitter": 0},
        ]
    )
    now = clock.now()

    def spread(source: SourceConfig) -> list[float]:
        return [(_next_poll_at(poller, source, now) - now).total_seconds() for _ in range(200)]

    def spread_within(source: SourceConfig, bound: float) -> bool:
        """A random moment in [now, now + bound): not in lockstep with other sources."""
        times = spread(source)
        return all(0 <= t < bound for t in times) and max(times) - min(times) > bound / 2

    try:
        assert spread_within(every, 5.0)  # never polled: within the interval, at most 5 s
        poller.health.apply_polled(_polled(every, now - timedelta(seconds=2)))
        assert set(spread(every)) == {8.0}  # one interval after the last poll
        poller.health.apply_polled(_polled(every, now - timedelta(seconds=25)))  # older: kept
        assert set(spread(every)) == {8.0}
        poller.health.apply_polled(_polled(cron, now - timedelta(seconds=2)))
        assert spread_within(cron, 5.0)  # a cron source runs on its own times

        # a quiet poll not on the log yet counts: it is this poller's own latest poll
        poller.health.apply_polled(_polled(quiet, now - timedelta(seconds=30)))
        assert spread_within(quiet, 5.0)  # long overdue (20 s): spread
        poller.health.apply_polled(_polled(quiet, now - timedelta(seconds=13)))
        assert set(spread(quiet)) == {0.0}  # late by 3 s, less than 5: at once
        poller._unrecorded[quiet.id] = (3, _polled(quiet, now - timedelta(seconds=4)))
        assert poller.last_polled_at(quiet.id) == now - timedelta(seconds=4)
        assert set(spread(quiet)) == {6.0}

        # a source polled every second is spread over one second, whatever its jitter
        fast = load_sources([{"id": "f", "url": "https://d.example/f", "every": 1, "jitter": 0}])
        assert spread_within(fast[0], 1.0)
    finally:
        poller.close()


def test_resume_moves_the_gained_sources_to_one_interval_after_their_last_poll(
    sqlite_log: EventLog,
) -> None:
    sources = load_sources(
        [
            {"id": f"src-{i}", "url": f"https://s{i}.example/feed", "every": 10, "jitter": 0}
            for i in range(12)
        ]
        + [{"id": "cron", "url": "https://c.example/feed", "cron": "* * * * *", "jitter": 0}]
    )
    service = PollerService(ServiceContext(settings=Settings(), log=sqlite_log), sources)
    poller = offline_poller(sqlite_log)
    ownership = PartitionOwnership(sqlite_log, "sources.polled", "articles.published")
    gained = ownership.partition_of("src-0")
    mine = [s for s in sources if ownership.partition_of(s.id) == gained and not s.cron]
    others = [s for s in sources if s not in mine]  # other partitions, and the cron source
    assert len(mine) >= 5 and others, "the sources must cover the gained partition and others"
    overdue, never, busy, late = mine[1], mine[2], mine[3], mine[4]
    now = datetime.now(UTC)
    for source in sources:
        if source is not never:
            ago = 30 if source is overdue else 12 if source is late else 4
            poller.health.apply_polled(_polled(source, now - timedelta(seconds=ago)))
    service._polling[busy.id] = None  # type: ignore[assignment]  # a poll in flight

    async def resume() -> dict[str, datetime]:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        for source in sources:  # this poller's own phase: 9 s from now
            scheduler.add_job(
                _noop, trigger_for(source), id=source.id, next_run_time=now + timedelta(seconds=9)
            )
        scheduler.start(paused=True)
        try:
            service._resume(scheduler, poller, ownership, frozenset({gained}))
            return {job.id: job.next_run_time for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)

    try:
        runs = asyncio.run(resume())
    finally:
        poller.close()
    after = {sid: (at - now).total_seconds() for sid, at in runs.items()}
    assert after[mine[0].id] == pytest.approx(6.0, abs=0.01)  # polled 4 s ago: due in 6 s
    assert 0 <= after[overdue.id] < 5  # polled 30 s ago, 20 s overdue: spread over 5 s
    assert 0 <= after[never.id] < 5  # never polled: the same
    assert after[late.id] == pytest.approx(0.0, abs=0.05)  # 2 s overdue: at once
    assert after[busy.id] == pytest.approx(9.0, abs=0.01)  # its poll is running: left alone
    for source in others:  # not gained, or a cron source: left on this poller's schedule
        assert after[source.id] == pytest.approx(9.0, abs=0.01), source.id


async def _noop() -> None:
    return None


def test_take_gained_reports_each_partition_once_when_it_becomes_owned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    log_a, log_b = open_log(url, **LOG_OPTIONS), open_log(url, **LOG_OPTIONS)
    log_a.create_topics(tocsin_topics(Settings()))
    a = PartitionOwnership(log_a, "sources.polled", "articles.published", poll_interval_s=0.05)
    b = PartitionOwnership(log_b, "sources.polled", "articles.published", poll_interval_s=0.05)
    try:
        a.start()
        wait_until(lambda: len(a.owned_partitions) == 3, "the first member owns everything")
        assert a.take_gained() == {0, 1, 2}
        assert a.take_gained() == frozenset()  # reported once
        b.start()
        wait_until(lambda: bool(b.owned_partitions), "the second member gets a share")
        wait_until(lambda: len(a.owned_partitions | b.owned_partitions) == 3, "a settled split")
        moved = b.owned_partitions
        assert a.take_gained() == frozenset()  # the first member only lost partitions
        assert b.take_gained() == moved
        b.stop()
        wait_until(lambda: len(a.owned_partitions) == 3, "the survivor owns everything again")
        assert a.take_gained() == moved
    finally:
        a.stop()
        b.stop()
        log_a.close()
        log_b.close()


def _polls(server: FeedServer, path: str, agent: str) -> list[float]:
    return [t for t, p, a in list(server.timeline) if p == path and a == agent]


def _handover_gaps(
    server: FeedServer, paths: list[str], before: str, after: str
) -> dict[str, tuple[float, float]]:
    """Per path: the last poll by ``before`` and the first by ``after`` that follows it."""
    gaps = {}
    for path in paths:
        last = max(_polls(server, path, before))
        gaps[path] = (last, min(t for t in _polls(server, path, after) if t > last))
    return gaps


def _off_cadence(gaps: dict[str, tuple[float, float]], gained: float) -> dict[str, str]:
    """The paths not polled one interval after the previous owner's last poll (±0.4 s), or,
    when that moment fell inside the handover (no poller owned the source), at once after
    it: at most 0.4 s after the new owner was seen owning it (``gained``, which the test
    observes a little late) plus its 0.2 s check for gains. Never earlier than the interval.
    """
    off = {}
    for path, (last, first) in gaps.items():
        due = last + EVERY_S
        if not due - 0.4 <= first <= max(due, gained + 0.2) + 0.4:
            off[path] = f"gap {first - last:.3f} s, gained {gained - last:.3f} s after the last"
    return off


def _wait_for_cycle(server: FeedServer, paths: list[str], agent: str) -> float:
    """Until ``agent`` polls every path once more; returns when the last of them came."""
    since = time.monotonic()
    wait_until(
        lambda: all(any(t > since for t in _polls(server, p, agent)) for p in paths),
        f"a poll cycle of {agent}",
    )
    return max(max(_polls(server, p, agent)) for p in paths)


def test_a_source_that_moves_is_polled_one_interval_after_the_previous_owners_last_poll(
    tmp_path: Path, server: FeedServer
) -> None:
    paths = [f"/feed/{i}" for i in range(SOURCES)]
    sources = load_sources(
        [
            {
                "id": f"src-{i}",
                "url": server.add(path, Route(rss([(f"https://news.example/{i}", f"Story {i}")]))),
                "every": EVERY_S,
                "jitter": 0,
            }
            for i, path in enumerate(paths)
        ]
    )
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with open_log(url) as setup:
        setup.create_topics(tocsin_topics(Settings()))
    a = RunningPoller("a", Settings(log=url), url, sources, **LOG_OPTIONS).start()
    b: RunningPoller | None = None
    try:
        wait_until(lambda: a.owned == {0, 1, 2}, "the first poller owns every partition")
        _wait_for_cycle(server, paths, a.agent)
        # A poller joins 0.8 s into the first one's cycle. Left on its own schedule, it
        # would skip its first run (within half an interval of the other's poll) and poll
        # at 3.8 s, or, joining later, poll early.
        time.sleep(max(0.0, _wait_for_cycle(server, paths, a.agent) + 0.8 - time.monotonic()))
        b = RunningPoller("b", Settings(log=url), url, sources, **LOG_OPTIONS).start()
        pb = b
        wait_until(
            lambda: bool(pb.owned) and not a.owned & pb.owned and a.owned | pb.owned == {0, 1, 2},
            "the second poller gets a share, disjoint from the first's",
        )
        gained = time.monotonic()
        moved = [p for p, s in zip(paths, sources, strict=True) if _partition(a, s) in b.owned]
        assert moved and len(moved) < len(paths)
        wait_until(lambda: all(_polls(server, p, pb.agent) for p in moved), "b polls its share")
        joined = _handover_gaps(server, moved, a.agent, b.agent)
        off = _off_cadence(joined, gained)
        assert not off, f"off cadence after the join: {off}"

        # The second poller leaves 0.8 s into its cycle; the first takes its sources back.
        # (Its schedule runs at the same phase since the join, so this checks that the
        # cadence holds through the departure; ``_resume`` itself is tested above.)
        time.sleep(max(0.0, _wait_for_cycle(server, moved, b.agent) + 0.8 - time.monotonic()))
        b.stop()
        wait_until(lambda: a.owned == {0, 1, 2}, "the survivor owns every partition again")
        left = time.monotonic()
        wait_until(
            lambda: all(any(t > left for t in _polls(server, p, a.agent)) for p in moved),
            "the survivor polls the sources it took back",
        )
        taken_back = _handover_gaps(server, moved, b.agent, a.agent)
        off = _off_cadence(taken_back, left)
        assert not off, f"off cadence after the departure: {off}"
    finally:
        if b is not None:
            b.stop()
        a.stop()


def _partition(poller: RunningPoller, source: SourceConfig) -> int:
    own = poller.service.active_ownership
    assert isinstance(own, PartitionOwnership)
    return own.partition_of(source.id)
