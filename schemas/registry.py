"""Event type string -> envelope class, and the one decoder every consumer uses.

Each event class pins ``type`` to a literal and ``data`` to its payload model, so that a
single discriminated-union parse (done in pydantic-core) both checks the envelope and picks
and validates the payload. Type strings are stable and versioned; they are never Python
import paths, so a class can be renamed without touching the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.alerts import (
    ALERT_DELIVERED,
    ALERT_DELIVERY_FAILED,
    ALERT_RAISED,
    AlertDelivered,
    AlertDeliveryFailed,
    AlertRaised,
)
from schemas.articles import ARTICLE_ENRICHED, ARTICLE_PUBLISHED, ArticleEnriched, ArticlePublished
from schemas.deadletter import DEADLETTER, DeadLetter
from schemas.envelope import CloudEvent, Payload
from schemas.lifecycle import (
    ALERT_ACKNOWLEDGED,
    ALERT_ASSIGNED,
    ALERT_COMMENTED,
    ALERT_REOPENED,
    ALERT_RESOLVED,
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertReopened,
    AlertResolved,
)
from schemas.rulesets import RULESET_ACTIVATED, RulesetActivated
from schemas.sources import SOURCE_POLLED, SOURCE_SUBSCRIPTION, SourcePolled, SourceSubscription
from schemas.subscriptions import (
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionUpdated,
)


class ArticlePublishedEvent(CloudEvent):
    type: Literal["tocsin.article.published.v1"] = ARTICLE_PUBLISHED
    data: ArticlePublished


class ArticleEnrichedEvent(CloudEvent):
    type: Literal["tocsin.article.enriched.v1"] = ARTICLE_ENRICHED
    data: ArticleEnriched


class AlertRaisedEvent(CloudEvent):
    type: Literal["tocsin.alert.raised.v1"] = ALERT_RAISED
    data: AlertRaised


class AlertDeliveredEvent(CloudEvent):
    type: Literal["tocsin.alert.delivered.v1"] = ALERT_DELIVERED
    data: AlertDelivered


class AlertDeliveryFailedEvent(CloudEvent):
    type: Literal["tocsin.alert.delivery_failed.v1"] = ALERT_DELIVERY_FAILED
    data: AlertDeliveryFailed


class SourcePolledEvent(CloudEvent):
    type: Literal["tocsin.source.polled.v1"] = SOURCE_POLLED
    data: SourcePolled


class SourceSubscriptionEvent(CloudEvent):
    type: Literal["tocsin.source.subscription.v1"] = SOURCE_SUBSCRIPTION
    data: SourceSubscription


class RulesetActivatedEvent(CloudEvent):
    type: Literal["tocsin.ruleset.activated.v1"] = RULESET_ACTIVATED
    data: RulesetActivated


class DeadLetterEvent(CloudEvent):
    type: Literal["tocsin.deadletter.v1"] = DEADLETTER
    data: DeadLetter


class AlertAcknowledgedEvent(CloudEvent):
    type: Literal["tocsin.alert.acknowledged.v1"] = ALERT_ACKNOWLEDGED
    data: AlertAcknowledged


class AlertAssignedEvent(CloudEvent):
    type: Literal["tocsin.alert.assigned.v1"] = ALERT_ASSIGNED
    data: AlertAssigned


class AlertCommentedEvent(CloudEvent):
    type: Literal["tocsin.alert.commented.v1"] = ALERT_COMMENTED
    data: AlertCommented


class AlertResolvedEvent(CloudEvent):
    type: Literal["tocsin.alert.resolved.v1"] = ALERT_RESOLVED
    data: AlertResolved


class AlertReopenedEvent(CloudEvent):
    type: Literal["tocsin.alert.reopened.v1"] = ALERT_REOPENED
    data: AlertReopened


class SubscriptionCreatedEvent(CloudEvent):
    type: Literal["tocsin.subscription.created.v1"] = SUBSCRIPTION_CREATED
    data: SubscriptionCreated


class SubscriptionUpdatedEvent(CloudEvent):
    type: Literal["tocsin.subscription.updated.v1"] = SUBSCRIPTION_UPDATED
    data: SubscriptionUpdated


class SubscriptionDeletedEvent(CloudEvent):
    type: Literal["tocsin.subscription.deleted.v1"] = SUBSCRIPTION_DELETED
    data: SubscriptionDeleted


EVENT_CLASSES: tuple[type[CloudEvent], ...] = (
    ArticlePublishedEvent,
    ArticleEnrichedEvent,
    AlertRaisedEvent,
    AlertDeliveredEvent,
    AlertDeliveryFailedEvent,
    SourcePolledEvent,
    SourceSubscriptionEvent,
    RulesetActivatedEvent,
    DeadLetterEvent,
    AlertAcknowledgedEvent,
    AlertAssignedEvent,
    AlertCommentedEvent,
    AlertResolvedEvent,
    AlertReopenedEvent,
    SubscriptionCreatedEvent,
    SubscriptionUpdatedEvent,
    SubscriptionDeletedEvent,
)

#: type string -> envelope class
EVENT_TYPES: dict[str, type[CloudEvent]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_CLASSES
}
_BY_PAYLOAD: dict[type[Payload], type[CloudEvent]] = {
    cls.model_fields["data"].annotation: cls  # type: ignore[misc]
    for cls in EVENT_CLASSES
}

AnyEvent = Annotated[
    ArticlePublishedEvent
    | ArticleEnrichedEvent
    | AlertRaisedEvent
    | AlertDeliveredEvent
    | AlertDeliveryFailedEvent
    | SourcePolledEvent
    | SourceSubscriptionEvent
    | RulesetActivatedEvent
    | DeadLetterEvent
    | AlertAcknowledgedEvent
    | AlertAssignedEvent
    | AlertCommentedEvent
    | AlertResolvedEvent
    | AlertReopenedEvent
    | SubscriptionCreatedEvent
    | SubscriptionUpdatedEvent
    | SubscriptionDeletedEvent,
    Field(discriminator="type"),
]
_ANY_EVENT: TypeAdapter[CloudEvent] = TypeAdapter(AnyEvent)


def decode_event(raw: bytes | str) -> CloudEvent:
    """Parse and validate one JSON event. Raises ``pydantic.ValidationError`` when it is not one."""
    return _ANY_EVENT.validate_json(raw)


def event_class_for(payload: type[Payload]) -> type[CloudEvent]:
    return _BY_PAYLOAD[payload]


def new_event(
    payload: Payload,
    *,
    id: str,
    source: str,
    subject: str | None = None,
    time: datetime | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
) -> CloudEvent:
    """Wrap a payload in its envelope. ``id`` must be deterministic (see ``schemas.ids``)."""
    cls = _BY_PAYLOAD[type(payload)]
    return cls(
        type=payload.event_type,
        id=id,
        source=source,
        subject=subject,
        time=time or datetime.now(UTC),
        correlationid=correlationid,
        causationid=causationid,
        data=payload,
    )
