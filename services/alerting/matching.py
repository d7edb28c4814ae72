"""Which alerts a subscription wants: one predicate for the notifier (push channels) and the
API (the Atom feed and the SSE stream of ``atom`` / ``sse`` subscriptions).

``matches`` takes an ``AlertRaised`` or the ``AlertFacts`` it depends on, so a caller that
holds an alert as a read-model row (the API) need not rebuild and re-validate the whole
event: the facts are the rule, the severity, the labels and the entity ids the evidence names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from schemas import AlertRaised, Severity
from services.alerting.subscriptions import Subscription

__all__ = ["AlertFacts", "alert_entities", "entities_of_conditions", "matches"]

_ENTITY_ID = re.compile(r"\b([a-z_]+:[A-Za-z0-9_.-]+)")


def entities_of_conditions(conditions: Iterable[str]) -> frozenset[str]:
    """Entity ids named by evidence conditions ("entity country:AM|org:csto" -> both)."""
    found: set[str] = set()
    for condition in conditions:
        if condition.startswith("entity"):
            found.update(_ENTITY_ID.findall(condition))
    return frozenset(found)


def alert_entities(alert: AlertRaised) -> frozenset[str]:
    """Entity ids the alert's evidence names."""
    return entities_of_conditions(ev.condition for ev in alert.evidence)


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What matching looks at, however the alert is stored."""

    rule_id: str
    severity: Severity
    labels: Mapping[str, str] = field(default_factory=dict)
    entities: frozenset[str] = frozenset()
    #: when the alert's newest article was published
    last_seen: datetime | None = None

    @classmethod
    def of(cls, alert: AlertRaised) -> AlertFacts:
        return cls(
            alert.rule_id, alert.severity, alert.labels, alert_entities(alert), alert.last_seen
        )


def matches(
    sub: Subscription, alert: AlertRaised | AlertFacts, raised_at: datetime | None = None
) -> bool:
    """Whether the alert is one the subscription asked for (every given criterion holds;
    a disabled subscription matches nothing). ``raised_at``, when the alert (this revision)
    was raised, is what ``max_age`` measures from: the event's own time, so that the same
    events decide alike in a replay."""
    m = sub.match
    if (
        not sub.enabled
        or Severity(alert.severity).rank < m.min_severity.rank
        or _too_old(sub, alert, raised_at)
    ):
        return False
    if m.rules and alert.rule_id not in m.rules:
        return False
    if any(alert.labels.get(k) != v for k, v in m.labels.items()):
        return False
    if m.countries or m.entities:
        entities = alert.entities if isinstance(alert, AlertFacts) else alert_entities(alert)
        countries = {e.split(":", 1)[1].upper() for e in entities if e.startswith("country:")}
        label_country = alert.labels.get("country", "").upper()
        if label_country:
            countries.add(label_country)
        if m.countries and not countries.intersection(m.countries):
            return False
        if m.entities and not entities.intersection(m.entities):
            return False
    return True


def _too_old(
    sub: Subscription, alert: AlertRaised | AlertFacts, raised_at: datetime | None
) -> bool:
    """Whether the alert's newest article was older than ``max_age`` when it was raised."""
    limit, newest = sub.match.max_age, alert.last_seen
    return (
        limit is not None
        and raised_at is not None
        and newest is not None
        and (raised_at - newest > limit)
    )
