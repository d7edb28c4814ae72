"""The notifier's pure core: alert -> matching subscriptions -> delivery intents, and the
outcome events. No I/O, no clock: time comes in as an argument. Matching itself
(``matches``) lives in the shared ``services.alerting`` library, which the API uses too.

Delivery ids (``schemas.ids.delivery_id``) make a delivery exactly-once per subscription:

- revision 0 of an alert has ``delivery_id(alert_id, subscription_id)``;
- a later revision (new articles on the alert's story) has the *same* id unless the
  subscription sets ``updates: true``; then it has
  ``delivery_id(f"{alert_id}@r{revision}", subscription_id)``, one per revision.
  So by default a subscriber hears of an alert once (from whichever revision first matched
  its subscription), and a subscriber who asked for updates hears of every revision once.

``DeliveryState`` is the set of delivery ids with a recorded outcome (``alert.delivered`` or
``alert.delivery_failed`` on ``alerts.delivered``), rebuilt from that topic at start: an
id in it is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas import AlertDelivered, AlertDeliveryFailed, AlertRaised, CloudEvent, new_event
from schemas.ids import content_hash, delivery_id
from services.alerting.matching import alert_entities, matches
from services.alerting.subscriptions import Subscription

__all__ = [
    "SOURCE",
    "DeliveryState",
    "Intent",
    "alert_entities",
    "delivered_event",
    "delivery_key",
    "failed_event",
    "held_until",
    "matches",
    "plan",
]

SOURCE = "/tocsin/notifier"


def delivery_key(sub: Subscription, alert: AlertRaised) -> str:
    """The delivery id of this alert revision for this subscription (see the module docstring)."""
    if alert.revision == 0 or not sub.updates:
        return delivery_id(alert.alert_id, sub.id)
    return delivery_id(f"{alert.alert_id}@r{alert.revision}", sub.id)


@dataclass(frozen=True, slots=True)
class Intent:
    """One alert revision to deliver to one subscription."""

    delivery_id: str
    subscription_id: str
    alert: AlertRaised
    event_id: str


class DeliveryState:
    """Delivery ids with a recorded outcome, and those handed to a channel but not yet recorded."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.in_flight: set[str] = set()

    def apply(self, event: CloudEvent) -> None:
        """Fold one ``alerts.delivered`` event."""
        if isinstance(event.data, AlertDelivered | AlertDeliveryFailed):
            self.done.add(event.data.delivery_id)
            self.in_flight.discard(event.data.delivery_id)

    def settle(self, ident: str) -> None:
        self.done.add(ident)
        self.in_flight.discard(ident)

    def open(self, ident: str) -> bool:
        return ident not in self.done and ident not in self.in_flight


def plan(
    event: CloudEvent, subscriptions: Sequence[Subscription], state: DeliveryState
) -> list[Intent]:
    """The deliveries an ``alert.raised`` event needs: one per matching pushed subscription
    whose delivery id has neither an outcome nor a delivery in flight."""
    alert = event.data
    if not isinstance(alert, AlertRaised):
        return []
    out = []
    for sub in subscriptions:
        if not sub.pushed or not matches(sub, alert, event.time):
            continue
        ident = delivery_key(sub, alert)
        if state.open(ident):
            out.append(Intent(ident, sub.id, alert, event.id))
    return out


def held_until(sub: Subscription, alert: AlertRaised, now: datetime) -> datetime | None:
    """None to send now; else when the alert goes out (its digest, or the end of quiet hours).

    Digest subscriptions wait for their next digest time. Immediate ones wait during quiet
    hours, unless the alert is critical, and go out as one digest when the quiet hours end
    (or at the next digest time if the subscription has one)."""
    if sub.mode != "immediate":
        return sub.mode.next_after(now)
    quiet = sub.quiet_hours
    if quiet is not None and alert.severity != "critical" and quiet.contains(now):
        return quiet.ends_after(now)
    return None


def delivered_event(
    intent: Intent,
    *,
    channel: str,
    attempts: int,
    at: datetime,
    status_code: int | None,
    digest: bool,
) -> CloudEvent:
    payload = AlertDelivered(
        delivery_id=intent.delivery_id,
        alert_id=intent.alert.alert_id,
        alert_revision=intent.alert.revision,
        subscription_id=intent.subscription_id,
        channel=channel,
        attempts=attempts,
        delivered_at=at,
        status_code=status_code,
        digest=digest,
    )
    return new_event(
        payload,
        id="out_" + content_hash("delivered", intent.delivery_id),
        source=SOURCE,
        subject=intent.alert.alert_id,
        time=at,
        causationid=intent.event_id,
    )


def failed_event(
    intent: Intent,
    *,
    channel: str,
    attempts: int,
    at: datetime,
    error: str,
    status_code: int | None,
) -> CloudEvent:
    payload = AlertDeliveryFailed(
        delivery_id=intent.delivery_id,
        alert_id=intent.alert.alert_id,
        alert_revision=intent.alert.revision,
        subscription_id=intent.subscription_id,
        channel=channel,
        attempts=max(1, attempts),
        failed_at=at,
        error=error[:2000],
        status_code=status_code,
    )
    return new_event(
        payload,
        id="out_" + content_hash("failed", intent.delivery_id),
        source=SOURCE,
        subject=intent.alert.alert_id,
        time=at,
        causationid=intent.event_id,
    )


def digest_key(delivery_ids: Iterable[str]) -> str:
    """The idempotency key of a digest: the same alerts in one digest give the same key."""
    return "dgs_" + content_hash(*sorted(delivery_ids))
