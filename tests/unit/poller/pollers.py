"""Pollers for the poller's tests: a whole ``PollerService`` running in a thread (as one
process of a scaled-out deployment would), and a ``Poller`` that the test drives itself."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from feed_server import FAST

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog, open_log
from services.poller.assignment import PartitionOwnership
from services.poller.config import SourceConfig
from services.poller.fetch import Fetcher, FetchOptions
from services.poller.poller import Poller, Topics
from services.poller.runner import PollerService
from services.runtime.clock import Clock
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


class RunningPoller:
    """One ``PollerService.run()`` in a thread, on its own connection to the log, with its
    own User-Agent (``agent``), so the HTTP server on 127.0.0.1 can tell who polled what."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        url: str,
        sources: list[SourceConfig],
        **log_options: object,
    ) -> None:
        self.name = name
        self.agent = f"tocsin-test-{name}"
        self.log = open_log(url, **log_options)
        self.context = ServiceContext(settings=settings, log=self.log)
        options = replace(FAST, user_agent=self.agent)
        self.service = PollerService(self.context, sources, options=options)
        self.thread = threading.Thread(target=self.service.run, name=f"poller-{name}")

    def start(self) -> RunningPoller:
        self.thread.start()
        return self

    @property
    def owned(self) -> frozenset[int]:
        own = self.service.active_ownership
        if not isinstance(own, PartitionOwnership) or not own.ready.is_set():
            return frozenset()
        return own.owned_partitions

    def stop(self) -> None:
        self.context.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)
        self.log.close()


def offline_poller(log: EventLog, clock: Clock | None = None) -> Poller:
    """A poller on Tocsin's default topics whose fetcher is never used by the test."""
    return Poller(
        log,
        Topics("articles.published", "sources.polled"),
        Fetcher(FetchOptions(trust_env=False)),
        clock=clock,
    )


def not_modified(source_id: str, url: str, at: datetime) -> SourcePolled:
    """A poll that found the source unchanged, as a previous owner would have recorded it."""
    return SourcePolled(
        source_id=source_id,
        url=url,
        polled_at=at,
        status=PollStatus.NOT_MODIFIED,
        latency_ms=1.0,
    )
