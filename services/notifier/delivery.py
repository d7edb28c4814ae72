"""Delivery workers: one thread per subscription, each with its own queue, channel, rate
limit, digest buffer and retries, so a failing or hanging receiver holds up only itself.

A worker takes ``Intent``s and reports one ``Outcome`` per message it finished (delivered,
or failed after its last attempt) to a sink; it never writes to the log itself (the
runner records outcomes and commits, see runner.py). What it does with an intent:

- held (digest subscriptions, or quiet hours for a non-critical alert): kept until its
  release time, then sent with every other alert due then as one digest message;
- otherwise sent now, one message per alert, within the subscription's rate limit (a token
  bucket of ``rate_per_minute``, burst the same). When more alerts are waiting than tokens
  are left, the backlog goes out as one digest once a token is free: a flood of 500 alerts
  becomes a few messages, not 500.

Sends in parallel: a message sent now (not a digest) goes to one of ``lanes`` sender threads
of the worker, chosen by its alert id, so that up to ``lanes`` messages are in flight to a
receiver at once while the updates of one alert still arrive in the order they were raised.
A receiver that answers in 5 ms then takes 200 alerts a second per lane, not 200 in all, and
a process busy with other work (``tocsin run``) does not add its waits to every message.
The rate limit and the flood-to-digest rule are applied before a message reaches a lane.

Retries: exponential backoff with full jitter (``initial * 2**(n-1)``, capped, a random
point in its upper half); a ``Retry-After`` from the receiver (429, 503) is honoured (waited
at least, capped at ``backoff_max_s``); a non-retryable error (4xx) or the last attempt
ends with a failure outcome carrying the last error. A stop request abandons a message
without an outcome: it was never recorded, so it is planned again after the restart.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.alerting.subscriptions import DeliveryOptions, Subscription
from services.notifier.channels import Channel, DeliveryError, Outgoing
from services.notifier.core import Intent, digest_key, held_until
from services.runtime.clock import Clock

__all__ = ["Outcome", "RetryPolicy", "TokenBucket", "Worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one message ended, for every intent it carried."""

    intents: tuple[Intent, ...]
    ok: bool
    channel: str
    attempts: int
    at: datetime
    digest: bool
    status_code: int | None = None
    error: str = ""


OutcomeSink = Callable[[Outcome], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    initial_s: float
    max_s: float

    @classmethod
    def of(cls, options: DeliveryOptions) -> RetryPolicy:
        return cls(options.max_attempts, options.backoff_initial_s, options.backoff_max_s)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_s, self.initial_s * 2 ** min(attempt - 1, 30))
        jittered = rng.uniform(base / 2, base)
        if retry_after is not None:
            return min(self.max_s, max(retry_after, 0.0) + rng.uniform(0, 0.1 * self.initial_s))
        return jittered


