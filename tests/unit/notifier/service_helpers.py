"""Running the notifier in a thread against a SQLite log, and reading its outcomes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from notifier_support import raised_event
from waiting import wait_until

from schemas import AlertDelivered, AlertDeliveryFailed, AlertRaised
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.notifier.runner import NotifierOptions, NotifierService, build, read_all
from services.runtime.clock import Clock, SystemClock
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


def settings(log_url: str, subscriptions: list[dict[str, Any]]) -> Settings:
    return Settings(log=log_url, subscriptions=subscriptions)


def append_alerts(elog: EventLog, alerts: list[AlertRaised]) -> None:
    elog.append([encode(raised_event(a), topic="alerts.raised", key=a.alert_id) for a in alerts])


def outcomes(elog: EventLog) -> list[AlertDelivered | AlertDeliveryFailed]:
    return [
        e.data
        for e in read_all(elog, "alerts.delivered")
        if isinstance(e.data, AlertDelivered | AlertDeliveryFailed)
    ]


wait_for = partial(wait_until, timeout_s=10.0)


@contextmanager
def running(
    elog: EventLog, cfg: Settings, clock: Clock | None = None, **options: Any
) -> Iterator[NotifierService]:
    stop = threading.Event()
    service = build(
        ServiceContext(settings=cfg, log=elog, stop=stop, clock=clock or SystemClock()),
        NotifierOptions(alert_url="https://tocsin.example/alerts/{alert_id}", **options),
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the notifier did not stop"
