"""What routes get from the app: the reader, the log writer, the clock. No globals: all of it
hangs off ``app.state``, set by ``create_app``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import HTTPException, Request

from schemas import CloudEvent
from services.alerting import Subscription
from services.api.fastjson import PageCache
from services.api.reader import Reader
from services.api.settings import ApiConfig
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.projections.queries import BadCursor
from services.runtime.bootstrap import topic
from services.runtime.clock import Clock
from services.runtime.settings import Settings


@dataclass
class AppState:
    config: ApiConfig
    settings: Settings
    log: EventLog
    reader: Reader
    clock: Clock
    #: the config file's subscriptions (the feeds and streams serve them, see pull.py)
    pull_subscriptions: dict[str, Subscription] = field(default_factory=dict)
    #: rendered unfiltered first pages, valid for one read-model position (fastjson.py)
    pages: PageCache = field(default_factory=PageCache)

    def append(self, base_topic: str, key: str, event: CloudEvent) -> None:
        """One event, whole or not at all (the event is validated before this is called)."""
        self.log.append([encode(event, topic=topic(self.settings, base_topic), key=key)])


async def state(request: Request) -> AppState:
    """``async`` (it only reads ``app.state``): no thread-pool trip per request."""
    s: AppState = request.app.state.tocsin
    return s


def db(request: Request) -> sqlite3.Connection:
    """The calling thread's connection. A ``def`` dependency runs in a pool thread that need
    not be the endpoint's: hot endpoints take ``state`` and call ``reader.conn()`` in their
    own body instead, which also saves a thread-pool trip."""
    s: AppState = request.app.state.tocsin
    return s.reader.conn()


async def now_ms(request: Request) -> int:
    moment: datetime = request.app.state.tocsin.clock.now()
    return int(moment.timestamp() * 1000)


def busy(exc: Exception) -> HTTPException:
    """The 429 for a limit of the server's (pending backtests, open streams)."""
    return HTTPException(
        429, detail={"error": "busy", "message": str(exc)}, headers={"Retry-After": "30"}
    )


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(404, detail={"error": "not_found", "message": f"no {what} {ident!r}"})


def unprocessable(problems: Iterable[tuple[Sequence[str], str]]) -> HTTPException:
    """A 422 in FastAPI's own shape (each problem's place and message), for the checks that
    the request models cannot state."""
    detail = [{"loc": list(loc), "msg": msg, "type": "value_error"} for loc, msg in problems]
    return HTTPException(422, detail=detail)


def bad_query(field: str, exc: Exception | str) -> HTTPException:
    return unprocessable([(("query", field), str(exc))])


def cursor_error(exc: BadCursor) -> HTTPException:
    return bad_query("cursor", exc)