@dataclass
class TokenBucket:
    """``rate`` tokens per minute, holding at most ``rate``; times from a monotonic clock."""

    rate_per_minute: int
    tokens: float = -1.0
    updated: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.updated = float(self.rate_per_minute), now
        self.tokens = min(
            float(self.rate_per_minute),
            self.tokens + (now - self.updated) * self.rate_per_minute / 60.0,
        )
        self.updated = now

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self.tokens)

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_s(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * 60.0 / self.rate_per_minute


@dataclass
class _Held:
    release: datetime
    intents: list[Intent] = field(default_factory=list)


class Worker(threading.Thread):
    """Delivers one subscription's intents. ``submit`` from any thread; ``retire`` to finish."""

    def __init__(
        self,
        sub: Subscription,
        channel: Channel,
        sink: OutcomeSink,
        *,
        clock: Clock,
        stop: threading.Event,
        alert_url: str = "",
        rng: random.Random | None = None,
        lanes: int = 1,
    ) -> None:
        super().__init__(name=f"notifier-{sub.id}", daemon=True)
        self.sub = sub
        self.channel = channel
        self.sink = sink
        self.clock = clock
        self.stop = stop
        self.alert_url = alert_url
        self.rng = rng or random.Random()
        self.policy = RetryPolicy.of(sub.delivery)
        self.bucket = TokenBucket(sub.delivery.rate_per_minute)
        self.inbox: queue.Queue[Intent] = queue.Queue()
        self.held: dict[datetime, _Held] = {}
        self._retired = threading.Event()
        self._busy = 0  # submitted, not reported yet
        self._held_n = 0  # of which held for a digest
        self._lock = threading.Lock()
        self._rng_lock = threading.Lock()
        self._lane_count = max(1, lanes)
        self._lanes: dict[int, tuple[queue.Queue[list[Intent] | None], threading.Thread]] = {}

    # -- from other threads -----------------------------------------------------------------

    def submit(self, intent: Intent) -> None:
        with self._lock:
            self._busy += 1
        self.inbox.put(intent)

    def retire(self) -> None:
        """Send what is queued and held now, then end (the subscription was changed or deleted)."""
        self._retired.set()

    def idle(self) -> bool:
        """Nothing queued or being sent (held digests do not count)."""
        with self._lock:
            return self._busy == self._held_n

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._serve()
        finally:
            for inbox, _ in self._lanes.values():
                inbox.put(None)  # after what is queued: a lane sends it, then ends
            for _, thread in self._lanes.values():
                thread.join()
            self.channel.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            ready = self._collect()
            if self._retired.is_set() and self.inbox.empty():
                for release in sorted(self.held):
                    self._send_group(self._release(release), digest=True)
                if ready:
                    self._send_now(ready)
                return
            for release in sorted(r for r in self.held if r <= self.clock.now()):
                self._send_group(self._release(release), digest=True)
            if ready:
                self._send_now(ready)

    def _collect(self) -> list[Intent]:
        """Wait for intents (until the next release time at most); file held ones."""
        now = self.clock.now()
        wait = 0.2
        if self.held:
            wait = max(0.0, min(wait, (min(self.held) - now).total_seconds()))
        ready: list[Intent] = []
        try:
            first = self.inbox.get(timeout=wait) if wait > 0 else self.inbox.get_nowait()
        except queue.Empty:
            return ready
        batch = [first]
        while True:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        now = self.clock.now()
        for intent in batch:
            release = held_until(self.sub, intent.alert, now)
            if release is None:
                ready.append(intent)
            else:
                self.held.setdefault(release, _Held(release)).intents.append(intent)
                with self._lock:
                    self._held_n += 1
        return ready

    def _release(self, release: datetime) -> list[Intent]:
        intents = self.held.pop(release).intents
        with self._lock:
            self._held_n -= len(intents)
        return intents

    def _send_now(self, ready: list[Intent]) -> None:
        now = self.clock.monotonic()
        if len(ready) <= self.bucket.available(now):
            for intent in ready:
                self.bucket.take(self.clock.monotonic())
                self._dispatch(intent)
            return
        # A flood: wait for one token, then everything waiting by then goes as one digest.
        while not self.bucket.take(self.clock.monotonic()):
            if self.stop.wait(min(1.0, self.bucket.wait_s(self.clock.monotonic()))):
                return
            ready.extend(i for i in self._collect())
        self._send_group(ready, digest=len(ready) > 1)

    def _dispatch(self, intent: Intent) -> None:
        """Send one alert now: on this thread with one lane, else on its alert's lane."""
        if self._lane_count == 1:
            self._send_group([intent], digest=False)
            return
        index = zlib.crc32(intent.alert.alert_id.encode()) % self._lane_count
        lane = self._lanes.get(index)
        if lane is None:  # lanes start when first needed: most subscriptions never use them all
            inbox: queue.Queue[list[Intent] | None] = queue.Queue()
            thread = threading.Thread(
                target=self._lane, args=(inbox,), name=f"{self.name}-{index}", daemon=True
            )
            lane = self._lanes[index] = (inbox, thread)
            thread.start()
        lane[0].put([intent])

    def _lane(self, inbox: queue.Queue[list[Intent] | None]) -> None:
        while (intents := inbox.get()) is not None:
            if self.stop.is_set():
                continue  # abandoned unsent: planned again after the restart
            self._send_group(intents, digest=False)

    def _send_group(self, intents: list[Intent], *, digest: bool) -> None:
        if not intents:
            return
        key = digest_key(i.delivery_id for i in intents) if digest else intents[0].delivery_id
        message = Outgoing(
            subscription=self.sub,
            alerts=tuple(i.alert for i in intents),
            digest=digest,
            idempotency_key=key,
            alert_url=self.alert_url,
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                status = self.channel.send(message)
            except DeliveryError as exc:
                last = exc
            except Exception as exc:  # a channel bug must not kill the worker
                log.exception("subscription %s: channel %s failed", self.sub.id, self.channel.kind)
                last = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=False)
            else:
                self._report(intents, True, attempt, digest, status_code=status)
                return
            if not last.retryable or attempt >= self.policy.max_attempts:
                log.warning(
                    "subscription %s: giving up after %d attempt(s): %s", self.sub.id, attempt, last
                )
                self._report(
                    intents, False, attempt, digest, status_code=last.status_code, error=str(last)
                )
                return
            with self._rng_lock:
                delay = self.policy.delay(attempt, last.retry_after, self.rng)
            log.info(
                "subscription %s: attempt %d failed (%s); retrying in %.2fs",
                self.sub.id,
                attempt,
                last,
                delay,
            )
            if self.stop.wait(delay):
                return  # abandoned: no outcome, so it is planned again after the restart

    def _report(
        self,
        intents: list[Intent],
        ok: bool,
        attempts: int,
        digest: bool,
        *,
        status_code: int | None,
        error: str = "",
    ) -> None:
        self.sink(
            Outcome(
                intents=tuple(intents),
                ok=ok,
                channel=self.channel.kind,
                attempts=attempts,
                at=self.clock.now(),
                digest=digest,
                status_code=status_code,
                error=error,
            )
        )
        with self._lock:
            self._busy -= len(intents)
