"""The subscription model moved to the shared ``services.alerting`` library (the API serves
``atom`` and ``sse`` subscriptions with it too); these names stay importable from here."""

from __future__ import annotations

from services.alerting.subscriptions import (
    PULL_KINDS,
    PUSH_KINDS,
    AtomChannel,
    ChannelConfig,
    DeliveryOptions,
    DigestMode,
    EmailChannel,
    Match,
    QuietHours,
    SlackChannel,
    SseChannel,
    Subscriber,
    Subscription,
    SubscriptionError,
    WebhookChannel,
    expand_secrets,
    load_subscriptions,
    parse_subscription,
)

__all__ = [
    "PULL_KINDS",
    "PUSH_KINDS",
    "AtomChannel",
    "ChannelConfig",
    "DeliveryOptions",
    "DigestMode",
    "EmailChannel",
    "Match",
    "QuietHours",
    "SlackChannel",
    "SseChannel",
    "Subscriber",
    "Subscription",
    "SubscriptionError",
    "WebhookChannel",
    "expand_secrets",
    "load_subscriptions",
    "parse_subscription",
]
