"""``tocsin serve poller``: schedule every source with APScheduler 3 and poll it politely.

One asyncio loop holds the shared httpx client, the APScheduler ``AsyncIOScheduler`` and
the polls. Each enabled source is one job (interval or cron trigger, with jitter;
``max_instances=1`` so a slow poll is never doubled; ``coalesce=True`` so missed runs
collapse into one). The first poll of a source comes one interval after its last poll on
record (at once if that moment passed a little ago); a source never polled, or long
overdue, is polled within one interval from start (at most 5 s), at a random moment:
sources started together must not poll in lockstep. In ``bench/pipeline.py``, 100 feeds
polled every second all at once kept the event loop busy for a few hundred ms of every
second: 250-350 ms from fetch to webhook at the median, against 76-88 ms spread.

With several poller processes on one log, an ``Ownership`` (see ``assignment``) says which
sources this process polls; a job for a source owned elsewhere returns at once. When the
group gives this process sources (a poller joined or left, or a rebalance gave back what it
had revoked), their next polls are moved to one interval after their last (``_resume``):
left on this process's schedule, they would wait for its next run, up to an interval later.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schemas import SourceSubscription
from services.eventlog import EventLogError, TopicPartition
from services.poller.assignment import GROUP, AllSources, Ownership, PartitionOwnership
from services.poller.config import SourceConfig, host_delays, sources_from_settings
from services.poller.core import subscription_message
from services.poller.fetch import Document, Fetcher, FetchOptions
from services.poller.parsing import ParsePool, default_workers
from services.poller.poller import Poller, PollReport, Topics
from services.poller.push import PushIntake
from services.poller.state import health_since, rebuild_health, rebuild_known
from services.runtime.bootstrap import group, topic
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings, config_path

log = logging.getLogger(__name__)

HEALTH_WINDOW_DAYS = 7.0
#: With this many sources or more, feeds are parsed in worker processes (see ``parsing``).
POOL_FROM_SOURCES = 50
#: At most this long, a serving poller waits for its first partitions before scheduling.
ASSIGNMENT_WAIT_S = 30.0


#: How long a stop or a handover waits to record the quiet polls not on the log yet.
RECORD_QUIET_TIMEOUT_S = 5.0
#: A gained source's next run is moved only when it is further than this from when it is due.
RESUME_SLACK_S = 0.1


def group_name(settings: Settings) -> str:
    """The pollers' consumer group, under the topic prefix: deployments sharing a cluster
    (one prefix each) must not rebalance each other's pollers."""
    return group(settings, GROUP)


def trigger_for(source: SourceConfig) -> BaseTrigger:
    if source.cron:
        trigger = CronTrigger.from_crontab(source.cron, timezone=UTC)
        trigger.jitter = int(source.jitter_s) or None
        return trigger
    return IntervalTrigger(
        seconds=source.interval_s, jitter=int(source.jitter_s) or None, timezone=UTC
    )


