"""The consume -> process -> append -> commit loop that every service's runner uses.

One batch at a time: poll up to ``batch_size`` records, decode each, hand it to the
service's pure handler, collect the outputs, then append the outputs and commit the
inputs together (``Consumer.append_and_commit``: one transaction on SQLite). Hence:

- at-least-once: nothing is committed before its outputs are on the log; a crash replays
  the uncommitted batch, and deterministic event ids make the replayed outputs harmless;
- a record that cannot be decoded, or whose handler raises, goes to the dead-letter topic
  with the reason, in the same commit, and the loop goes on (it never dies of one record);
- transport trouble (``RetryableError``) is retried with exponential backoff and jitter
  until it passes or a stop is requested; a stop mid-retry commits nothing, so the batch is
  replayed on restart;
- a partition taken away mid-batch (``RebalanceError``) drops the batch: its new owner
  processes it;
- a stop request (SIGINT/SIGTERM) is honoured between batches: finish, commit, leave.

A service may also give a ``BatchHandler``: the whole batch at once, returning each record's
encoded outputs or the exception it raised, so that the work can be spread over worker
processes (the enricher does, see services/enricher/pool.py). Everything above holds the
same: the loop treats each returned exception exactly as if the handler had raised it for
that record, and appends and commits the batch as one.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from schemas import CloudEvent, DeadLetter, new_event
from services.eventlog import (
    Consumer,
    EventLog,
    FatalError,
    Message,
    PoisonRecordError,
    RebalanceError,
    Record,
    RetryableError,
    TopicPartition,
)
from services.eventlog.codec import decode, encode
from services.runtime.metrics import (
    BATCH_SECONDS,
    DEADLETTERED,
    REBALANCES,
    RECORDS_CONSUMED,
    RECORDS_PRODUCED,
    RETRIES,
    Metrics,
)
from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Emit:
    """An output event and where it goes: ``topic`` is the full topic name."""

    topic: str
    key: str
    event: CloudEvent


#: A service's pure core as the loop sees it: one input event -> its output events.
Handler = Callable[[CloudEvent, Record], Iterable[Emit]]

#: A whole batch at once: for each record, in order, its encoded outputs or the exception
#: processing it raised (``RetryableError`` replays the batch, others dead-letter the record).
BatchHandler = Callable[[Sequence[Record]], Sequence[Sequence[Message] | Exception]]


@dataclass(frozen=True, slots=True)
class LoopSettings:
    batch_size: int = 500
    poll_timeout_s: float = 0.5
    retry_initial_s: float = 0.2
    retry_max_s: float = 30.0
    #: ``run_until_idle`` only: a transient failure lasting this long ends the run with it
    #: (a batch job must end; ``run`` retries for as long as it takes)
    idle_give_up_s: float = 300.0

    @classmethod
    def from_runtime(cls, runtime: RuntimeSettings) -> LoopSettings:
        return cls(
            batch_size=runtime.batch_size,
            poll_timeout_s=runtime.poll_timeout_s,
            retry_initial_s=runtime.retry_initial_s,
            retry_max_s=runtime.retry_max_s,
            idle_give_up_s=runtime.idle_give_up_s,
        )


@dataclass
class BatchResult:
    consumed: int = 0
    produced: int = 0
    deadlettered: int = 0
    committed: bool = False
    outputs: list[Emit] = field(default_factory=list)


class RecordTooLarge(Exception):
    """An output the event log would refuse for its size."""


def _size(message: Message) -> int:
    headers = sum(len(k) + len(v) for k, v in message.headers)
    return len(message.value) + len(message.key or b"") + headers


class ConsumerLoop:
    """Runs one handler over one consumer group. Construct, then ``run()`` (or ``run_until_idle``)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        deadletter_topic: str,
        stop: threading.Event | None = None,
        settings: LoopSettings | None = None,
        metrics: Metrics | None = None,
        source: str = "/tocsin/runtime",
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self.log = event_log
        self.group = group
        self.topics = list(topics)
        self.handler = handler
        #: when set, used instead of ``handler`` (which stays the reference of what it does)
        self.batch_handler = batch_handler
        self.deadletter_topic = deadletter_topic
        self.stop = stop or threading.Event()
        self.settings = settings or LoopSettings()
        self.metrics = metrics or Metrics()
        self.source = source
        self._consumer: Consumer | None = None
        self._handler_failures = 0
        self._batch_mode = False  # in run_until_idle: give up after settings.idle_give_up_s
        self._failing_since: float | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = self._retry(
                "join group", lambda: self.log.consumer(self.topics, group=self.group)
            )
        return self._consumer

    def run(self) -> None:
        """Process batches until a stop is requested, then leave the group."""
        try:
            while not self.stop.is_set():
                self.run_once()
        finally:
            self.close()

    def run_until_idle(self, idle_polls: int = 2) -> int:
        """Process until the group has caught up: ``idle_polls`` empty polls in a row and no
        lag left on its topics (partitions held by another member count). Returns the number
        of records this loop processed."""
        total, idle = 0, 0
        self._batch_mode = True
        try:
            while not self.stop.is_set():
                result = self.run_once()
                total += result.consumed
                idle = idle + 1 if result.consumed == 0 else 0
                if idle >= idle_polls and sum(self.log.lag(self.group, self.topics).values()) == 0:
                    break
        finally:
            self._batch_mode = False
        return total

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # leaving is best effort: the session timeout frees the partitions
                log.warning("group %s: could not leave cleanly", self.group, exc_info=True)
            self._consumer = None

    # -- one batch --------------------------------------------------------------------------

    def run_once(self) -> BatchResult:
        """Poll one batch, process it and commit it (or drop it on a rebalance)."""
        try:
            consumer = self.consumer
            records = self._retry(
                "poll",
                lambda: consumer.poll(
                    max_records=self.settings.batch_size, timeout_s=self.settings.poll_timeout_s
                ),
            )
        except _Stopped:
            return BatchResult()
        if not records:
            return BatchResult()
        started = time.monotonic()
        result = BatchResult(consumed=len(records))
        messages: list[Message] = []
        next_offsets: dict[TopicPartition, int] = {}
        outcomes = self._sized(self._process(records, result))
        for record, outcome in zip(records, outcomes, strict=True):
            next_offsets[record.tp] = record.offset + 1
            if isinstance(outcome, RetryableError):
                self._replay(records, outcome)
                return BatchResult()
            if isinstance(outcome, FatalError):
                raise outcome
            if isinstance(outcome, Exception):  # one bad record must not stop the service
                messages.append(self._deadletter(record, outcome))
                result.deadlettered += 1
                self.metrics.inc(DEADLETTERED, group=self.group, error=type(outcome).__name__)
                if not isinstance(outcome, PoisonRecordError):
                    log.error(
                        "group %s: handler failed on %s[%d]@%d",
                        self.group,
                        *record.tp,
                        record.offset,
                        exc_info=outcome,
                    )
                else:
                    log.warning("group %s: %s", self.group, outcome)
                continue
            messages.extend(outcome)
        try:
            self._retry("commit", lambda: consumer.append_and_commit(messages, next_offsets))
        except RebalanceError as exc:
            # Nothing of the batch was committed; what this consumer still owns is read again.
            self._rewind(records)
            self.metrics.inc(REBALANCES, group=self.group)
            log.info("group %s: %s", self.group, exc)
            return BatchResult()
        except _Stopped:
            log.info(
                "group %s: stopping before the batch was committed; it will be replayed", self.group
            )
            return BatchResult()
        self._handler_failures = 0
        self._failing_since = None
        result.committed = True
        result.produced = len(messages) - result.deadlettered
        for record in records:
            self.metrics.inc(RECORDS_CONSUMED, group=self.group, topic=record.topic)
        for m in messages:
            self.metrics.inc(RECORDS_PRODUCED, group=self.group, topic=m.topic)
        self.metrics.observe(BATCH_SECONDS, time.monotonic() - started, group=self.group)
        return result

    def _replay(self, records: Sequence[Record], error: RetryableError) -> None:
        """The handler's own transport trouble (a feed, a webhook): back off, then the batch is
        read again. In a batch run, a failure lasting ``idle_give_up_s`` is raised instead."""
        self._rewind(records)
        self.metrics.inc(RETRIES, group=self.group, operation="handler")
        self._handler_failures += 1
        now = time.monotonic()
        self._failing_since = self._failing_since or now
        if self._batch_mode and now - self._failing_since > self.settings.idle_give_up_s:
            raise error
        log.warning(
            "group %s: handler hit a transient error, replaying the batch",
            self.group,
            exc_info=error,
        )
        self._sleep_backoff(self._handler_failures)

    def _process(
        self, records: Sequence[Record], result: BatchResult
    ) -> Iterator[Sequence[Message] | Exception]:
        """Each record's encoded outputs or the exception it raised, in order; lazily with the
        per-record handler, so that a retryable error stops the batch where it happened (its
        ``Emit``s are kept in ``result.outputs``; a batch handler returns encoded messages only)."""
        if self.batch_handler is not None:
            try:
                outcomes = self.batch_handler(records)
            except FatalError:
                raise
            except RetryableError as exc:  # the batch as a whole: replayed from its start
                yield exc
                return
            if len(outcomes) != len(records):
                raise FatalError(
                    f"group {self.group}: the batch handler returned {len(outcomes)} outcomes "
                    f"for {len(records)} records"
                )
            yield from outcomes
            return
        for record in records:
            try:
                event = decode(record)
                outputs = list(self.handler(event, record))
            except Exception as exc:
                yield exc
                continue
            result.outputs.extend(outputs)
            yield [encode(o.event, topic=o.topic, key=o.key) for o in outputs]

    def _rewind(self, records: Sequence[Record]) -> None:
        """Move back to the batch's first record in each partition this consumer still owns."""
        firsts: dict[TopicPartition, int] = {}
        for r in records:
            firsts.setdefault(r.tp, r.offset)
        owned = self.consumer.assignment()
        for tp, offset in firsts.items():
            if tp in owned:
                self.consumer.seek(tp, offset)

    def _sized(
        self, outcomes: Iterator[Sequence[Message] | Exception]
    ) -> Iterator[Sequence[Message] | Exception]:
        """The outcomes, with ``RecordTooLarge`` for a record one of whose outputs the log
        would refuse (over ``max_record_bytes``): that record is dead-lettered, where the
        append used to fail the whole batch, and the service with it, on every restart."""
        limit = self.log.max_record_bytes
        for outcome in outcomes:
            if limit is None or isinstance(outcome, Exception):
                yield outcome
                continue
            sizes = [(m.topic, _size(m)) for m in outcome]
            over = [(topic, size) for topic, size in sizes if size > limit]
            if over:
                topic, size = over[0]
                yield RecordTooLarge(
                    f"its {topic} record would be {size:,} bytes, over the event log's limit "
                    f"of {limit:,} (kafka.max_message_bytes)"
                )
            else:
                yield outcome

    def _deadletter(self, record: Record, exc: Exception) -> Message:
        reason = str(exc) or type(exc).__name__
        payload = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group,
            error_class=type(exc).__name__,
            reason=reason[:2000],
            key_b64=None if record.key is None else base64.b64encode(record.key).decode(),
            value_b64=base64.b64encode(record.value).decode(),
            headers={k: base64.b64encode(v).decode() for k, v in record.headers},
            failed_at=datetime.now(UTC),
        )
        ident = hashlib.sha256(
            f"{record.topic}\x1f{record.partition}\x1f{record.offset}\x1f{self.group}".encode()
        )
        event = new_event(
            payload, id="dlq_" + ident.hexdigest()[:32], source=self.source, subject=record.topic
        )
        return encode(event, topic=self.deadletter_topic, key=record.topic)

    # -- retries ----------------------------------------------------------------------------

    def _retry(self, operation: str, call: Callable[[], T]) -> T:
        """Call until it does not raise ``RetryableError``, backing off; ``_Stopped`` on a stop request."""

        def before_sleep(state: RetryCallState) -> None:
            self.metrics.inc(RETRIES, group=self.group, operation=operation)
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "group %s: %s failed (attempt %d), retrying in %.1fs: %s",
                self.group,
                operation,
                state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
                exc,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            wait=wait_exponential_jitter(
                multiplier=self.settings.retry_initial_s,
                jitter=self.settings.retry_initial_s,
                max=self.settings.retry_max_s,
            ),
            stop=self._should_stop_retrying,
            sleep=self._interruptible_sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(call)
        except RetryableError:
            if self.stop.is_set():
                raise _Stopped from None
            raise

    def _should_stop_retrying(self, state: RetryCallState) -> bool:
        """A stop request; in a batch run, also a failure lasting ``idle_give_up_s``."""
        if self.stop.is_set():
            return True
        elapsed = state.seconds_since_start or 0.0
        return self._batch_mode and elapsed > self.settings.idle_give_up_s

    def _interruptible_sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _sleep_backoff(self, attempt: int) -> None:
        self.stop.wait(
            min(self.settings.retry_max_s, self.settings.retry_initial_s * 2 ** min(attempt, 20))
        )


class _Stopped(Exception):
    """A retry was abandoned because the service is stopping."""
