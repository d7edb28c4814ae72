"""The dashboard: server-rendered pages (Jinja2, autoescape on) for analysts and operators.

No inline script anywhere: behaviour lives in /static/*.js, so the Content-Security-Policy
can forbid inline code (an injected ``<script>`` or ``onerror=`` never runs). Article text
is escaped by the templates, and evidence is highlighted by ``highlight`` (escape, then
mark). Pages ask for the ``read`` scope; without a token they send the browser to sign in.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, Field

from services.api.auth import COOKIE, authorize, identify
from services.api.charts import bar_chart
from services.api.deps import AppState, db, now_ms, state
from services.api.feed import format_positions
from services.api.highlight import highlight
from services.projections import queries

HERE = Path(__file__).parent
router = APIRouter(prefix="/ui", include_in_schema=False)
Conn = Annotated[sqlite3.Connection, Depends(db)]
Now = Annotated[int, Depends(now_ms)]


def templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    return Jinja2Templates(env=env)


def _page(request: Request, name: str, **context: Any) -> Response:
    try:
        who = authorize(request, "read")
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/ui/login", status_code=303)
        raise
    tpl: Jinja2Templates = request.app.state.templates
    return tpl.TemplateResponse(request, name, {"who": who.name, **context})


@router.get("", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    conn: Conn,
    severity: str | None = None,
    rule: str | None = None,
    status: str | None = None,
    country: str | None = None,
) -> Response:
    after = _stream_positions(request, conn)
    page = queries.list_alerts(
        conn,
        min_severity=severity if severity in queries.SEVERITIES else None,
        rules=[rule] if rule else [],
        statuses=[status] if status in queries.STATUSES else [],
        country=country[:2] if country else None,
        limit=100,
    )
    rules = [r["rule_id"] for r in queries.rule_stats(conn)]
    failing, sources = queries.failing_sources(conn)
    filters = {
        "severity": severity or "",
        "rule": rule or "",
        "status": status or "",
        "country": country or "",
    }
    return _page(
        request,
        "alerts.html",
        alerts=page.items,
        after=after,
        failing=failing,
        sources=sources,
        rules=rules,
        filters=filters,
        severities=queries.SEVERITIES,
        statuses=queries.STATUSES,
    )


def _stream_positions(request: Request, conn: sqlite3.Connection) -> str:
    """Where the page's live stream resumes: the read model's positions in the feed's
    topics, read before the page's rows so that nothing the read model folds between the
    two reads falls through (a partition it has folded nothing of yet is at 0)."""
    feed = request.app.state.feed
    after = {tp: 0 for tp in feed.complete_from()} | queries.folded_positions(conn, feed.topics)
    return format_positions(after)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str, conn: Conn) -> Response:
    after = _stream_positions(request, conn)
    alert = queries.get_alert(conn, alert_id)
    if alert is None:
        return _page(request, "missing.html", what="alert", ident=alert_id)
    articles = []
    for ref in alert["articles"]:
        art = queries.get_article(conn, ref["article_id"])
        spans = [
            (e["start"], e["end"])
            for e in alert["evidence"]
            if e["article_id"] == ref["article_id"]
        ]
        if art is not None and art["analysed_text"]:
            body = highlight(art["analysed_text"], spans)
        elif art is not None:
            body = highlight(f"{art['title']}\n\n{art['text']}", spans)
        else:
            body = None
        articles.append({"ref": ref, "article": art, "body": body})
    return _page(request, "alert.html", alert=alert, articles=articles, after=after)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    conn: Conn,
    q: str = "",
    source: str = "",
    tag: str = "",
    entity: str = "",
    order: str = "newest",
) -> Response:
    order = order if order in queries.ORDERS else "newest"
    page = queries.search_articles(
        conn,
        q=q[:500] or None,
        sources=[source] if source else [],
        tag=tag or None,
        entity=entity or None,
        limit=50,
        order=order,
        snippets=True,
    )
    for article in page.items:
        if "snippet" in article:
            snippet = article["snippet"]
            article["snippet_html"] = highlight(snippet["text"], map(tuple, snippet["marks"]))
    return _page(
        request,
        "search.html",
        q=q,
        source=source,
        tag=tag,
        entity=entity,
        order=order,
        articles=page.items,
    )


@router.get("/backtests", response_class=HTMLResponse)
def backtests_page(request: Request, now: Now) -> Response:
    """Start a backtest (the form posts to ``POST /backtests``) and list the recent ones."""
    today = datetime.fromtimestamp(now / 1000, UTC).date()
    return _page(
        request,
        "backtests.html",
        jobs=request.app.state.backtests.recent(50),
        since=(today - timedelta(days=7)).isoformat(),
        until=(today + timedelta(days=1)).isoformat(),
    )


@router.get("/backtests/{job_id}", response_class=HTMLResponse)
def backtest_page(request: Request, job_id: str) -> Response:
    job = request.app.state.backtests.get(job_id)
    if job is None:
        return _page(request, "missing.html", what="backtest", ident=job_id)
    return _page(request, "backtest.html", job=job, result=job.get("result"))


@router.get("/ops", response_class=HTMLResponse)
def ops_page(
    request: Request, conn: Conn, now: Now, st: Annotated[AppState, Depends(state)]
) -> Response:
    hour, day = queries.HOUR_MS, queries.DAY_MS
    end_h = (now // hour + 1) * hour
    per_hour = queries.per_bucket(
        conn, "articles", "fetched_ms", size_ms=hour, since_ms=end_h - 48 * hour, until_ms=end_h
    )
    end_d = (now // day + 1) * day
    per_day = queries.per_bucket(
        conn, "alert_events", "at_ms", size_ms=day, since_ms=end_d - 30 * day, until_ms=end_d
    )
    lags = []
    for group in sorted(st.log.groups()):
        per: dict[str, int] = {}
        for tp, n in st.log.lag(group).items():
            per[tp.topic] = per.get(tp.topic, 0) + n
        lags.append({"group": group, "lag": sum(per.values()), "topics": per})

    def label(ms: int, fmt: str) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)

    return _page(
        request,
        "ops.html",
        throughput=queries.throughput(conn, now_ms=now),
        lags=lags,
        articles_chart=bar_chart(
            "Articles per hour (48 h)", [(label(t, "%d %H:00"), n) for t, n in per_hour]
        ),
        alerts_chart=bar_chart(
            "Alerts raised per day (30 d)", [(label(t, "%Y-%m-%d"), n) for t, n in per_day]
        ),
        sources=queries.source_health(conn, now_ms=now),
        deadletters=queries.list_deadletters(conn, limit=50),
        totals=queries.totals(conn),
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    tpl: Jinja2Templates = request.app.state.templates
    return tpl.TemplateResponse(request, "login.html", {"who": None})


class SessionBody(BaseModel):
    token: str = Field(min_length=1, max_length=500)


@router.post("/session")
def sign_in(request: Request, body: SessionBody) -> Response:
    """Check a token and keep it in an HttpOnly, SameSite=Strict cookie for the pages."""
    principal = identify(request.app.state.config, body.token)
    if principal is None:
        return JSONResponse(
            {"error": "unauthorized", "message": "the token is not valid"}, status_code=401
        )
    response = JSONResponse({"name": principal.name, "scopes": list(principal.scopes)})
    response.set_cookie(
        COOKIE,
        body.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def sign_out() -> Response:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/")
    return response
