"""The subscriptions in force: those of the config file, plus those created, updated and
deleted through events on the ``subscriptions`` topic (the API's).

A config subscription cannot be changed by an event (the file is its source; an event for
its id is refused). An invalid definition in an event is refused with the reason, and the
previous definition, if any, stays in force.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import CloudEvent, SubscriptionCreated, SubscriptionDeleted, SubscriptionUpdated
from services.alerting.subscriptions import (
    Subscription,
    SubscriptionError,
    expand_secrets,
    parse_subscription,
)

__all__ = ["SubscriptionBook"]


class SubscriptionBook:
    def __init__(self, configured: Sequence[Subscription]) -> None:
        self.configured = {s.id: s for s in configured}
        self.dynamic: dict[str, Subscription] = {}

    def all(self) -> list[Subscription]:
        return [*self.configured.values(), *self.dynamic.values()]

    def get(self, ident: str) -> Subscription | None:
        return self.configured.get(ident) or self.dynamic.get(ident)

    def apply(self, event: CloudEvent) -> str | None:
        """Fold one subscription event; the id it changed, or None if it changed nothing.
        Raises ``SubscriptionError`` for an event that cannot be applied."""
        data = event.data
        if not isinstance(data, SubscriptionCreated | SubscriptionUpdated | SubscriptionDeleted):
            return None
        ident = data.subscription_id
        if ident in self.configured:
            raise SubscriptionError(
                f"subscription {ident}: defined in the config file; events cannot change it"
            )
        if isinstance(data, SubscriptionDeleted):
            return ident if self.dynamic.pop(ident, None) is not None else None
        definition = dict(data.definition)
        if definition.setdefault("id", ident) != ident:
            raise SubscriptionError(
                f"subscription {ident}: definition id {definition['id']!r} differs from the event's"
            )
        sub = parse_subscription(expand_secrets(definition), f"subscription event {event.id}")
        if self.dynamic.get(ident) == sub:
            return None
        self.dynamic[ident] = sub
        return ident