class PollerService:
    """The poller as a service: ``run()`` until stopped, or ``run_until_idle()`` = one pass."""

    name = "poller"

    def __init__(
        self,
        context: ServiceContext,
        sources: list[SourceConfig],
        *,
        options: FetchOptions | None = None,
        ownership: Ownership | None = None,
        parse_workers: int | None = None,
    ) -> None:
        self.context = context
        self.sources = sources
        #: default: the fetcher's defaults, with the host delays the sources opted in to
        self.options = options or FetchOptions(
            host_delays=tuple(sorted(host_delays(sources).items()))
        )
        #: parser processes; None: one per spare core when there are many sources, else 0
        self.parse_workers = parse_workers
        self.ownership = ownership
        settings = context.settings
        self.topics = Topics(
            topic(settings, "articles.published"), topic(settings, "sources.polled")
        )
        self.reports: list[PollReport] = []
        #: source id -> its poll running now (a handover waits for it: ``_hand_over``)
        self._polling: dict[str, asyncio.Task[None]] = {}
        self.rebuild_seconds: float | None = None
        self.published_positions: dict[TopicPartition, int] = {}
        #: The ownership in force while serving (which sources this process polls).
        self.active_ownership: Ownership | None = None
        #: the WebSub side while serving, when configured (``push``)
        self.push: PushIntake | None = None
        #: per source, held by its poll or push (``_poll``)
        self._locks: dict[str, asyncio.Lock] = {}

    def _parse_pool(self, sources: int) -> ParsePool:
        workers = self.parse_workers
        if workers is None:
            workers = default_workers() if sources >= POOL_FROM_SOURCES else 0
        return ParsePool(workers)

    async def start_poller(self, sources: int = 0) -> Poller:
        """State rebuilt from the log, then a poller with a fresh shared client."""
        elog = self.context.log
        known, seconds, positions = await asyncio.to_thread(
            rebuild_known, elog, self.topics.published
        )
        self.rebuild_seconds = seconds
        self.published_positions = positions
        since = health_since(self.context.clock.now(), HEALTH_WINDOW_DAYS)
        health = await asyncio.to_thread(rebuild_health, elog, self.topics.polled, since=since)
        log.info("poller state: %d known articles (rebuilt in %.2f s)", len(known), seconds)
        return Poller(
            elog,
            self.topics,
            Fetcher(self.options),
            known=known,
            health=health,
            clock=self.context.clock,
            parsers=self._parse_pool(sources),
        )

    def run_until_idle(self) -> None:
        asyncio.run(self._once())

    def run(self) -> None:
        asyncio.run(self._serve())

    def _ownership(self, poller: Poller, *, scaled: bool) -> Ownership:
        """The given ownership; else the group scheme when serving, everything for one pass."""
        if self.ownership is not None:
            return self.ownership
        if not scaled:
            return AllSources()
        loop = asyncio.get_running_loop()

        def hand_over(revoked: frozenset[int]) -> None:
            """From the ownership thread: wait until the loop has handed these over."""
            ids = [s.id for s in self.sources if ownership.partition_of(s.id) in revoked]
            done = asyncio.run_coroutine_threadsafe(self._hand_over(poller, ids), loop)
            done.result(timeout=2 * RECORD_QUIET_TIMEOUT_S + 1)

        ownership = PartitionOwnership(
            self.context.log,
            self.topics.polled,
            self.topics.published,
            health=poller.health,
            known=poller.known,
            published_from=self.published_positions,
            group=group_name(self.context.settings),
            on_revoked=hand_over,
        )
        return ownership

    async def _hand_over(self, poller: Poller, source_ids: list[str]) -> None:
        """Before sources move to another poller: their polls in flight finish and the
        quiet polls not on the log yet are recorded, so the new owner, reading them, does
        not poll them again within half an interval. Bounded: a hung fetch does not hold up
        the group's rebalance for longer than ``RECORD_QUIET_TIMEOUT_S``."""
        running = [task for sid in source_ids if (task := self._polling.get(sid)) is not None]
        if running:
            await asyncio.wait(running, timeout=RECORD_QUIET_TIMEOUT_S)
        await _record_quiet(poller, source_ids)

    async def poll_once(
        self, sources: list[SourceConfig], *, force: bool = False
    ) -> list[PollReport]:
        """One pass over the given sources (``tocsin poll``); ``force`` polls disabled ones."""
        poller = await self.start_poller(len(sources))
        try:
            self.reports = await poller.poll_many(sources, force=force)
            return self.reports
        finally:
            await _record_quiet(poller)
            await poller.fetcher.aclose()
            poller.close()

    async def _once(self) -> None:
        poller = await self.start_poller(len(self.sources))
        ownership = self._ownership(poller, scaled=False)
        ownership.start()
        try:
            mine = [s for s in self.sources if s.enabled and ownership.owns(s.id)]
            self.reports = await poller.poll_many(mine)
        finally:
            await _record_quiet(poller)
            await asyncio.to_thread(ownership.stop)
            await poller.fetcher.aclose()
            poller.close()

    async def _serve(self) -> None:
        poller = await self.start_poller(len(self.sources))
        ownership = self._ownership(poller, scaled=True)
        self.active_ownership = ownership
        ownership.start()
        await self._await_assignment(ownership)
        partitioned = ownership if isinstance(ownership, PartitionOwnership) else None
        if partitioned is not None:
            partitioned.take_gained()  # the first assignment: the schedule below starts from it
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        now = datetime.now(UTC)
        for source in self.sources:
            if not source.enabled:
                continue
            scheduler.add_job(
                self._job,
                trigger_for(source),
                args=[poller, ownership, source],
                id=source.id,
                name=f"poll {source.id}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(source.interval_s)),
                next_run_time=_next_poll_at(poller, source, now),
            )
        try:
            # the callback listens before the first polls find hubs (a port in use: no polls)
            self.push = await self._start_push(poller, ownership)
            scheduler.start()
            while not self.context.stop.is_set():
                await asyncio.sleep(0.2)
                if partitioned is not None and (gained := partitioned.take_gained()):
                    self._resume(scheduler, poller, partitioned, gained)
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            if self.push is not None:
                await self.push.stop()
            await _record_quiet(poller)
            # off the loop: leaving the group runs the handover hook, which needs the loop
            await asyncio.to_thread(ownership.stop)
            await poller.fetcher.aclose()
            poller.close()

    def _resume(
        self,
        scheduler: AsyncIOScheduler,
        poller: Poller,
        ownership: PartitionOwnership,
        partitions: frozenset[int],
    ) -> int:
        """Moves the next runs of the sources on ``partitions``, just gained, to one interval
        after their last poll (by whichever poller made it), or to now when that has passed
        (``_next_poll_at``).

        Why: this process's schedule runs at another phase than the previous owner's. Left
        alone, a gained source waits for this schedule's next run: up to an interval late,
        or (after a rebalance that revoked and gave back the partition, as Kafka's eager
        protocol, ``assignor=range``, does at every join) a whole interval more for the run
        skipped while it was not owned; or early, a poll less than an interval after the
        previous owner's. Returns how many jobs it moved."""
        now = datetime.now(UTC)
        moved = 0
        for source in self.sources:
            if (
                not source.enabled
                or source.cron
                or source.id in self._polling
                or ownership.partition_of(source.id) not in partitions
            ):
                continue
            job = scheduler.get_job(source.id)
            if job is None or job.next_run_time is None:
                continue
            due = _next_poll_at(poller, source, now)
            if abs((job.next_run_time - due).total_seconds()) > RESUME_SLACK_S:
                job.modify(next_run_time=due)
                moved += 1
        if moved:
            log.info("poller: %d gained sources rescheduled from their last polls", moved)
        return moved

    async def _await_assignment(self, ownership: Ownership) -> None:
        """The first polls are due at start: scheduled before the group gave this process its
        partitions they would all return at once (nothing owned yet), and the next run is a
        whole interval away. So wait for the first assignment, at most ``ASSIGNMENT_WAIT_S``
        (a stand-by poller never gets one) or until stopped."""
        wait = getattr(ownership, "wait_assigned", None)
        if wait is None:
            return
        deadline = asyncio.get_running_loop().time() + ASSIGNMENT_WAIT_S
        while not self.context.stop.is_set() and asyncio.get_running_loop().time() < deadline:
            if await asyncio.to_thread(wait, 0.2):
                return
        log.warning("poller: no sources.polled partitions assigned yet; polling on schedule")

    async def _job(self, poller: Poller, ownership: Ownership, source: SourceConfig) -> None:
        if not ownership.owns(source.id):
            if poller.unrecorded(source.id):  # its partition moved: count what was polled
                await _record_quiet(poller, [source.id])
            return
        if _polled_lately(poller, source):
            return
        report = await self._poll(poller, source)
        if self.push is not None:
            self.push.advertised(source.id, report)

    async def _poll(
        self, poller: Poller, source: SourceConfig, pushed: Document | None = None
    ) -> PollReport:
        """One poll (or push) of the source at a time: two at once would both take the same
        new items for new."""
        async with self._locks.setdefault(source.id, asyncio.Lock()):
            task = asyncio.current_task()
            if task is not None:
                self._polling[source.id] = task
            try:
                report = await poller.poll(source, pushed=pushed)
            finally:
                self._polling.pop(source.id, None)
        self.reports.append(report)
        if len(self.reports) > 1000:
            del self.reports[:500]
        # Failures and new articles on the console; a poll that found nothing new only at
        # debug level (100 sources polled every second would otherwise flood it).
        if report.failed and pushed is None:
            log.warning("%s", report.line())
        elif report.new_articles or report.warnings:
            log.info("%s%s", report.line(), " (pushed)" if pushed is not None else "")
        else:
            log.debug("%s", report.line())
        return report

    async def _start_push(self, poller: Poller, ownership: Ownership) -> PushIntake | None:
        """The WebSub side (``push``), when ``websub.callback_url`` is set."""
        settings = self.context.settings.websub
        if settings.callback_url is None:
            return None
        by_id = {s.id: s for s in self.sources if s.enabled and s.kind == "feed" and s.is_remote}
        pending: set[asyncio.Task[None]] = set()

        def on_push(source_id: str, document: Document) -> None:
            source = by_id.get(source_id)
            if source is None or not ownership.owns(source_id):
                return
            task = asyncio.create_task(self._pushed(poller, source, document))
            pending.add(task)  # held until done: the loop keeps weak references only
            task.add_done_callback(pending.discard)

        async def record(changes: Sequence[SourceSubscription]) -> None:
            await poller.appender.append(
                [subscription_message(c, self.topics.polled) for c in changes]
            )

        push = PushIntake(
            settings,
            poller.fetcher,
            source_urls={sid: s.url for sid, s in by_id.items()},
            owns=ownership.owns,
            on_push=on_push,
            record=record,
            clock=self.context.clock,
        )
        await push.start()
        return push

    async def _pushed(self, poller: Poller, source: SourceConfig, document: Document) -> None:
        """A hub's push read as a poll; when it cannot be read, the source is polled."""
        report = await self._poll(poller, source, document)
        if report.failed and not report.recorded:
            log.warning("websub: %s: %s; polling it instead", source.id, report.error_message)
            await self._poll(poller, source)


