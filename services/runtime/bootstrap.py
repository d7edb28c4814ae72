"""The one place that turns settings into a ready event log with Tocsin's topics."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential_jitter,
)

from schemas import TOPICS, topic_name
from services.eventlog import EventLog, NewTopic, UnavailableError, open_log
from services.runtime.settings import Settings


def topic(settings: Settings, base: str) -> str:
    """The full name of one of Tocsin's topics under the configured prefix."""
    return topic_name(base, settings.topic_prefix)


def group(settings: Settings, base: str) -> str:
    """A consumer group's full name, under the topic prefix like the topics: deployments
    sharing a Kafka cluster (one prefix each) must not share, or rebalance, each other's
    groups."""
    return f"{settings.topic_prefix}{base}"


def tocsin_topics(settings: Settings) -> list[NewTopic]:
    return [
        NewTopic(topic(settings, spec.name), spec.partitions, spec.retention_ms)
        for spec in TOPICS.values()
    ]


def open_event_log(
    settings: Settings,
    *,
    create_topics: bool = True,
    wait_s: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> EventLog:
    """Open the configured log and create any of Tocsin's topics it lacks.

    ``wait_s``: while the log's servers are unreachable (``UnavailableError``: a broker
    outage, not a local failure such as a full disk), try again with backoff for this long,
    telling ``on_wait`` before each wait; a service started before its broker then simply
    starts late instead of exiting. Setting ``stop`` (Ctrl-C) ends the wait."""
    if wait_s <= 0:
        return _open(settings, create_topics)
    runtime = settings.runtime
    halt = stop or threading.Event()

    def pause(seconds: float) -> None:
        halt.wait(seconds)

    def report(state: RetryCallState) -> None:
        if on_wait is not None and state.outcome is not None and state.next_action is not None:
            on_wait(
                f"{state.outcome.exception()}; trying again in {state.next_action.sleep:.1f} s "
                f"(waited {state.seconds_since_start:.0f} of {wait_s:g} s)"
            )

    retrying = Retrying(
        retry=retry_if_exception_type(UnavailableError),
        wait=wait_exponential_jitter(multiplier=runtime.retry_initial_s, max=runtime.retry_max_s),
        stop=stop_after_delay(wait_s) | stop_when_event_set(halt),
        sleep=pause,
        before_sleep=report,
        reraise=True,
    )
    return retrying(_open, settings, create_topics)


def _open(settings: Settings, create_topics: bool) -> EventLog:
    log = open_log(settings.log, **settings.log_options())
    if create_topics:
        try:
            log.create_topics(tocsin_topics(settings))
        except BaseException:
            log.close()
            raise
    return log
