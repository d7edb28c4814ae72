"""A serving poller's WebSub side: the callback server, and the subscription requests.

The protocol is ``websub`` (its pure part) and ``websub_server`` (the answers to hubs);
this runs them in the poller's event loop. What a poll of a feed learns of its hub goes to
``advertised``; a push verified by the server goes to the runner's ``on_push``, which reads
it as a poll of its source. Only sources this process owns are subscribed (with several
pollers, the owner of a source's partition): a request for one owned elsewhere is dropped.
Each change of a subscription's state goes on the log (``source.subscription``, beside the
source's polls), where the dashboard and ``tocsin sources list`` read it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from schemas import SourceSubscription
from services.poller.errors import PollError
from services.poller.fetch import Fetcher
from services.poller.poller import PollReport
from services.poller.websub import Change, Subscription, Subscriptions, callback_for
from services.poller.websub_server import CallbackServer, PushHandler, callback_app, callback_server
from services.runtime.clock import Clock
from services.runtime.redact import shown_url
from services.runtime.settings import WebSubSettings

log = logging.getLogger(__name__)

#: How often the due subscription requests are looked for (a glance over the book).
TICK_S = 0.25
#: What is kept of a failure's description on the log (a hub's answer, a denial's reason)
_PROBLEM_CHARS = 500
#: Records the changes of subscriptions on the log.
RecordChanges = Callable[[Sequence[SourceSubscription]], Awaitable[None]]


class PushIntake:
    """Subscribes the owned feeds that name a hub, and serves their hubs' callbacks."""

    def __init__(
        self,
        settings: WebSubSettings,
        fetcher: Fetcher,
        *,
        source_urls: Mapping[str, str],
        owns: Callable[[str], bool],
        on_push: PushHandler,
        record: RecordChanges,
        clock: Clock,
    ) -> None:
        assert settings.callback_url is not None
        self.settings = settings
        self.base = settings.callback_url
        self.fetcher = fetcher
        self.clock = clock
        self.owns = owns
        self.record = record
        #: source id -> its configured URL, which decides whether its hub may be internal
        self.source_urls = dict(source_urls)
        key = (
            settings.secret.get_secret_value().encode()
            if settings.secret is not None
            else secrets.token_bytes(32)
        )
        self.book = Subscriptions(key, lease_s=settings.lease_s)
        app = callback_app(
            self.base,
            self.book,
            on_push,
            source_ids=frozenset(self.source_urls),
            clock=clock,
            max_bytes=fetcher.options.max_bytes,
        )
        self.server: CallbackServer = callback_server(app, settings.host, settings.port)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Serving the callback before any subscription is asked for. Raises ``OSError``
        naming the address when it cannot be bound (uvicorn, binding it, would exit)."""
        host, port = self.settings.host, self.settings.port
        try:
            listener = socket.create_server(
                (host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
            )
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"websub: cannot listen on {host}:{port} for the hubs' callbacks: "
                f"{exc.strerror or exc} (websub.host, websub.port)",
            ) from exc
        serving = asyncio.create_task(self.server.serve([listener]), name="websub-callback")
        while not self.server.started:
            if serving.done():
                serving.result()
                raise OSError(f"websub: the callback server on {host}:{port} stopped at start")
            await asyncio.sleep(0.01)
        self._tasks = [serving, asyncio.create_task(self._requests(), name="websub-requests")]
        log.info("websub: callbacks at %s, served on %s", shown_url(self.base), self.listening())

    def listening(self) -> str:
        sockets = self.server.servers[0].sockets if self.server.servers else []
        if not sockets:
            return "(not listening)"
        host, port = sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._record_changes()

    def advertised(self, source_id: str, report: PollReport) -> None:
        """A poll read the feed's head: subscribe to the hub it names (or forget it)."""
        if not report.read_head:
            return
        before = self.book.get(source_id)
        sub = self.book.want(source_id, report.advert, self.clock.monotonic())
        if sub is not None and sub is not before:
            log.info("websub: %s names the hub %s: subscribing", source_id, shown_url(sub.hub))
        elif sub is None and before is not None:
            log.info("websub: %s names no hub any more: its subscription lapses", source_id)

    async def _requests(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for sub in self.book.due(self.clock.monotonic()):
                if sub.source_id not in self.source_urls or not self.owns(sub.source_id):
                    self.book.want(sub.source_id, None, self.clock.monotonic())
                    continue
                try:
                    await self._subscribe(sub)
                except Exception as exc:  # a bug must not end every later subscription
                    log.exception("websub: subscribing %s failed", sub.source_id)
                    self.book.failed(sub, self.clock.monotonic(), f"unexpected error: {exc}")
            await self._record_changes()

    async def _record_changes(self) -> None:
        """The book's changes (the hubs' verifications among them) onto the log. A log that
        fails loses these records only: they describe the subscriptions, which go on."""
        changes = self.book.take_changes()
        if not changes:
            return
        now, wall = self.clock.monotonic(), self.clock.now()
        try:
            await self.record([_payload(change, now, wall) for change in changes])
        except Exception:
            log.warning(
                "websub: could not record %d subscription change(s)", len(changes), exc_info=True
            )

    async def _subscribe(self, sub: Subscription) -> None:
        self.book.requesting(sub)
        form = {
            "hub.mode": "subscribe",
            "hub.callback": callback_for(self.base, sub.source_id),
            "hub.topic": sub.topic,
            "hub.lease_seconds": str(int(self.book.lease_s)),
            "hub.secret": sub.secret,
        }
        try:
            status, answer = await self.fetcher.post_form(
                sub.hub, form, found_on=self.source_urls[sub.source_id]
            )
        except PollError as exc:
            problem = f"{exc.error_class}: {exc}"
        else:
            if 200 <= status < 300:
                self.book.sent(sub, self.clock.monotonic())
                return
            problem = f"HTTP {status} from the hub {shown_url(sub.hub)}: {answer.strip()[:200]}"
        retry = self.book.failed(sub, self.clock.monotonic(), problem)
        log.warning(
            "websub: could not subscribe %s (%r); again in %.0f s", sub.source_id, problem, retry
        )


def _payload(change: Change, now: float, wall: datetime) -> SourceSubscription:
    """The change as an event's payload: the book's clock read as wall time, URLs as shown."""

    def at(moment: float) -> datetime:
        return wall + timedelta(seconds=moment - now)

    return SourceSubscription(
        source_id=change.source_id,
        hub=shown_url(change.hub),
        topic=shown_url(change.topic),
        state=change.state,
        at=at(change.at),
        expires_at=None if change.expires_at is None else at(change.expires_at),
        problem=None if change.problem is None else change.problem[:_PROBLEM_CHARS],
    )
