"""The subscriptions in force: those of the config file, plus those created, updated and
deleted through events on the ``subscriptions`` topic (the API's).

A config subscription cannot be changed by an event (the file is its source; an event for
its id is refused). An invalid definition in an event is refused with the reason, and the
previous definition, if any, stays in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas import CloudEvent, SubscriptionCreated, SubscriptionDeleted, SubscriptionUpdated
from services.alerting.subscriptions import (
    Subscription,
    SubscriptionError,
    expand_secrets,
    load_subscriptions,
    parse_subscription,
)
from services.notifier.channels import PUBLIC_ONLY, Channel, build_channel
from services.runtime.addresses import InternalHosts
from services.runtime.settings import ConfigError, Settings

__all__ = ["SubscriptionBook", "configured", "delivery_guard"]


def configured(settings: Settings) -> list[Subscription]:
    """The config file's subscriptions; a ``ConfigError`` naming every invalid one."""
    try:
        return load_subscriptions(settings.section("subscriptions"))
    except SubscriptionError as exc:
        raise ConfigError(str(exc)) from None


def delivery_guard(settings: Settings) -> InternalHosts | None:
    """What checks the hosts of subscriptions made through the API (``channels.guard``);
    None when ``api.allow_private_urls`` lets them point anywhere."""
    return None if settings.api.allow_private_urls else InternalHosts()


class SubscriptionBook:
    def __init__(self, configured: Sequence[Subscription]) -> None:
        self.configured = {s.id: s for s in configured}
        self.dynamic: dict[str, Subscription] = {}

    def all(self) -> list[Subscription]:
        return [*self.configured.values(), *self.dynamic.values()]

    def get(self, ident: str) -> Subscription | None:
        return self.configured.get(ident) or self.dynamic.get(ident)

    def fold(self, events: Iterable[CloudEvent]) -> list[str]:
        """Apply subscription events in log order; what each refused one said."""
        refused = []
        for event in events:
            try:
                self.apply(event)
            except SubscriptionError as exc:
                refused.append(str(exc))
        return refused

    def sender(self, sub: Subscription, guard: InternalHosts | None) -> Channel:
        """The channel to send through: checked by ``guard`` when ``sub`` came through the
        API; the config file's are the operator's own and go anywhere, unless the
        subscription asks for public hosts only (``block_private``)."""
        if guard is not None and sub.id not in self.configured:
            return build_channel(sub, guard)
        if getattr(sub.channel, "block_private", False):
            return build_channel(sub, guard or InternalHosts(), PUBLIC_ONLY)
        return build_channel(sub)

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
