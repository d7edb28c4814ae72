"""The projection as a consumer loop: every topic, group ``projections``, no outputs.

It is the runtime's ``ConsumerLoop`` (decoding, dead letters, retries, stop) with a handler
that folds each event into the read model, and the consumer wrapped by ``TrackingConsumer``
so that the read model, not the group's committed offsets, decides where reading resumes:

- before the log commits a batch's offsets, the read model commits the batch's rows and
  positions (one SQLite transaction); a crash between the two replays a batch the read
  model already has, and ``TrackingConsumer`` skips it;
- when the group is ahead of the read model (a new or deleted read model file, a crash
  the other way round), the consumer seeks back to where the read model stands.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from schemas import TOPICS, CloudEvent
from services.eventlog import (
    Consumer,
    EventLog,
    Message,
    Position,
    RebalanceError,
    Record,
    TopicPartition,
)
from services.projections.settings import DEFAULT_GROUP
from services.projections.store import ReadModel
from services.runtime.bootstrap import topic
from services.runtime.loop import ConsumerLoop, Emit, LoopSettings
from services.runtime.metrics import Metrics
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "/tocsin/projections"


class TrackingConsumer(Consumer):
    """A consumer whose reads and commits follow the read model's ``tracking`` positions."""

    def __init__(self, inner: Consumer, store: ReadModel, linger_s: float = 0.0) -> None:
        self.inner = inner
        self.store = store
        self.group = inner.group
        self.linger_s = linger_s
        self._checked: set[TopicPartition] = set()

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        records = self._gather(max_records, timeout_s)
        tracking = self.store.tracking
        firsts: dict[TopicPartition, int] = {}
        for r in records:
            firsts.setdefault(r.tp, r.offset)
        assigned = self.inner.assignment()
        self._checked &= assigned  # a partition lost and regained is checked again
        rewound: set[TopicPartition] = set()
        for tp in assigned - self._checked:
            # Once per partition gained, so that a log no longer holding the gap
            # (retention) is read from where it starts.
            self._checked.add(tp)
            start = firsts.get(tp, self.inner.position(tp))
            expected = tracking.get(tp, 0)
            if start > expected:  # the group is ahead of the read model: read the gap
                self.inner.seek(tp, expected)
                rewound.add(tp)
        out: list[Record] = []
        skipped: dict[TopicPartition, int] = {}
        for r in records:
            if r.tp in rewound:
                continue
            if r.offset < tracking.get(r.tp, 0):
                skipped[r.tp] = r.offset + 1  # already in the read model
                continue
            out.append(r)
        if skipped:
            # Let the group catch up with the read model, so its lag says the truth.
            with contextlib.suppress(RebalanceError):
                self.inner.commit(skipped)
        return out

    def _gather(self, max_records: int, timeout_s: float) -> list[Record]:
        """One poll, then more for up to ``linger_s`` while the batch is not full.

        Why: in a running pipeline events trickle in a few at a time, and a read-model
        transaction costs about the same for 2 events as for 50 (its index and FTS pages
        are written again at every commit): gathering them cuts the read model's CPU per
        article by a quarter to a third (``bench/projections.py``). Like Kafka's
        ``fetch.max.wait.ms``, it delays views, never the log or the alerts. Off by default:
        an operator who acknowledges an alert and reloads expects to see it acknowledged,
        and the read model then lags by up to the linger."""
        records = self.inner.poll(max_records=max_records, timeout_s=timeout_s)
        if not records or self.linger_s <= 0:
            return records
        deadline = time.monotonic() + self.linger_s
        while len(records) < max_records:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                more = self.inner.poll(max_records=max_records - len(records), timeout_s=remaining)
            except Exception as exc:
                # The records read so far have moved the positions on: returned, they are
                # folded; raised past, they would be skipped. The next poll meets the error.
                log.debug("projections: gathering stopped: %s", exc)
                break
            records += more
        return records

    def append_and_commit(
        self, messages: Sequence[Message], offsets: Mapping[TopicPartition, int] | None = None
    ) -> list[Position]:
        self.store.commit(offsets)  # the read model first: see the module docstring
        return self.inner.append_and_commit(messages, offsets)

    def assignment(self) -> frozenset[TopicPartition]:
        return self.inner.assignment()

    def position(self, tp: TopicPartition) -> int:
        return self.inner.position(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.inner.seek(tp, offset)

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self.inner.commit(offsets)

    def close(self) -> None:
        self._checked.clear()
        self.inner.close()

    @property
    def log(self) -> EventLog:
        return self.inner.log


class ProjectionLoop(ConsumerLoop):
    """``ConsumerLoop`` over every topic into one read model."""

    def __init__(
        self,
        event_log: EventLog,
        store: ReadModel,
        *,
        topics: Sequence[str],
        deadletter_topic: str,
        group: str = DEFAULT_GROUP,
        stop: threading.Event | None = None,
        settings: LoopSettings | None = None,
        metrics: Metrics | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self.store = store
        self.linger_s = linger_s
        super().__init__(
            event_log,
            group=group,
            topics=topics,
            handler=self._fold,
            deadletter_topic=deadletter_topic,
            stop=stop,
            settings=settings,
            metrics=metrics,
            source=SOURCE,
        )

    def _fold(self, event: CloudEvent, record: Record) -> Iterable[Emit]:
        self.store.apply(event)
        return ()

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            inner = self._retry(
                "join group", lambda: self.log.consumer(self.topics, group=self.group)
            )
            self._consumer = TrackingConsumer(inner, self.store, self.linger_s)
        return self._consumer

    def close(self) -> None:
        self.store.rollback()  # rows of a batch the log did not take are read again
        super().close()


def all_topics(settings: Settings) -> list[str]:
    return [topic(settings, name) for name in TOPICS]


def projection_loop(
    settings: Settings,
    event_log: EventLog,
    store: ReadModel,
    *,
    group: str = DEFAULT_GROUP,
    stop: threading.Event | None = None,
    metrics: Metrics | None = None,
) -> ProjectionLoop:
    rt = settings.runtime
    return ProjectionLoop(
        event_log,
        store,
        topics=all_topics(settings),
        deadletter_topic=topic(settings, "deadletter"),
        group=group,
        stop=stop,
        metrics=metrics,
        settings=LoopSettings.from_runtime(rt),
        linger_s=settings.api.projections_linger_s,
    )
