"""An alert's life as the CLI (and later the API) shows it: a fold of ``alerts.raised`` and
``alerts.lifecycle``. Pure: events in, views out.

Status: ``open`` when raised; ``acknowledged`` after an ack; ``resolved`` after a resolve;
a new revision of a resolved alert (new articles on its story), or an explicit
``alert.reopened``, makes it ``open`` again and counts a reopen. Assignment and comments
do not change the status. Events are applied in time order (the raise's envelope time, a
lifecycle event's ``at``).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from schemas import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertRaised,
    AlertReopened,
    AlertResolved,
    CloudEvent,
    Payload,
    new_event,
)
from schemas.ids import content_hash

__all__ = ["AlertView", "Status", "current_user", "fold", "lifecycle_event"]

Status = Literal["open", "acknowledged", "resolved"]
LifecyclePayload = (
    AlertAcknowledged | AlertAssigned | AlertCommented | AlertResolved | AlertReopened
)


@dataclass
class AlertView:
    alert: AlertRaised
    raised_at: datetime
    status: Status = "open"
    assignee: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    reopened: int = 0
    updated_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alert_id": a.alert_id,
            "raised_at": self.raised_at.isoformat(),
            "severity": a.severity.value,
            "rule": a.rule_id,
            "status": self.status,
            "assignee": self.assignee or "",
            "revision": a.revision,
            "sources": a.source_count,
            "title": a.title,
        }


def _time(event: CloudEvent) -> datetime:
    data = event.data
    return data.at if isinstance(data, LifecyclePayload) else event.time


def fold(events: Iterable[CloudEvent]) -> dict[str, AlertView]:
    """Alert id -> its view, from the events of both topics (any order)."""
    views: dict[str, AlertView] = {}
    orphans: list[CloudEvent] = []
    for event in sorted(events, key=_time):
        data = event.data
        if isinstance(data, AlertRaised):
            view = views.get(data.alert_id)
            if view is None:
                views[data.alert_id] = AlertView(data, event.time, updated_at=event.time)
                continue
            if data.revision > view.alert.revision:
                view.alert = data
                view.updated_at = event.time
                view.history.append({"at": event.time, "what": f"revision {data.revision}"})
                if view.status == "resolved":
                    view.status, view.reopened = "open", view.reopened + 1
                    view.history.append({"at": event.time, "what": "reopened by new articles"})
        elif isinstance(data, LifecyclePayload):
            view = views.get(data.alert_id)
            if view is None:
                orphans.append(event)
                continue
            _apply(view, data)
    return views


def _apply(view: AlertView, data: LifecyclePayload) -> None:
    what: str
    if isinstance(data, AlertAcknowledged):
        if view.status == "open":
            view.status = "acknowledged"
        view.acknowledged_by = data.by
        what = "acknowledged" + (f": {data.note}" if data.note else "")
    elif isinstance(data, AlertAssigned):
        view.assignee = data.assignee
        what = f"assigned to {data.assignee}"
    elif isinstance(data, AlertCommented):
        what = f"comment: {data.comment}"
    elif isinstance(data, AlertResolved):
        view.status, view.resolved_by = "resolved", data.by
        what = "resolved" + (f": {data.resolution}" if data.resolution else "")
    else:
        if view.status == "resolved":
            view.reopened += 1
        view.status = "open"
        what = "reopened" + (f": {data.reason}" if data.reason else "")
    view.updated_at = data.at
    view.history.append({"at": data.at, "by": data.by, "what": what})


def lifecycle_event(payload: Payload, source: str = "/tocsin/cli") -> CloudEvent:
    """The envelope of a lifecycle payload, with an id from its content (a retried command
    appends a duplicate the fold tolerates: acknowledging twice is still acknowledged)."""
    ident = "lce_" + content_hash(payload.event_type, payload.model_dump_json())
    alert = getattr(payload, "alert_id", None)
    return new_event(
        payload, id=ident, source=source, subject=alert, time=getattr(payload, "at", None)
    )


def current_user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or getpass.getuser() or "unknown"
