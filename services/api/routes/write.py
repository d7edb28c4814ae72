"""Writes: every one is an event appended to the log (lifecycle of an alert, subscription
changes), validated whole before the append, so a bad payload leaves nothing behind. The
views change when the projection reads the event back (usually well under a second)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException

from schemas import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertReopened,
    AlertResolved,
    Payload,
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionUpdated,
    new_event,
)
from schemas.ids import content_hash
from services.alerting import definition_problems
from services.api.auth import Principal, require_write
from services.api.deps import AppState, db, not_found, state, unprocessable
from services.api.models import (
    Accepted,
    AckBody,
    AssignBody,
    CommentBody,
    NewSubscription,
    ReopenBody,
    ResolveBody,
    SubscriptionBody,
    errors,
)
from services.api.urls import UnsafeUrl, check_host, check_url
from services.projections import queries

SOURCE = "/tocsin/api"
#: every write: a token with the write scope; a body, when it takes one, that parses
router = APIRouter(responses=errors(400, 401, 403, 413))
Writer = Annotated[Principal, Depends(require_write)]
State = Annotated[AppState, Depends(state)]
Conn = Annotated[sqlite3.Connection, Depends(db)]


def _event_id(payload: Payload) -> str:
    """From the content, as the CLI does: a retried request appends a duplicate the
    projection ignores."""
    return "lce_" + content_hash(payload.event_type, payload.model_dump_json())


def _lifecycle(
    st: AppState, conn: sqlite3.Connection, alert_id: str, make: Callable[[datetime], Payload]
) -> Accepted:
    if not queries.alert_exists(conn, alert_id):
        raise not_found("alert", alert_id)
    at = st.clock.now()
    payload = make(at)
    event = new_event(payload, id=_event_id(payload), source=SOURCE, subject=alert_id, time=at)
    st.append("alerts.lifecycle", alert_id, event)
    return Accepted(alert_id=alert_id, event_id=event.id, type=event.type)


Handler = TypeVar("Handler", bound=Callable[..., Accepted])


def _lifecycle_route(action: str) -> Callable[[Handler], Handler]:
    """The route of one action on an alert: each appends one event to alerts.lifecycle."""
    return router.post(
        f"/alerts/{{alert_id}}/{action}",
        status_code=202,
        response_model=Accepted,
        tags=["alerts"],
        responses=errors(404),
    )


@_lifecycle_route("ack")
def ack(alert_id: str, who: Writer, st: State, conn: Conn, body: AckBody | None = None) -> Accepted:
    """Acknowledge an alert."""
    note = body.note if body else ""
    return _lifecycle(
        st,
        conn,
        alert_id,
        lambda at: AlertAcknowledged(alert_id=alert_id, by=who.name, at=at, note=note),
    )


@_lifecycle_route("assign")
def assign(alert_id: str, body: AssignBody, who: Writer, st: State, conn: Conn) -> Accepted:
    """Assign an alert to someone."""
    return _lifecycle(
        st,
        conn,
        alert_id,
        lambda at: AlertAssigned(alert_id=alert_id, by=who.name, at=at, assignee=body.assignee),
    )


@_lifecycle_route("comment")
def comment(alert_id: str, body: CommentBody, who: Writer, st: State, conn: Conn) -> Accepted:
    """Comment on an alert."""
    return _lifecycle(
        st,
        conn,
        alert_id,
        lambda at: AlertCommented(alert_id=alert_id, by=who.name, at=at, comment=body.comment),
    )


@_lifecycle_route("resolve")
def resolve(
    alert_id: str, who: Writer, st: State, conn: Conn, body: ResolveBody | None = None
) -> Accepted:
    """Resolve an alert (new articles on its story reopen it)."""
    resolution = body.resolution if body else ""
    return _lifecycle(
        st,
        conn,
        alert_id,
        lambda at: AlertResolved(alert_id=alert_id, by=who.name, at=at, resolution=resolution),
    )


@_lifecycle_route("reopen")
def reopen(
    alert_id: str, who: Writer, st: State, conn: Conn, body: ReopenBody | None = None
) -> Accepted:
    """Reopen an alert."""
    reason = body.reason if body else ""
    return _lifecycle(
        st,
        conn,
        alert_id,
        lambda at: AlertReopened(alert_id=alert_id, by=who.name, at=at, reason=reason),
    )


# --------------------------------------------------------------------------- subscriptions


def _definition(st: AppState, sid: str, body: SubscriptionBody) -> dict[str, Any]:
    for field in ("url", "api_url"):
        url = getattr(body.channel, field)
        if url is None:
            continue
        try:
            check_url(url, allow_private=st.config.allow_private_urls)
        except UnsafeUrl as exc:
            raise unprocessable([(("body", "channel", field), f"URL refused: {exc}")]) from None
    smtp_host = (body.channel.model_extra or {}).get("host")
    if body.channel.kind == "email" and isinstance(smtp_host, str) and smtp_host:
        try:
            check_host(smtp_host, allow_private=st.config.allow_private_urls)
        except UnsafeUrl as exc:
            raise unprocessable([(("body", "channel", "host"), f"host refused: {exc}")]) from None
    # as given (the notifier applies the defaults), credentials as ${ENV} references
    definition = {
        "id": sid,
        **body.model_dump(mode="json", exclude_unset=True, by_alias=True, exclude={"id"}),
    }
    problems = definition_problems(definition)
    if problems:  # what the notifier would refuse never reaches the log
        raise unprocessable((("body", *loc), msg) for loc, msg in problems)
    return definition


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=Accepted,
    tags=["subscriptions"],
    responses=errors(409),
)
def create_subscription(body: NewSubscription, who: Writer, st: State, conn: Conn) -> Accepted:
    """Create a subscription (409 if the id is taken)."""
    existing = queries.get_subscription(conn, body.id)
    if existing is not None and not existing["deleted"]:
        raise HTTPException(
            409,
            detail={"error": "conflict", "message": f"subscription {body.id!r} exists: use PUT"},
        )
    definition = _definition(st, body.id, body)
    payload = SubscriptionCreated(
        subscription_id=body.id, definition=definition, by=who.name, at=st.clock.now()
    )
    return _append_subscription(st, payload)


@router.put(
    "/subscriptions/{subscription_id}",
    status_code=202,
    response_model=Accepted,
    tags=["subscriptions"],
    responses=errors(404),
)
def update_subscription(
    subscription_id: str, body: SubscriptionBody, who: Writer, st: State, conn: Conn
) -> Accepted:
    """Replace a subscription's definition."""
    existing = queries.get_subscription(conn, subscription_id)
    if existing is None or existing["deleted"]:
        raise not_found("subscription", subscription_id)
    definition = _definition(st, subscription_id, body)
    payload = SubscriptionUpdated(
        subscription_id=subscription_id, definition=definition, by=who.name, at=st.clock.now()
    )
    return _append_subscription(st, payload)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=202,
    response_model=Accepted,
    tags=["subscriptions"],
    responses=errors(404),
)
def delete_subscription(subscription_id: str, who: Writer, st: State, conn: Conn) -> Accepted:
    """Delete a subscription."""
    existing = queries.get_subscription(conn, subscription_id)
    if existing is None or existing["deleted"]:
        raise not_found("subscription", subscription_id)
    payload = SubscriptionDeleted(subscription_id=subscription_id, by=who.name, at=st.clock.now())
    return _append_subscription(st, payload)


def _append_subscription(
    st: AppState, payload: SubscriptionCreated | SubscriptionUpdated | SubscriptionDeleted
) -> Accepted:
    event = new_event(
        payload,
        id="sub_" + content_hash(payload.event_type, payload.model_dump_json()),
        source=SOURCE,
        subject=payload.subscription_id,
        time=payload.at,
    )
    st.append("subscriptions", payload.subscription_id, event)
    return Accepted(subscription_id=payload.subscription_id, event_id=event.id, type=event.type)
