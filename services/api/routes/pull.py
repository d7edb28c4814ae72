"""The pulled channels of a subscription: its Atom feed and its live SSE stream (see
``services/api/pull.py``). Same auth as every read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from schemas import AlertRaised, CloudEvent
from services.alerting import Subscription, matches
from services.api import atom, pull
from services.api.auth import require_read
from services.api.deps import AppState, busy, not_found, now_ms, state
from services.api.feed import FeedFull, sse_message
from services.api.models import errors

router = APIRouter(
    dependencies=[Depends(require_read)],
    tags=["subscriptions"],
    responses=errors(401, 403, 404, 409),
)
State = Annotated[AppState, Depends(state)]


def _lookup(st: AppState, ident: str) -> Subscription:
    try:
        found = pull.find(st.reader.conn(), st.pull_subscriptions, ident)
    except pull.UnusableSubscription as exc:
        raise HTTPException(
            409, detail={"error": "invalid_subscription", "message": str(exc)}
        ) from None
    if found is None:
        raise not_found("subscription", ident)
    return found.subscription


@router.get(
    "/subscriptions/{subscription_id}/feed.atom",
    summary="Atom feed of the alerts a subscription matches, newest first",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def subscription_feed(
    subscription_id: str,
    request: Request,
    st: State,
    now: Annotated[int, Depends(now_ms)],
    limit: Annotated[int, Query(ge=1, le=200, description="entries")] = 50,
) -> Response:
    sub = _lookup(st, subscription_id)
    entries = pull.matching_alerts(st.reader.conn(), sub, limit=limit)
    body = atom.render_feed(
        subscription_id=sub.id,
        entries=entries,
        base_url=str(request.base_url),
        self_url=str(request.url),
        now_ms=now,
    )
    return Response(body, media_type=atom.MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@router.get(
    "/subscriptions/{subscription_id}/stream",
    summary="Server-sent events: `alert` for each alert raised that the subscription matches",
    description="Each event has an id: a client that reconnects with `Last-Event-ID` (as "
    "EventSource does) gets the matching alerts it missed first. When that cannot be done "
    "(the API restarted, or too much time passed), a `resync` event names the Atom feed, "
    "which holds every matching alert.",
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(429)},
)
async def subscription_stream(subscription_id: str, request: Request) -> EventSourceResponse:
    st: AppState = request.app.state.tocsin
    sub = await run_in_threadpool(_lookup, st, subscription_id)
    feed = request.app.state.feed

    def accept(event: CloudEvent) -> bool:
        return isinstance(event.data, AlertRaised) and matches(sub, event.data, event.time)

    # a reconnect (EventSource sends the last id it got) resumes after that event; when
    # it cannot be exact, "resync" points at the Atom feed, which holds every match
    try:
        queue, backlog = feed.resume(accept, last_event_id=request.headers.get("last-event-id"))
    except FeedFull as exc:
        raise busy(exc) from None

    def missed() -> list[dict[str, str]]:
        out = []
        for number, record in backlog or ():
            made = feed.item(number, record)
            if made is not None and accept(made[1]):
                out.append(sse_message(made[0]))
        return out

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": json.dumps({"subscription_id": sub.id})}
            if backlog is None:
                catch_up = {"feed": f"/subscriptions/{sub.id}/feed.atom"}
                yield {"event": "resync", "data": json.dumps(catch_up)}
            for item in await run_in_threadpool(missed):
                yield item
            while True:
                yield sse_message(await queue.get())
        except asyncio.CancelledError:
            raise
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(
        events(), ping=request.app.state.config.sse_ping_s, headers={"Cache-Control": "no-store"}
    )
