"""Every topic in one place: its name, partitions, key, the event types it carries, retention.

Names carry a configurable prefix (``topic_name``), so several Tocsin deployments can share
one Kafka cluster. The key decides the partition (stable hash mod partitions), and order is
kept per key: every event about one article, one alert or one source stays in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alerts import ALERT_DELIVERED, ALERT_DELIVERY_FAILED, ALERT_RAISED
from schemas.articles import ARTICLE_ENRICHED, ARTICLE_PUBLISHED
from schemas.deadletter import DEADLETTER
from schemas.lifecycle import (
    ALERT_ACKNOWLEDGED,
    ALERT_ASSIGNED,
    ALERT_COMMENTED,
    ALERT_REOPENED,
    ALERT_RESOLVED,
)
from schemas.rulesets import RULESET_ACTIVATED
from schemas.sources import SOURCE_POLLED, SOURCE_SUBSCRIPTION
from schemas.subscriptions import SUBSCRIPTION_CREATED, SUBSCRIPTION_DELETED, SUBSCRIPTION_UPDATED

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    event_types: tuple[str, ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    retention_ms: int | None  # None: kept forever (the log is the source of truth)
    description: str


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(
            name="articles.published",
            partitions=6,
            key="article id",
            event_types=(ARTICLE_PUBLISHED,),
            producers=("poller",),
            consumers=("enricher", "projections"),
            retention_ms=None,
            description="every new or changed article, as seen at its source",
        ),
        TopicSpec(
            name="articles.enriched",
            partitions=6,
            key="article id",
            event_types=(ARTICLE_ENRICHED,),
            producers=("enricher",),
            consumers=("rules", "projections", "replay"),
            retention_ms=None,
            description="articles with language, sentences, entities and tags",
        ),
        TopicSpec(
            name="alerts.raised",
            partitions=3,
            key="alert id",
            event_types=(ALERT_RAISED,),
            producers=("rules", "replay"),
            consumers=("notifier", "projections"),
            retention_ms=None,
            description="alerts and their updates, with evidence",
        ),
        TopicSpec(
            name="alerts.delivered",
            partitions=3,
            key="alert id",
            event_types=(ALERT_DELIVERED, ALERT_DELIVERY_FAILED),
            producers=("notifier",),
            consumers=("notifier", "projections"),
            retention_ms=None,
            description="the outcome of every delivery attempt that ended",
        ),
        TopicSpec(
            name="alerts.lifecycle",
            partitions=3,
            key="alert id",
            event_types=(
                ALERT_ACKNOWLEDGED,
                ALERT_ASSIGNED,
                ALERT_COMMENTED,
                ALERT_RESOLVED,
                ALERT_REOPENED,
            ),
            producers=("cli", "api"),
            consumers=("projections", "cli", "api"),
            retention_ms=None,
            description="what analysts did with an alert: acknowledged, assigned, commented, resolved",
        ),
        TopicSpec(
            name="subscriptions",
            partitions=1,
            key="subscription id",
            event_types=(SUBSCRIPTION_CREATED, SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED),
            producers=("api",),
            consumers=("notifier", "projections"),
            retention_ms=None,
            description="subscriptions created, updated or deleted outside the config file",
        ),
        TopicSpec(
            name="sources.polled",
            partitions=3,
            key="source id",
            event_types=(SOURCE_POLLED, SOURCE_SUBSCRIPTION),
            producers=("poller",),
            consumers=("poller", "projections"),
            retention_ms=90 * _DAY_MS,
            description="feed health: one event per poll, and each change of a source's WebSub subscription",
        ),
        TopicSpec(
            name="rulesets",
            partitions=1,
            key="ruleset version",
            event_types=(RULESET_ACTIVATED,),
            producers=("rules",),
            consumers=("rules", "replay", "projections"),
            retention_ms=None,
            description="each rule set activated, so replay knows which rules were in force",
        ),
        TopicSpec(
            name="deadletter",
            partitions=1,
            key="original topic",
            event_types=(DEADLETTER,),
            producers=("every consumer",),
            consumers=("projections",),
            retention_ms=None,
            description="records a consumer could not process, with the reason",
        ),
    )
}


def topic_name(base: str, prefix: str = "") -> str:
    """The full topic name for a base name: ``prefix`` + base (``TOCSIN_TOPIC_PREFIX``)."""
    if base not in TOPICS:
        raise KeyError(f"unknown topic {base!r}; known: {', '.join(sorted(TOPICS))}")
    return f"{prefix}{base}"
