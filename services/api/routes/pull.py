"""The pulled channels of a subscription: its Atom feed and its live SSE stream (see
``services/api/pull.py``). Same auth as every read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from schemas import AlertRaised, CloudEvent
from services.alerting import Subscription, matches
from services.api import atom, pull
from services.api.auth import require_read
from services.api.deps import AppState, not_found, now_ms, state

router = APIRouter(dependencies=[Depends(require_read)], tags=["subscriptions"])
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
)
async def subscription_stream(subscription_id: str, request: Request) -> EventSourceResponse:
    st: AppState = request.app.state.tocsin
    sub = await run_in_threadpool(_lookup, st, subscription_id)
    feed = request.app.state.feed

    def accept(event: CloudEvent) -> bool:
        return isinstance(event.data, AlertRaised) and matches(sub, event.data)

    queue = feed.subscribe(accept)

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            yield {"event": "ready", "data": json.dumps({"subscription_id": sub.id})}
            while True:
                item = await queue.get()
                data = item["data"]
                yield {
                    "event": item["event"],
                    "id": f"{data['alert_id']}.{data['revision']}",
                    "data": json.dumps(data, ensure_ascii=False),
                }
        except asyncio.CancelledError:
            raise
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(
        events(), ping=request.app.state.config.sse_ping_s, headers={"Cache-Control": "no-store"}
    )
