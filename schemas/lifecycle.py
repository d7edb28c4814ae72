"""Alert lifecycle events: what analysts do with an alert (acknowledge, assign, comment,
resolve, reopen), each with who did it and when.

They live on ``alerts.lifecycle``, keyed by alert id, so that every event about one alert
stays in order. An alert's status is a fold of ``alerts.raised`` and this topic: a new
revision of a resolved alert (new articles on its story) reopens it, whether or not an
``alert.reopened`` event was written (``alert.reopened`` records an explicit reopen).
"""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import Payload

ALERT_ACKNOWLEDGED: Final = "tocsin.alert.acknowledged.v1"
ALERT_ASSIGNED: Final = "tocsin.alert.assigned.v1"
ALERT_COMMENTED: Final = "tocsin.alert.commented.v1"
ALERT_RESOLVED: Final = "tocsin.alert.resolved.v1"
ALERT_REOPENED: Final = "tocsin.alert.reopened.v1"


class _LifecycleEvent(Payload):
    alert_id: str = Field(min_length=1)
    by: str = Field(min_length=1, max_length=200, description="who did it (a user name)")
    at: AwareDatetime


class AlertAcknowledged(_LifecycleEvent):
    event_type = ALERT_ACKNOWLEDGED

    note: str = Field(default="", max_length=10_000)


class AlertAssigned(_LifecycleEvent):
    event_type = ALERT_ASSIGNED

    assignee: str = Field(min_length=1, max_length=200)


class AlertCommented(_LifecycleEvent):
    event_type = ALERT_COMMENTED

    comment: str = Field(
        min_length=1, max_length=10_000, description="untrusted: escape when shown"
    )


class AlertResolved(_LifecycleEvent):
    event_type = ALERT_RESOLVED

    resolution: str = Field(default="", max_length=10_000)


class AlertReopened(_LifecycleEvent):
    event_type = ALERT_REOPENED

    reason: str = Field(default="", max_length=10_000)
    revision: int | None = Field(
        default=None, ge=0, description="the alert revision that reopened it, if any"
    )
