"""WebSub (W3C Recommendation, 2018): feeds that name a hub push their new items to Tocsin.

Why: polling finds an article one interval after it appeared at worst (a minute, or 15 on
the default schedule), and polling faster costs the publisher a request per interval. Many
publishers' feeds (WordPress, Blogger, FeedBurner, Medium, Superfeedr's customers) name a
hub; subscribed to it, Tocsin gets each update within a second of its publication, with
one request per update. Polling goes on beside it at the source's interval: a hub that is
down, a push lost, a lease that lapsed cost latency, never articles.

The protocol, as Tocsin plays the subscriber's part:

1. Discovery (spec 4): the hub and the topic (the feed's own URL) from the HTTP ``Link``
   header, else from the feed's ``<atom:link rel="hub|self">`` (or a JSON Feed's ``hubs``
   and ``feed_url``). The fetched URL stands for a missing ``self``.
2. Subscribing (5.1): a form POST to the hub with the callback (one URL per source, under
   ``websub.callback_url``), the topic, a requested lease and a secret.
3. Verification of intent (5.3): the hub GETs the callback with a challenge; it is echoed
   only for a subscription this process asked for, so nobody else can subscribe Tocsin to
   anything, or unsubscribe it.
4. Content distribution (7, 8): the hub POSTs the feed's new content, signed with the
   secret (``X-Hub-Signature: sha256=<HMAC>``). Unsigned or wrongly signed content is
   ignored (and answered 2xx, as the spec asks, so a forger learns nothing); signed content
   is parsed as a poll of the source would be.
5. Renewal: at four fifths of the granted lease. A failed request or an intent never
   verified is tried again with exponential backoff.

Each subscription's secret is an HMAC of the source and topic under one key: the
configured ``websub.secret`` (several pollers behind one callback URL must share it), else a
key drawn at start; a restart subscribes again with the new one.

This module is the protocol's pure part (no I/O): discovery, signatures, and the
``Subscriptions`` book that says what to request when, and keeps each change of state
(``Change``) for the log's ``source.subscription`` events, which show operators which
sources are pushed. ``websub_server`` answers the hubs, ``push`` sends the requests and
records the changes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from schemas import PushState

__all__ = [
    "Advert",
    "Change",
    "Subscription",
    "Subscriptions",
    "advertised",
    "callback_for",
    "sign",
    "signature_valid",
]

#: HMAC methods a hub may sign with (spec 7: sha1, sha256, sha384, sha512).
_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
#: Renewal at this fraction of the granted lease.
RENEW_AT = 0.8
#: A request whose intent the hub has not verified after this long is made again.
VERIFY_WAIT_S = 300.0
#: Backoff after a failed request: this, doubled per failure, up to ``RETRY_MAX_S``.
RETRY_FIRST_S = 60.0
RETRY_MAX_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Advert:
    """What a feed advertises: the hub to subscribe at, and the topic (its own URL)."""

    hub: str
    topic: str


def advertised(
    header_links: Iterable[tuple[str, str]],
    hubs: Sequence[str],
    self_url: str | None,
    fetched_url: str,
) -> Advert | None:
    """The feed's hub and topic: from the ``Link`` header when it names a hub (spec 4: the
    header comes first), else from the document; the first hub named. ``None``: no hub."""
    header = dict(reversed(list(header_links)))  # first of each rel
    if header.get("hub"):
        return Advert(header["hub"], header.get("self") or self_url or fetched_url)
    if hubs:
        return Advert(hubs[0], self_url or fetched_url)
    return None


def callback_for(base: str, source_id: str) -> str:
    """The source's callback URL: one per source, so a push says whose content it is."""
    return f"{base.rstrip('/')}/{quote(source_id, safe='')}"


