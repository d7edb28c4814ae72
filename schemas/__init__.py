"""Tocsin's event contracts.

Every event on the log is a CloudEvents 1.0 envelope in JSON structured mode whose ``data``
is one of the versioned payload models below. Pydantic models are the single source: the JSON
Schema files under ``schemas/json/`` are generated from them (``tocsin schemas export``) and a
test fails when the two drift apart. This package imports nothing from ``services``.
"""

from schemas.alerts import (
    AlertArticle,
    AlertDelivered,
    AlertDeliveryFailed,
    AlertRaised,
    Evidence,
    Severity,
)
from schemas.articles import (
    ArticleEnriched,
    ArticlePublished,
    EntityMention,
    LanguageGuess,
    MentionedEntity,
    SentenceSpan,
    TagHit,
)
from schemas.deadletter import DeadLetter
from schemas.envelope import CloudEvent, Payload
from schemas.lifecycle import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertReopened,
    AlertResolved,
)
from schemas.registry import EVENT_CLASSES, EVENT_TYPES, decode_event, event_class_for, new_event
from schemas.rulesets import RuleRef, RulesetActivated
from schemas.sources import PollStatus, PushState, SourcePolled, SourceSubscription
from schemas.subscriptions import SubscriptionCreated, SubscriptionDeleted, SubscriptionUpdated
from schemas.topics import TOPICS, TopicSpec, topic_name

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "TOPICS",
    "AlertAcknowledged",
    "AlertArticle",
    "AlertAssigned",
    "AlertCommented",
    "AlertDelivered",
    "AlertDeliveryFailed",
    "AlertRaised",
    "AlertReopened",
    "AlertResolved",
    "ArticleEnriched",
    "ArticlePublished",
    "CloudEvent",
    "DeadLetter",
    "EntityMention",
    "Evidence",
    "LanguageGuess",
    "MentionedEntity",
    "Payload",
    "PollStatus",
    "PushState",
    "RuleRef",
    "RulesetActivated",
    "SentenceSpan",
    "Severity",
    "SourcePolled",
    "SourceSubscription",
    "SubscriptionCreated",
    "SubscriptionDeleted",
    "SubscriptionUpdated",
    "TagHit",
    "TopicSpec",
    "decode_event",
    "event_class_for",
    "new_event",
    "topic_name",
]
