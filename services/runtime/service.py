"""What a service is to the process that runs it: built from a context, run until stopped.

Each service package has a ``runner`` module with ``build(context) -> Service``; the registry
(``services.registry``) names them, and ``tocsin serve NAME`` / ``tocsin run`` start them. A
service that consumes the log is usually a ``ConsumerService``: the runtime loop around the
service's pure handler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.eventlog import EventLog
from services.runtime.clock import Clock, SystemClock
from services.runtime.loop import ConsumerLoop
from services.runtime.metrics import Metrics
from services.runtime.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    """Everything a service may use, built once by the command that starts it."""

    settings: Settings
    log: EventLog
    stop: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics = field(default_factory=Metrics)
    clock: Clock = field(default_factory=SystemClock)
    #: True when several services run as threads of this process (``tocsin run``): a service
    #: with CPU-bound work may then move it to worker processes (the enricher does)
    shared_process: bool = False


class Service(Protocol):
    name: str

    def run(self) -> None:
        """Work until ``context.stop`` is set, then release what it holds."""

    def run_until_idle(self) -> None:
        """Work until there is nothing left to do right now (batch jobs, tests), then release."""


ServiceFactory = Callable[[ServiceContext], Service]


class ConsumerService:
    """A service that is one consumer loop: the common case (enricher, rules, notifier...)."""

    def __init__(self, name: str, loop: ConsumerLoop) -> None:
        self.name = name
        self.loop = loop

    def run(self) -> None:
        self.loop.run()

    def run_until_idle(self) -> None:
        try:
            self.loop.run_until_idle()
        finally:
            self.loop.close()
