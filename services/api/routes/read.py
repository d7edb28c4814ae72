"""GET endpoints over the read model. Plain ``def``: FastAPI runs them in its threadpool,
so SQLite never blocks the event loop."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from services.api.auth import require_read
from services.api.deps import AppState, cursor_error, db, not_found, now_ms, state
from services.api.fastjson import MEDIA_TYPE, json_page_response, page_response, position
from services.api.models import PageOut, Severity, Status, errors, redact_channel
from services.projections import queries
from services.projections.queries import BadCursor

router = APIRouter(dependencies=[Depends(require_read)], responses=errors(401, 403))
Conn = Annotated[sqlite3.Connection, Depends(db)]
State = Annotated[AppState, Depends(state)]
Now = Annotated[int, Depends(now_ms)]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="next_cursor of the previous page")
]
Since = Annotated[datetime | None, Query(description="at or after (ISO 8601; UTC if no zone)")]
Until = Annotated[datetime | None, Query(description="before (ISO 8601; UTC if no zone)")]


@router.get("/alerts", response_model=PageOut, tags=["alerts"], summary="Alerts, newest first")
def list_alerts(
    st: State,
    since: Since = None,
    until: Until = None,
    rule: Annotated[list[str], Query(description="rule ids (repeatable)")] = [],  # noqa: B006
    severity: Annotated[list[Severity], Query(description="exact severities (repeatable)")] = [],  # noqa: B006
    min_severity: Severity | None = None,
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    ] = None,
    status: Annotated[
        list[Status], Query(description="open, acknowledged, resolved (repeatable)")
    ] = [],  # noqa: B006
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    conn = st.reader.conn()
    plain = not (since or until or rule or severity or min_severity or country or status or cursor)
    if plain:
        return _cached(
            st, conn, ("alerts", limit), lambda: queries.list_alerts_json(conn, limit=limit)
        )
    try:
        page = queries.list_alerts_json(
            conn,
            since=since,
            until=until,
            rules=rule,
            severities=severity,
            min_severity=min_severity,
            statuses=status,
            country=country,
            limit=limit,
            cursor=cursor,
        )
    except BadCursor as exc:
        raise cursor_error(exc) from None
    return _page(page)


@router.get(
    "/alerts/{alert_id}",
    tags=["alerts"],
    summary="One alert: evidence, articles, history",
    responses=errors(404),
)
def get_alert(alert_id: str, conn: Conn) -> dict[str, Any]:
    alert = queries.get_alert(conn, alert_id)
    if alert is None:
        raise not_found("alert", alert_id)
    alert["articles"] = [
        queries.get_article(conn, a["article_id"]) or {**a, "text": None, "missing": True}
        for a in alert["articles"]
    ]
    alert["deliveries"] = queries.list_deliveries(conn, alert_id=alert_id)
    return alert


@router.get("/articles", response_model=PageOut, tags=["articles"], summary="Search articles")
def search_articles(
    st: State,
    q: Annotated[
        str | None,
        Query(
            max_length=500,
            description="full-text search: every word must match; word* for a prefix",
        ),
    ] = None,
    source: Annotated[list[str], Query(description="source ids (repeatable)")] = [],  # noqa: B006
    language: Annotated[str | None, Query(max_length=10)] = None,
    entity: Annotated[
        str | None, Query(max_length=200, description="entity id, e.g. country:am")
    ] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    order: Annotated[
        Literal["newest", "relevance"],
        Query(
            description="with q: `newest` (stored last first, the default) or `relevance` "
            "(best match first: bm25, title words weighing more)"
        ),
    ] = "newest",
    snippets: Annotated[
        bool,
        Query(
            description="with q: each article gets a `snippet`, its best-matching passage "
            "(`text`) and the [start, end) `marks` of the words that matched; costs time"
        ),
    ] = False,
) -> Response:
    conn = st.reader.conn()
    try:
        page = queries.search_articles(
            conn,
            q=q,
            sources=source,
            language=language,
            entity=entity,
            tag=tag,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
            order=order,
            snippets=snippets,
        )
    except BadCursor as exc:
        raise cursor_error(exc) from None
    return _page(page)


@router.get(
    "/articles/{article_id}",
    tags=["articles"],
    summary="One article with its text",
    responses=errors(404),
)
def get_article(article_id: str, conn: Conn) -> dict[str, Any]:
    article = queries.get_article(conn, article_id)
    if article is None:
        raise not_found("article", article_id)
    return article


def _page(page: queries.Page | queries.JsonPage) -> Response:
    """The page as JSON at once: the rows are plain dicts or JSON texts already, so
    re-validating them against ``PageOut`` (which documents the shape) would only cost time."""
    if isinstance(page, queries.JsonPage):
        return json_page_response(page.items, page.next_cursor)
    return page_response(page.items, page.next_cursor)


def _cached(
    st: AppState,
    conn: sqlite3.Connection,
    key: tuple[Any, ...],
    read: Callable[[], queries.Page | queries.JsonPage],
) -> Response:
    """An unfiltered first page: from the cache while the read model has not moved."""
    stamp = position(conn)
    body = st.pages.get(key, stamp)
    if body is None:
        response = _page(read())
        st.pages.put(key, stamp, bytes(response.body))
        return response
    return Response(body, media_type=MEDIA_TYPE)


#: The earliest moment a ``datetime`` holds (1 January of year 1), in ms
_EARLIEST_MS = -62_135_596_800_000


def _range(now: int, since: datetime | None, until: datetime | None, days: int) -> tuple[int, int]:
    """``since`` to ``until`` in ms, by default the ``days`` before ``until`` (or now). The
    default start of an ``until`` in the first days of year 1 is year 1 (a 500 before)."""
    end = now if until is None else queries.to_ms(until)
    assert end is not None
    start = queries.to_ms(since)
    if start is None:
        start = max(_EARLIEST_MS, end - int(timedelta(days=days).total_seconds() * 1000))
    return start, end


@router.get("/entities", tags=["entities"], summary="Entities most mentioned in a period")
def top_entities(
    conn: Conn,
    now: Now,
    since: Since = None,
    until: Until = None,
    kind: Literal["country", "place", "organisation", "person"] | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    start, end = _range(now, since, until, 7)
    return {
        "since": queries.iso(start),
        "until": queries.iso(end),
        "items": queries.top_entities(conn, since_ms=start, until_ms=end, kind=kind, limit=limit),
    }


@router.get(
    "/entities/{entity_id}/timeline",
    tags=["entities"],
    summary="Mentions of an entity over time",
    responses=errors(404),
)
def entity_timeline(
    entity_id: str,
    conn: Conn,
    now: Now,
    bucket: Literal["hour", "day"] = "day",
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    start, end = _range(now, since, until, 30)
    line = queries.entity_timeline(conn, entity_id, since_ms=start, until_ms=end, bucket=bucket)
    if line is None:
        raise not_found("entity", entity_id)
    return line


@router.get("/sources", tags=["sources"], summary="Source health, failing first")
def sources(conn: Conn, now: Now) -> dict[str, Any]:
    return {"items": queries.source_health(conn, now_ms=now)}


@router.get("/rules", tags=["rules"], summary="Rules: hit counts and last fired")
def rules(conn: Conn) -> dict[str, Any]:
    return {"items": queries.rule_stats(conn)}


@router.get("/deliveries", tags=["alerts"], summary="Delivery outcomes, newest first")
def deliveries(conn: Conn, alert_id: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    return {"items": queries.list_deliveries(conn, alert_id=alert_id, limit=limit)}


@router.get(
    "/deadletters", tags=["operations"], summary="Records consumers gave up on, with reasons"
)
def deadletters(conn: Conn, limit: Limit = 100) -> dict[str, Any]:
    return {"items": queries.list_deadletters(conn, limit=limit)}


@router.get("/subscriptions", tags=["subscriptions"], summary="Subscriptions made through the API")
def list_subscriptions(conn: Conn, deleted: bool = False) -> dict[str, Any]:
    return {"items": [_shown(s) for s in queries.list_subscriptions(conn, deleted=deleted)]}


@router.get("/subscriptions/{subscription_id}", tags=["subscriptions"], responses=errors(404))
def get_subscription(subscription_id: str, conn: Conn) -> dict[str, Any]:
    sub = queries.get_subscription(conn, subscription_id)
    if sub is None:
        raise not_found("subscription", subscription_id)
    return _shown(sub)


def _shown(sub: dict[str, Any]) -> dict[str, Any]:
    """A subscription as a read shows it: no credential that is not a ``${ENV}`` reference."""
    definition = sub["definition"]
    if isinstance(definition, dict) and isinstance(definition.get("channel"), dict):
        sub["definition"] = {**definition, "channel": redact_channel(definition["channel"])}
    return sub