async def _record_quiet(poller: Poller, source_ids: list[str] | None = None) -> None:
    """``Poller.record_quiet``, bounded: a stop must not wait out a broker's delivery
    timeout for a count of quiet polls."""
    try:
        await asyncio.wait_for(poller.record_quiet(source_ids), RECORD_QUIET_TIMEOUT_S)
    except (EventLogError, TimeoutError) as exc:
        log.warning("poller: could not record the last quiet polls: %s", exc or "timed out")


def _next_poll_at(poller: Poller, source: SourceConfig, now: datetime) -> datetime:
    """One interval after the source's last poll known here, or now if that is less than
    ``W`` = min(interval, 5 s) ago (a source gained from another poller, late by the
    handover). A source never polled, or overdue by more (a restart after a downtime):
    a random moment within ``W`` from now, so that sources do not poll in lockstep (see the
    module docstring)."""
    window = min(source.interval_s, 5.0)
    last = None if source.cron else poller.last_polled_at(source.id)
    if last is not None:
        due = last + timedelta(seconds=source.interval_s)
        if due >= now - timedelta(seconds=window):
            return max(due, now)
    return now + timedelta(seconds=random.uniform(0, window))


def _polled_lately(poller: Poller, source: SourceConfig) -> bool:
    """Whether the log has a poll of the source less than half an interval old: a run that
    came before ``_resume`` moved it (its partition just moved here, and the previous owner
    polled it at another phase). Its next run comes a whole interval after that poll."""
    health = poller.health.by_source.get(source.id)
    if health is None or source.cron:
        return False
    age = (poller.clock.now() - health.last.polled_at).total_seconds()
    return 0 <= age < source.interval_s / 2


def build(context: ServiceContext, *, origin: Path | None = None) -> PollerService:
    """The registry's entry point: sources from the settings (or the bundled defaults)."""
    sources = sources_from_settings(
        context.settings.section("sources"), origin or config_path(None)
    )
    return PollerService(context, sources)
