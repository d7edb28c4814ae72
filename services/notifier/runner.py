"""The notifier service: ``alerts.raised`` (and ``subscriptions``) in; deliveries out to the
channels; ``alert.delivered`` / ``alert.delivery_failed`` on ``alerts.delivered``.

Why not the plain ``ConsumerLoop``: a delivery takes as long as the receiver (seconds, or a
digest's hours), and one slow receiver must not hold up the others. So the consumer thread
plans deliveries and hands them to one worker thread per subscription (delivery.py), and
records the outcomes those report, in the same ``append_and_commit`` as the input offsets
that are now complete (one SQLite transaction).

Exactly once per subscription, across crashes and redeliveries
    1. At start the notifier reads the whole ``alerts.delivered`` topic: every delivery id
       with an outcome (delivered or failed) is done and is never planned again.
    2. An ``alerts.raised`` record is committed only when every delivery it planned has a
       recorded outcome (tracker.py): the commit offset of a partition is its lowest record
       still waiting. A crash replays those records, and step 1 drops what was recorded.
    3. In one run a delivery id is planned at most once (``DeliveryState.in_flight``).

The window that remains
    A crash after the receiver answered and before the outcome is appended (the worker's
    report waits at most one poll interval, ``poll_timeout_s``, 0.1 s by default) replays
    the delivery: the receiver gets it a second time. It is the same message with the same
    idempotency key (``Idempotency-Key`` header = the delivery id, or the digest key; email:
    ``Message-ID``), so a receiver that remembers the keys it processed drops it. That is
    the contract for receivers: keep processed keys for a day and answer 2xx to a repeat.
    A digest replayed after a crash is rebuilt from the same alerts only if they fall in the
    same digest; otherwise its key differs and its alerts are listed again.

Costs of this choice
    A digest subscription holds the commit of its alerts until the digest goes out: after a
    restart those records (at most one digest period) are read again; that is cheap and
    keeps the pending digest on the log rather than in a side store. A receiver that hangs
    holds the commit for at most ``max_attempts`` x (``timeout_s`` + backoff), then its
    failure is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import AlertRaised, CloudEvent, DeadLetter, new_event
from services.alerting.subscriptions import Subscription, SubscriptionError
from services.eventlog import (
    Consumer,
    EventLog,
    Message,
    PoisonRecordError,
    RebalanceError,
    Record,
    RetryableError,
    TopicPartition,
)
from services.eventlog.codec import decode, encode
from services.eventlog.reading import read_topic
from services.notifier.book import SubscriptionBook, configured, delivery_guard
from services.notifier.core import (
    SOURCE,
    DeliveryState,
    delivered_event,
    failed_event,
    plan,
)
from services.notifier.delivery import Outcome, Worker
from services.notifier.tracker import Watermarks
from services.runtime.bootstrap import group, topic
from services.runtime.service import ServiceContext

__all__ = ["NAME", "NotifierOptions", "NotifierService", "build", "read_all"]

NAME = "notifier"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    poll_timeout_s: float = 0.1
    batch_size: int = 500
    alert_url: str | None = None  # None: the API's /alerts/{alert_id} from settings.api
    join_timeout_s: float = 2.0
    #: messages in flight per subscription at once (delivery.py: one alert's updates in order)
    lanes: int = 4


def read_all(elog: EventLog, name: str, timeout_s: float = 60.0) -> Iterator[CloudEvent]:
    """Every valid event of a topic up to its end (invalid ones skipped; see
    ``services.eventlog.reading`` for why the end is read, not trusted)."""
    for record in read_topic(elog, name, timeout_s=timeout_s):
        try:
            yield decode(record)
        except PoisonRecordError as exc:
            log.warning("skipping %s", exc)


class NotifierService:
    name = NAME

    def __init__(
        self,
        context: ServiceContext,
        subscriptions: Sequence[Subscription],
        options: NotifierOptions | None = None,
    ) -> None:
        self.context = context
        self.options = options or NotifierOptions()
        cfg = context.settings
        self.alerts_topic = topic(cfg, "alerts.raised")
        self.subscriptions_topic = topic(cfg, "subscriptions")
        self.delivered_topic = topic(cfg, "alerts.delivered")
        self.deadletter_topic = topic(cfg, "deadletter")
        self.group = group(cfg, NAME)
        self.alert_url = (
            self.options.alert_url
            if self.options.alert_url is not None
            else f"http://{cfg.api.host}:{cfg.api.port}/alerts/{{alert_id}}"
        )
        self.book = SubscriptionBook(subscriptions)
        #: hosts checked before delivering for subscriptions from the API (channels.guard)
        self.guard = delivery_guard(cfg)
        self.state = DeliveryState()
        self.marks = Watermarks()
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.workers: dict[str, Worker] = {}
        self.retired: list[Worker] = []
        self.worker_stop = threading.Event()
        self._consumer: Consumer | None = None
        self._last_commit: dict[TopicPartition, int] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        elog = self.context.log
        for event in read_all(elog, self.delivered_topic):
            self.state.apply(event)
        for refused in self.book.fold(read_all(elog, self.subscriptions_topic)):
            log.warning("%s", refused)
        for sub in self.book.all():
            self._start_worker(sub)
        self._consumer = elog.consumer(
            [self.alerts_topic, self.subscriptions_topic], group=self.group, reset="earliest"
        )
        log.info(
            "notifier: %d subscription(s), %d delivery outcome(s) on the log",
            len(self.book.all()),
            len(self.state.done),
        )

    def run(self) -> None:
        self.start()
        try:
            while not self.context.stop.is_set():
                self.step()
        finally:
            self.shutdown()

    def run_until_idle(self, timeout_s: float = 300.0) -> None:
        """Until everything read has an outcome (held digests aside) and nothing is left to read."""
        self.start()
        deadline = time.monotonic() + timeout_s
        try:
            quiet = 0
            while not self.context.stop.is_set() and time.monotonic() < deadline:
                consumed = self.step()
                busy = any(not w.idle() for w in self._all_workers()) or not self.outcomes.empty()
                quiet = quiet + 1 if consumed == 0 and not busy else 0
                if quiet >= 2:  # two empty polls: everything this consumer owns was read
                    break
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.worker_stop.set()
        for worker in self._all_workers():
            worker.join(self.options.join_timeout_s)
        if self._consumer is not None:
            try:
                self._record()
            except Exception:
                log.warning("notifier: could not record the last outcomes", exc_info=True)
            self._consumer.close()
            self._consumer = None

    # -- one step ---------------------------------------------------------------------------

    def step(self) -> int:
        """Poll once, plan and dispatch, record finished outcomes and commit. Records read."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        if self.context.stop.is_set():
            self.worker_stop.set()
        try:
            records = consumer.poll(
                max_records=self.options.batch_size, timeout_s=self.options.poll_timeout_s
            )
        except RetryableError as exc:
            log.warning("notifier: poll failed: %s", exc)
            self.context.stop.wait(1.0)
            records = []
        dead: list[Message] = []
        for record in records:
            dead.extend(self._handle(record))
        self._record(dead)
        return len(records)

    def _handle(self, record: Record) -> list[Message]:
        try:
            event = decode(record)
            if record.topic == self.subscriptions_topic:
                changed = self.book.apply(event)
                if changed is not None:
                    self._restart_worker(changed)
                self.marks.seen(record)
                return []
            if not isinstance(event.data, AlertRaised):
                raise PoisonRecordError(f"unexpected event type {event.type} on {record.topic}")
            intents = plan(event, self.book.all(), self.state)
        except (PoisonRecordError, SubscriptionError) as exc:
            log.warning("notifier: %s", exc)
            self.marks.seen(record)
            return [self._deadletter(record, exc)]
        self.marks.seen(record, (i.delivery_id for i in intents))
        for intent in intents:
            self.state.in_flight.add(intent.delivery_id)
            self.workers[intent.subscription_id].submit(intent)
        return []

    def _record(self, extra: Sequence[Message] = ()) -> None:
        """Append the finished outcomes (and dead letters) and commit what is complete."""
        consumer = self._consumer
        assert consumer is not None
        finished: list[Outcome] = []
        while True:
            try:
                finished.append(self.outcomes.get_nowait())
            except queue.Empty:
                break
        messages = list(extra)
        settled: list[str] = []
        for outcome in finished:
            for intent in outcome.intents:
                if outcome.ok:
                    event = delivered_event(
                        intent,
                        channel=outcome.channel,
                        attempts=outcome.attempts,
                        at=outcome.at,
                        status_code=outcome.status_code,
                        digest=outcome.digest,
                    )
                else:
                    event = failed_event(
                        intent,
                        channel=outcome.channel,
                        attempts=outcome.attempts,
                        at=outcome.at,
                        error=outcome.error,
                        status_code=outcome.status_code,
                    )
                messages.append(
                    encode(event, topic=self.delivered_topic, key=intent.alert.alert_id)
                )
                settled.append(intent.delivery_id)
        for ident in settled:
            self.state.settle(ident)
            self.marks.resolve(ident)
        offsets = self.marks.offsets(consumer.assignment())
        if not messages and all(self._last_commit.get(tp) == o for tp, o in offsets.items()):
            return
        if self._append_and_commit(consumer, messages, offsets):
            self._last_commit.update(offsets)

    def _append_and_commit(
        self, consumer: Consumer, messages: list[Message], offsets: dict[TopicPartition, int]
    ) -> bool:
        """Record outcomes and commit; False when a rebalance took the inputs away."""
        delay = 0.5
        while True:
            try:
                consumer.append_and_commit(messages, offsets)
                return True
            except RebalanceError as exc:
                # Outcomes were not appended: record them alone, the inputs go to the new owner.
                log.info("notifier: %s", exc)
                if messages:
                    self.context.log.append(messages)
                lost = set(self.marks.offsets()) - set(consumer.assignment())
                self.marks.forget(lost)
                return False
            except RetryableError as exc:
                # The log is unreachable (broker outage, full disk): these outcomes are
                # settled in memory only, so keep them and retry rather than die; when
                # stopping, give up (they are re-planned, same key, after the restart).
                if self.context.stop.is_set():
                    raise
                log.warning(
                    "notifier: recording %d outcome(s) failed, retrying in %.1fs: %s",
                    len(messages),
                    delay,
                    exc,
                )
                self.context.stop.wait(delay)
                delay = min(delay * 2, 10.0)

    # -- workers ----------------------------------------------------------------------------

    def _start_worker(self, sub: Subscription) -> None:
        if not sub.pushed:
            return
        worker = Worker(
            sub,
            self.book.sender(sub, self.guard),
            self.outcomes.put,
            clock=self.context.clock,
            stop=self.worker_stop,
            alert_url=self.alert_url,
            lanes=self.options.lanes,
        )
        self.workers[sub.id] = worker
        worker.start()

    def _restart_worker(self, ident: str) -> None:
        old = self.workers.pop(ident, None)
        if old is not None:
            old.retire()
            self.retired.append(old)
        sub = self.book.get(ident)
        if sub is not None:
            self._start_worker(sub)

    def _all_workers(self) -> list[Worker]:
        self.retired = [w for w in self.retired if w.is_alive()]
        return [*self.workers.values(), *self.retired]

    def _deadletter(self, record: Record, exc: Exception) -> Message:
        payload = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group,
            error_class=type(exc).__name__,
            reason=(str(exc) or type(exc).__name__)[:2000],
            key_b64=None if record.key is None else base64.b64encode(record.key).decode(),
            value_b64=base64.b64encode(record.value).decode(),
            headers={k: base64.b64encode(v).decode() for k, v in record.headers},
            failed_at=datetime.now(UTC),
        )
        ident = hashlib.sha256(
            f"{record.topic}\x1f{record.partition}\x1f{record.offset}\x1f{NAME}".encode()
        )
        event = new_event(
            payload, id="dlq_" + ident.hexdigest()[:32], source=SOURCE, subject=record.topic
        )
        return encode(event, topic=self.deadletter_topic, key=record.topic)


def build(context: ServiceContext, options: NotifierOptions | None = None) -> NotifierService:
    """The notifier, with the config's subscriptions (a ``ConfigError`` if any is invalid)."""
    return NotifierService(context, configured(context.settings), options)
