"""The one place that turns settings into a ready event log with Tocsin's topics."""

from __future__ import annotations

from schemas import TOPICS, topic_name
from services.eventlog import EventLog, NewTopic, open_log
from services.runtime.settings import Settings


def topic(settings: Settings, base: str) -> str:
    """The full name of one of Tocsin's topics under the configured prefix."""
    return topic_name(base, settings.topic_prefix)


def tocsin_topics(settings: Settings) -> list[NewTopic]:
    return [
        NewTopic(topic(settings, spec.name), spec.partitions, spec.retention_ms)
        for spec in TOPICS.values()
    ]


def open_event_log(settings: Settings, *, create_topics: bool = True) -> EventLog:
    """Open the configured log and create any of Tocsin's topics it lacks."""
    log = open_log(settings.log, **settings.log_options())
    if create_topics:
        try:
            log.create_topics(tocsin_topics(settings))
        except BaseException:
            log.close()
            raise
    return log
