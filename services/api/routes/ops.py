"""Operations: Prometheus metrics, liveness, readiness, and the live alert stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sse_starlette.sse import EventSourceResponse

from services.api.auth import require_read
from services.api.deps import AppState, busy, state
from services.api.feed import AlertFeed, FeedFull, parse_positions, sse_message
from services.api.models import errors

router = APIRouter(tags=["operations"])
State = Annotated[AppState, Depends(state)]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(require_read)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}, **errors(401, 403)},
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the read model and the log answer",
    responses={503: {"description": "the read model or the log does not answer"}},
)
def readyz(st: State) -> JSONResponse:
    checks: dict[str, Any] = {}
    ok = True
    try:
        st.reader.conn().execute("SELECT count(*) FROM tracking").fetchone()
        checks["read_model"] = "ok"
    except Exception as exc:
        ok, checks["read_model"] = False, f"error: {type(exc).__name__}"
    try:
        st.log.list_topics()
        checks["log"] = "ok"
    except Exception as exc:
        ok, checks["log"] = False, f"error: {type(exc).__name__}"
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get(
    "/stream/alerts",
    summary="Server-sent events: `alert` for each alert raised, `lifecycle` for each ack/assign/comment/resolve",
    dependencies=[Depends(require_read)],
    tags=["alerts"],
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(401, 403, 429)},
)
async def stream_alerts(
    request: Request,
    after: Annotated[
        str | None,
        Query(
            description="log positions the client's list was read at "
            "(`topic:partition=offset,...`, as the dashboard's page carries them): the events "
            "after them come first. A `Last-Event-ID` header (a reconnect) takes precedence. "
            "When either cannot be honoured exactly, a `resync` event says to reload the list."
        ),
    ] = None,
) -> EventSourceResponse:
    feed: AlertFeed = request.app.state.feed
    try:
        queue, backlog = feed.resume(
            last_event_id=request.headers.get("last-event-id"),
            after=None if after is None else parse_positions(after),
        )
    except FeedFull as exc:
        raise busy(exc) from None

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": "{}"}
            if backlog is None:
                yield {"event": "resync", "data": "{}"}
            elif backlog:
                missed = await run_in_threadpool(lambda: [feed.item(n, r) for n, r in backlog])
                for made in missed:
                    if made is not None:
                        yield sse_message(made[0])
            while True:
                item = await queue.get()
                yield sse_message(item)
        except asyncio.CancelledError:
            raise
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(
        events(), ping=request.app.state.config.sse_ping_s, headers={"Cache-Control": "no-store"}
    )
