"""Polls that change nothing are recorded at most once per ``record_quiet_every``; every poll
that finds something, fails or changes state is recorded (``Poller._quiet``). Real HTTP
server on 127.0.0.1, real SQLite log, a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from feed_server import FAST, FeedServer, Route, rss

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog
from services.eventlog.codec import decode
from services.poller.config import SourceConfig, load_sources
from services.poller.fetch import Fetcher
from services.poller.poller import Poller, PollReport, Topics
from services.poller.runner import PollerService
from services.poller.state import HealthBook
from services.runtime.clock import FakeClock
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

ITEMS = [(f"https://news.example/q{i}", f"Story {i}") for i in range(3)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def poller(sqlite_log: EventLog, clock: FakeClock) -> Iterator[Poller]:
    made = Poller(
        sqlite_log,
        Topics("articles.published", "sources.polled"),
        Fetcher(FAST),  # no politeness delay: the clock is the test's
        clock=clock,
    )
    yield made
    made.close()


@pytest.fixture
def poll(poller: Poller) -> Iterator[Callable[[SourceConfig], PollReport]]:
    """Polls once, on one event loop for the whole test (the fetcher's client lives on it)."""
    loop = asyncio.new_event_loop()
    yield lambda src: loop.run_until_complete(poller.poll(src))
    loop.run_until_complete(poller.fetcher.aclose())
    loop.close()


def recorded(log: EventLog) -> list[SourcePolled]:
    with log.consumer(["sources.polled"], group=None) as consumer:
        out = []
        while batch := consumer.poll(5000, 0.05):
            out.extend(decode(r).data for r in batch)
        return out  # type: ignore[return-value]


def source(url: str, **extra: object) -> SourceConfig:
    (made,) = load_sources([{"id": "fast", "url": url, "every": 0.5, "host_delay": 0.5, **extra}])
    return made


def poll_every_half_second(
    poll: Callable[[SourceConfig], PollReport], clock: FakeClock, src: SourceConfig, n: int
) -> None:
    for _ in range(n):
        clock.advance(0.5)
        poll(src)


def test_not_modified_polls_are_recorded_once_a_minute(
    server: FeedServer,
    sqlite_log: EventLog,
    poller: Poller,
    poll: Callable[[SourceConfig], PollReport],
    clock: FakeClock,
) -> None:
    route = Route(rss(ITEMS))
    src = source(server.add("/feed.xml", route))
    poll(src)  # 200: three new articles
    poll_every_half_second(poll, clock, src, 4)  # 304: the first is a change of status
    assert [p.status for p in recorded(sqlite_log)] == [PollStatus.OK, PollStatus.NOT_MODIFIED]
    assert server.count("/feed.xml") == 5  # every poll went to the server

    poll_every_half_second(poll, clock, src, 120)  # a minute of nothing new
    statuses = [p.status for p in recorded(sqlite_log)]
    assert statuses == [PollStatus.OK] + [PollStatus.NOT_MODIFIED] * 2
    # every poll is counted once: by a record, or by the next one (dashboard error rates)
    counted = sum(p.polls for p in recorded(sqlite_log))
    assert counted + poller.unrecorded("fast") == 125
    assert recorded(sqlite_log)[-1].polls > 100
    last = recorded(sqlite_log)[-1]
    assert (last.etag, last.http_status) == (route.etag, 304)  # still the source's health

    route.body = rss([*ITEMS, ("https://news.example/q3", "Story 3")])  # something new
    poll_every_half_second(poll, clock, src, 1)
    newest = recorded(sqlite_log)[-1]
    assert (newest.status, newest.new_articles) == (PollStatus.OK, 1)

    route.statuses = [404]  # a failure is recorded at once, and so is the recovery
    poll_every_half_second(poll, clock, src, 2)
    assert [p.status for p in recorded(sqlite_log)[-2:]] == [
        PollStatus.ERROR,
        PollStatus.NOT_MODIFIED,
    ]


def test_a_server_without_validators_nothing_new_is_quiet_too(
    server: FeedServer,
    sqlite_log: EventLog,
    poll: Callable[[SourceConfig], PollReport],
    clock: FakeClock,
) -> None:
    src = source(server.add("/plain.xml", Route(rss(ITEMS), conditional=False)))
    assert poll(src).recorded
    poll_every_half_second(poll, clock, src, 9)  # 200 each time, every item known
    clock.advance(0.5)
    quiet = poll(src)
    assert (quiet.status, quiet.http_status, quiet.recorded) == (PollStatus.OK, 200, False)
    polled = recorded(sqlite_log)
    assert [(p.status, p.new_articles) for p in polled] == [(PollStatus.OK, 3)]
    assert server.count("/plain.xml") == 11


def test_record_quiet_every_zero_records_every_poll(
    server: FeedServer,
    sqlite_log: EventLog,
    poll: Callable[[SourceConfig], PollReport],
    clock: FakeClock,
) -> None:
    src = source(server.add("/all.xml", Route(rss(ITEMS))), record_quiet_every=0)
    poll(src)
    poll_every_half_second(poll, clock, src, 6)
    assert len(recorded(sqlite_log)) == 7


def test_a_slow_source_is_recorded_at_every_poll_despite_jitter(
    server: FeedServer,
    sqlite_log: EventLog,
    poll: Callable[[SourceConfig], PollReport],
    clock: FakeClock,
) -> None:
    """Polled every minute, a poll comes a little before the minute is up: half an interval
    of slack keeps it recorded."""
    (src,) = load_sources(
        [{"id": "slow", "url": server.add("/slow.xml", Route(rss(ITEMS))), "every": 60}]
    )
    assert src.record_quiet_every == 60  # the default
    poll(src)
    for _ in range(3):
        clock.advance(src.interval_s - 5)  # the jitter brought it forward
        poll(src)
    assert len(recorded(sqlite_log)) == 4


def test_quiet_polls_not_recorded_yet_are_recorded_at_a_clean_stop(
    server: FeedServer,
    sqlite_log: EventLog,
    poller: Poller,
    poll: Callable[[SourceConfig], PollReport],
    clock: FakeClock,
) -> None:
    src = source(server.add("/stop.xml", Route(rss(ITEMS))))
    poll(src)
    poll_every_half_second(poll, clock, src, 20)  # one 304 recorded, 19 quiet
    assert poller.unrecorded("fast") == 19
    assert sum(p.polls for p in recorded(sqlite_log)) == 2

    assert asyncio.run(poller.record_quiet()) == 19
    polled = recorded(sqlite_log)
    assert sum(p.polls for p in polled) == 21  # every poll counted
    assert (polled[-1].polls, polled[-1].polled_at) == (19, clock.now())  # the latest poll
    assert poller.unrecorded("fast") == 0
    assert asyncio.run(poller.record_quiet()) == 0  # nothing twice


class Toggle:
    """An ``Ownership`` the test moves: whether this poller owns the sources."""

    def __init__(self) -> None:
        self.mine = True

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def owns(self, source_id: str) -> bool:
        return self.mine


def test_a_source_that_moved_to_another_poller_gets_its_quiet_polls_recorded(
    server: FeedServer, sqlite_log: EventLog, clock: FakeClock
) -> None:
    """The scheduled job of a source this poller no longer owns records the quiet polls it
    made before the handover: the new owner cannot count them."""
    src = source(server.add("/moved.xml", Route(rss(ITEMS))))
    ownership = Toggle()
    context = ServiceContext(settings=Settings(), log=sqlite_log, clock=clock)
    service = PollerService(context, [src], options=FAST, ownership=ownership)

    async def scenario() -> tuple[int, int]:
        poller = await service.start_poller(1)
        try:
            for _ in range(6):  # 200, then 304s: two records, four quiet polls
                clock.advance(0.5)
                await service._job(poller, ownership, src)
            before = poller.unrecorded("fast")
            ownership.mine = False
            clock.advance(0.5)
            await service._job(poller, ownership, src)  # not polled: recorded what it had
            return before, poller.unrecorded("fast")
        finally:
            await poller.fetcher.aclose()
            poller.close()

    assert asyncio.run(scenario()) == (4, 0)
    assert server.count("/moved.xml") == 6
    assert sum(p.polls for p in recorded(sqlite_log)) == 6


def test_a_handover_waits_for_the_poll_in_flight_then_records_every_quiet_poll(
    server: FeedServer, sqlite_log: EventLog, clock: FakeClock
) -> None:
    """The rebalance hook's work (``PollerService._hand_over``): a poll of a moving source
    that is still running finishes first, so its outcome is on the log with the quiet polls
    before it when the new owner reads the partition."""
    route = Route(rss(ITEMS))
    src = source(server.add("/handover.xml", route))
    ownership = Toggle()
    context = ServiceContext(settings=Settings(), log=sqlite_log, clock=clock)
    service = PollerService(context, [src], options=FAST, ownership=ownership)

    async def scenario() -> tuple[int, int, int]:
        poller = await service.start_poller(1)
        try:
            for _ in range(4):  # 200, then 304s: two records, two quiet polls
                clock.advance(0.5)
                await service._job(poller, ownership, src)
            route.delay_s = 0.4
            clock.advance(0.5)
            in_flight = asyncio.create_task(service._job(poller, ownership, src))
            while server.count("/handover.xml") < 5:  # the request has reached the server
                await asyncio.sleep(0.01)
            ownership.mine = False
            await service._hand_over(poller, [src.id])
            finished = in_flight.done()
            await in_flight
            return poller.unrecorded(src.id), int(finished), server.count("/handover.xml")
        finally:
            await poller.fetcher.aclose()
            poller.close()

    assert asyncio.run(scenario()) == (0, 1, 5)
    polled = recorded(sqlite_log)
    assert sum(p.polls for p in polled) == 5, "every poll, the one in flight too, is on the log"
    assert polled[-1].polled_at == clock.now()  # the latest: the poll that was in flight


def test_a_poll_recorded_late_is_counted_but_is_not_the_latest(clock: FakeClock) -> None:
    """After a handover the previous owner's quiet polls can land after the new owner's
    record: they count in the source's polls, the newer poll stays its health."""
    book = HealthBook()
    newer = SourcePolled(
        source_id="s",
        url="https://e.org/f",
        polled_at=clock.now(),
        status=PollStatus.OK,
        latency_ms=1.0,
    )
    older = newer.model_copy(
        update={"polled_at": newer.polled_at.replace(year=2020), "status": PollStatus.ERROR}
    )
    book.apply_polled(newer)
    book.apply_polled(older.model_copy(update={"polls": 7}))
    health = book.by_source["s"]
    assert (health.last, health.polls) == (newer, 8)
