"""The WebSub callback: answers hubs' verifications of intent and takes their pushes.

Served by uvicorn inside the poller's own event loop (a Starlette app; both already serve
the API), at the path of ``websub.callback_url``, so a reverse proxy can pass the public
URL through unchanged. What a push holds is untrusted until its signature is checked, and
bounded before that: the body is read up to the fetcher's cap and no further.

Answers (spec 5.3, 7, 8):
- ``GET <path>/<source>?hub.mode=subscribe&hub.topic=...&hub.challenge=...``: 200 and the
  challenge for a subscription this process asked for, else 404;
  ``hub.mode=denied``: 200, and a subscription waiting for the hub's answer is asked
  again later (one already verified is kept: anyone can send a denial).
- ``POST <path>/<source>``: 202 once read (signed or not: a forger learns nothing), the
  content handed on (``on_push``) when the signature holds; 410 for a source that is not
  configured (the hub may drop the subscription); 413 past the cap. A push for a source
  with no subscription here (another poller's, or one from before a restart, whose secret
  is not known) is taken and ignored: the source's polls read it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from services.poller.fetch import Document, parse_content_type
from services.poller.websub import Subscriptions, signature_valid
from services.runtime.clock import Clock
from services.runtime.redact import shown_url

log = logging.getLogger(__name__)

#: ``on_push(source_id, document)``: signed content for a source, to be read as a poll.
PushHandler = Callable[[str, Document], None]
_SIGNATURE_HEADERS = ("x-hub-signature", "x-hub-signature-256")
#: Pushes that fail their signature are logged once per source and this many seconds.
WARN_EVERY_S = 60.0


def callback_app(
    base_url: str,
    book: Subscriptions,
    on_push: PushHandler,
    *,
    source_ids: frozenset[str],
    clock: Clock,
    max_bytes: int,
) -> Starlette:
    path = urlsplit(base_url).path.rstrip("/")
    warned: dict[str, float] = {}

    async def verify(request: Request) -> Response:
        source_id = request.path_params["source"]
        params = request.query_params
        mode = params.get("hub.mode", "")
        topic = params.get("hub.topic", "")
        now = clock.monotonic()
        if mode == "denied":
            reason = params.get("hub.reason", "")[:300]
            retry = book.denied(source_id, topic, reason, now)
            if retry is not None:
                log.warning(
                    "websub: the hub denied %s's subscription (%r); asking again in %.0f s",
                    source_id,
                    reason or "no reason given",
                    retry,
                )
            return PlainTextResponse("ok")
        challenge = params.get("hub.challenge")
        lease = _number(params.get("hub.lease_seconds"))
        if not challenge or not book.verify(source_id, mode, topic, lease, now):
            return PlainTextResponse("no such subscription", status_code=404)
        sub = book.get(source_id)
        log.info(
            "websub: %s subscribed at %s for %s",
            source_id,
            shown_url(sub.hub) if sub else "?",
            f"{lease:.0f} s" if lease else "the hub's default lease",
        )
        return PlainTextResponse(challenge)

    async def deliver(request: Request) -> Response:
        source_id = request.path_params["source"]
        if source_id not in source_ids:
            return PlainTextResponse("no such source", status_code=410)
        sub = book.get(source_id)
        if sub is None:  # subscribed by another poller, or before a restart: its polls go on
            log.debug("websub: ignored a push for %s, not subscribed here", source_id)
            return Response(status_code=202)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return PlainTextResponse("too large", status_code=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                return PlainTextResponse("too large", status_code=413)
            chunks.append(chunk)
        body = b"".join(chunks)
        signature = next(
            (request.headers[h] for h in _SIGNATURE_HEADERS if h in request.headers), None
        )
        if not signature_valid(sub.secret, signature, body):
            now = clock.monotonic()
            if now - warned.get(source_id, -WARN_EVERY_S) >= WARN_EVERY_S:  # forgers: no flood
                warned[source_id] = now
                log.warning(
                    "websub: ignored a push for %s that is %s (warned once a minute at most)",
                    source_id,
                    "not signed" if signature is None else "not signed with its secret",
                )
            return Response(status_code=202)
        content_type, charset = parse_content_type(request.headers.get("content-type"))
        on_push(source_id, Document(sub.topic, body, content_type, charset))
        return Response(status_code=202)

    return Starlette(
        routes=[
            Route(f"{path}/{{source}}", verify, methods=["GET"]),
            Route(f"{path}/{{source}}", deliver, methods=["POST"]),
        ]
    )


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class CallbackServer(uvicorn.Server):
    """uvicorn inside the poller's loop. The service's runtime owns the signals (a stop sets
    its stop event); uvicorn must not take them over, nor raise them again at its end."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def callback_server(app: Starlette, host: str, port: int) -> CallbackServer:
    return CallbackServer(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
