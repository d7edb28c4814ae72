"""Alert events: raised by the rules service, delivered (or not) by the notifier."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import Part, Payload

ALERT_RAISED: Final = "tocsin.alert.raised.v1"
ALERT_DELIVERED: Final = "tocsin.alert.delivered.v1"
ALERT_DELIVERY_FAILED: Final = "tocsin.alert.delivery_failed.v1"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class AlertArticle(Part):
    article_id: str
    url: str | None = None
    title: str = ""
    source_id: str
    published_at: AwareDatetime


class Evidence(Part):
    """Why a rule fired: one matched condition, its surface form, and where it stands."""

    article_id: str
    condition: str = Field(description="the rule condition that matched, as written in the rule")
    surface: str = Field(description="the text that matched")
    snippet: str = Field(description="the surrounding text (untrusted: escape when shown)")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    sentence: int | None = None


class AlertRaised(Payload):
    """A rule fired. ``revision`` > 0 marks an update of the same alert (a new source joined)."""

    event_type = ALERT_RAISED

    alert_id: str
    rule_id: str
    rule_version: str
    ruleset_version: str
    severity: Severity
    labels: dict[str, str] = Field(default_factory=dict)
    title: str
    description: str = ""
    key: str = Field(
        description="the grouping key: the article id, or the window key of a windowed rule"
    )
    articles: tuple[AlertArticle, ...] = Field(min_length=1)
    evidence: tuple[Evidence, ...] = ()
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    source_count: int = Field(ge=1)
    revision: int = Field(default=0, ge=0)


class AlertDelivered(Payload):
    event_type = ALERT_DELIVERED

    delivery_id: str
    alert_id: str
    alert_revision: int = Field(default=0, ge=0)
    subscription_id: str
    channel: str = Field(description="channel kind: webhook, slack, email, atom, sse")
    attempts: int = Field(ge=1)
    delivered_at: AwareDatetime
    status_code: int | None = None
    digest: bool = False


class AlertDeliveryFailed(Payload):
    event_type = ALERT_DELIVERY_FAILED

    delivery_id: str
    alert_id: str
    alert_revision: int = Field(default=0, ge=0)
    subscription_id: str
    channel: str
    attempts: int = Field(ge=1)
    failed_at: AwareDatetime
    error: str
    status_code: int | None = None