def subscription_secret(key: bytes, source_id: str, topic: str) -> str:
    """The secret given to the hub for this source and topic (64 hex digits: the spec caps
    secrets at 200 bytes)."""
    return hmac.new(key, f"{source_id}\x1f{topic}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """An ``X-Hub-Signature`` value, as a hub computes it (tests and the bench's hub)."""
    return f"{method}={hmac.new(secret.encode(), body, _METHODS[method]).hexdigest()}"


def signature_valid(secret: str, header: str | None, body: bytes) -> bool:
    """Whether ``header`` (``method=hexdigest``) signs ``body`` with ``secret``. An unknown
    method, a malformed header or none at all is not valid."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = _METHODS.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


class State(StrEnum):
    #: wanted; the subscription request is to be sent
    WANTED = "wanted"
    #: request sent (accepted by the hub), its intent not verified yet
    REQUESTED = "requested"
    #: verified by the hub: pushes are expected until ``expires_at``
    ACTIVE = "active"
    #: the hub refused it (``hub.mode=denied``) or the request failed: tried again later
    FAILED = "failed"


@dataclass(slots=True)
class Subscription:
    source_id: str
    hub: str
    topic: str
    secret: str
    state: State = State.WANTED
    #: when (the book's clock, in seconds) the next request is due
    due_at: float = 0.0
    expires_at: float | None = None
    failures: int = 0
    #: the last failure or denial, for the logs and ``tocsin sources`` screens
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A subscription's state as the hub left it (times on the book's clock), for the log."""

    source_id: str
    hub: str
    topic: str
    state: PushState
    at: float
    expires_at: float | None = None
    problem: str | None = None


class Subscriptions:
    """Which source is subscribed at which hub, and what to request when. Times are seconds
    on one monotonic clock, passed in (``now``), so that tests move time by hand."""

    def __init__(self, key: bytes, *, lease_s: float) -> None:
        self._key = key
        self.lease_s = lease_s
        self._by_source: dict[str, Subscription] = {}
        self._changes: list[Change] = []

    def take_changes(self) -> list[Change]:
        """The changes of state since the last call, oldest first."""
        changes, self._changes = self._changes, []
        return changes

    def _changed(self, sub: Subscription, state: PushState, now: float) -> None:
        expires = sub.expires_at if state is PushState.ACTIVE else None
        self._changes.append(
            Change(sub.source_id, sub.hub, sub.topic, state, now, expires, sub.problem)
        )

    def get(self, source_id: str) -> Subscription | None:
        return self._by_source.get(source_id)

    def want(self, source_id: str, advert: Advert | None, now: float) -> Subscription | None:
        """What the source's feed advertises now (read by a poll): a new or moved hub or
        topic is subscribed to; a feed that names no hub any more is forgotten (its lease
        runs out; pushes that still come are answered 410 Gone)."""
        current = self._by_source.get(source_id)
        if advert is None:
            self._by_source.pop(source_id, None)
            if current is not None and current.state is not State.WANTED:  # never asked: no news
                self._changed(current, PushState.ENDED, now)
            return None
        if current is not None and (current.hub, current.topic) == (advert.hub, advert.topic):
            return current
        sub = Subscription(
            source_id,
            advert.hub,
            advert.topic,
            subscription_secret(self._key, source_id, advert.topic),
            due_at=now,
        )
        self._by_source[source_id] = sub
        return sub

    def due(self, now: float) -> list[Subscription]:
        """The subscriptions whose (re)subscription request is due."""
        return [s for s in self._by_source.values() if s.due_at <= now]

    def sent(self, sub: Subscription, now: float) -> None:
        """The hub accepted the request: its intent is verified soon, or asked again. The
        state is ``requesting``'s; a hub that denied it before it answered has set the next
        request already (its backoff), one that verified it, the renewal."""
        if sub.state is not State.FAILED:
            sub.due_at = max(sub.due_at, now + VERIFY_WAIT_S)
        if sub.state is State.REQUESTED:
            self._changed(sub, PushState.REQUESTED, now)

    def failed(self, sub: Subscription, now: float, problem: str) -> float:
        """A request refused, failed, or denied by the hub: tried again after a backoff,
        returned. An active subscription stays active until its lease runs out."""
        sub.failures += 1
        sub.problem = problem
        if sub.state is not State.ACTIVE or (sub.expires_at is not None and now >= sub.expires_at):
            sub.state = State.FAILED
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2.0 ** (sub.failures - 1))
        sub.due_at = now + delay
        active = sub.state is State.ACTIVE  # a renewal failed: pushed until the lease ends
        self._changed(sub, PushState.ACTIVE if active else PushState.FAILED, now)
        return delay

    def verify(
        self, source_id: str, mode: str, topic: str, lease_s: float | None, now: float
    ) -> bool:
        """A hub's verification of intent: true (echo the challenge) only for a subscription
        this process wants, at that topic; an unsubscription is never confirmed (Tocsin does
        not ask for one: a forged one must not end a wanted subscription)."""
        sub = self._by_source.get(source_id)
        if mode != "subscribe" or sub is None or sub.topic != topic:
            return False
        if sub.state is State.WANTED:
            return False  # not asked yet (the request is sent after the secret is set)
        lease = lease_s if lease_s is not None and math.isfinite(lease_s) and lease_s > 0 else None
        granted = lease or self.lease_s
        sub.state = State.ACTIVE
        sub.failures = 0
        sub.problem = None
        sub.expires_at = now + granted
        sub.due_at = now + RENEW_AT * granted
        self._changed(sub, PushState.ACTIVE, now)
        return True

    def denied(self, source_id: str, topic: str, reason: str, now: float) -> float | None:
        """The hub refused the subscription (spec 5.2); returns when it is asked again.
        Only a request waiting for the hub's answer can be denied: a denial is not signed,
        and one from anybody must not end a verified subscription (its lease, or the hub's
        next verification, says whether it lasts)."""
        sub = self._by_source.get(source_id)
        if sub is None or sub.topic != topic or sub.state is not State.REQUESTED:
            return None
        sub.expires_at = None
        sub.state = State.FAILED
        return self.failed(sub, now, f"denied by the hub: {reason or 'no reason given'}")

    def requesting(self, sub: Subscription) -> None:
        """Just before the request is sent: a hub may verify the intent (or deny it)
        before it answers. A verified subscription stays active while it is renewed."""
        if sub.state is not State.ACTIVE:
            sub.state = State.REQUESTED
