"""The API app factory: everything it serves is injected (config, settings, the event log,
the clock), nothing is global, so tests and the runner build as many apps as they like.

``create_app`` wires the routers, the Prometheus registry (one per app), the live alert
feed and the security headers. The feed thread starts with the app (lifespan) and stops
with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.backtests import BacktestRunner
from services.api.dashboard import router as dashboard_router
from services.api.dashboard import templates
from services.api.deps import AppState
from services.api.feed import AlertFeed
from services.api.metrics import TocsinCollector
from services.api.models import MAX_RULES_BYTES
from services.api.pull import configured
from services.api.reader import Reader
from services.api.routes import backtests, ops, pull, read, write
from services.api.settings import ApiConfig
from services.eventlog import EventLog
from services.projections.loop import all_topics
from services.runtime.bootstrap import topic
from services.runtime.clock import Clock, SystemClock
from services.runtime.metrics import Metrics
from services.runtime.settings import Settings

STATIC = Path(__file__).parent / "static"

#: No inline script or style, nothing from elsewhere: injected markup cannot run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

DESCRIPTION = """Tocsin's read side: alerts, articles, entities, sources and rules from the read
model (projections of the event log), and the writes analysts make (alert lifecycle,
subscriptions), each appended to the log as an event.

Authentication: `Authorization: Bearer <token>` (tokens from the config). Writes need the
`write` scope; reads need `read` unless public reading is on. Lists are newest first and
paginated with `limit` and `cursor` (the `next_cursor` of the previous page)."""


def create_app(
    config: ApiConfig,
    settings: Settings,
    event_log: EventLog,
    *,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    follow_alerts: bool = True,
) -> FastAPI:
    reader = Reader(config.read_model)
    clock = clock or SystemClock()
    feed = AlertFeed(
        event_log,
        [topic(settings, "alerts.raised"), topic(settings, "alerts.lifecycle")],
        reader,
        max_clients=config.max_streams,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Fewer threads than anyio's 40: on a small machine 40 threads running SQLite and
        # Python for one GIL only queue longer (measured with bench/api.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        if follow_alerts:
            feed.start()
        try:
            yield
        finally:
            feed.close()
            jobs.close()
            reader.close()

    app = FastAPI(
        title="Tocsin",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: off. The schema itself is
        # at /openapi.json for any viewer or client generator.
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.tocsin = AppState(
        config=config,
        settings=settings,
        log=event_log,
        reader=reader,
        clock=clock,
        pull_subscriptions=configured(settings.section("subscriptions")),
    )
    app.state.feed = feed
    jobs = BacktestRunner(
        config.backtests_path,
        settings,
        clock,
        concurrency=config.backtest_concurrency,
        timeout_s=config.backtest_timeout_s,
        max_pending=config.backtest_max_pending,
    )
    app.state.backtests = jobs
    app.state.templates = templates()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        TocsinCollector(reader, event_log, all_topics(settings), metrics or Metrics())
    )
    app.state.registry = registry

    app.include_router(pull.router)
    app.include_router(backtests.router)
    app.include_router(read.router)
    app.include_router(write.router)
    app.include_router(ops.router)
    app.include_router(dashboard_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=307)

    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app


#: The largest body a request may send: a backtest's rule file (``MAX_RULES_BYTES``) with
#: room for JSON escaping; every other body is far smaller.
MAX_BODY_BYTES = 4 * MAX_RULES_BYTES
_TOO_LARGE = json.dumps(
    {
        "detail": {
            "error": "too_large",
            "message": f"the body is over {MAX_BODY_BYTES:,} bytes",
        }
    }
).encode()


class BodyLimit:
    """Answers 413 to a body over ``MAX_BODY_BYTES``, before the app sees it.

    Why: FastAPI reads a request's whole body before it checks the token (the body is
    parsed first), so anyone who could reach the API could make it hold any amount in
    memory; a body that is not JSON got its 422 before the 401. The body is read here up to
    the limit, then handed to the app as it came (plain ASGI: GETs, streams included, pass
    straight through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)


async def _too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_LARGE})


class SecurityHeaders:
    """Adds the security headers to every HTTP response (plain ASGI: no per-request task
    or body buffering, so streaming responses such as SSE pass straight through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode(), v.encode())
            for k, v in {**SECURITY_HEADERS, "Content-Security-Policy": CSP}.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
