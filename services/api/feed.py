"""Live alerts for SSE clients: one thread follows ``alerts.raised`` and ``alerts.lifecycle``
on the log (from their end, no group) and fans each event out to every connected client.

Clients get asyncio queues; the thread hands events to their loops with
``call_soon_threadsafe``. A client may give a predicate over the event (a subscription's
stream takes only the alerts its subscription matches); the others get every event. A client too slow to keep up loses events (its queue is bounded)
rather than slowing the others; the dashboard's list can always be reloaded from the
read model.

Why a backlog: a page shows the read model as it was when it was rendered, and its stream
starts when the browser connects, later; the browser also reconnects by itself after a
network blip or a restart of the API. An alert raised in between would be on neither. So
the feed keeps its last ``BACKLOG`` records, each event carries an id (this process's boot
token and the record's sequence number), and a client that (re)connects gets what it has
not seen before the live events, in log order: after its ``Last-Event-ID`` (what
EventSource sends on a reconnect), or after the log positions the page was rendered at
(``Positions``). When that cannot be done exactly (an id of another API process, records
gone from the backlog, a page older than the feed), the client is told to resync (reload)
instead of being shown a list with a hole in it. Records are kept raw: with nobody
listening, following the log costs no decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from schemas import AlertRaised, CloudEvent
from services.api.reader import Reader
from services.eventlog import EventLog, EventLogError, PoisonRecordError, Record, TopicPartition
from services.eventlog.codec import decode
from services.projections.queries import iso

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000
#: Records kept for clients that (re)connect: minutes of alerts at any sane rate.
BACKLOG = 2000
Accept = Callable[[CloudEvent], bool]
Queue = asyncio.Queue[dict[str, Any]]
#: a connected client: its queue, its event loop, what it accepts
Client = tuple[Queue, tuple[asyncio.AbstractEventLoop, Accept | None]]
#: Per partition, the next offset a page's read model had not folded yet.
Positions = Mapping[TopicPartition, int]


class FeedFull(Exception):
    """As many clients are connected as the feed takes (``api.max_streams``)."""


class AlertFeed:
    def __init__(
        self,
        event_log: EventLog,
        topics: list[str],
        reader: Reader,
        backlog: int = BACKLOG,
        max_clients: int = 200,
    ) -> None:
        self.log = event_log
        self.max_clients = max_clients
        self.topics = topics
        self.reader = reader
        self.stop = threading.Event()
        self.ready = threading.Event()
        self._clients: dict[Queue, tuple[asyncio.AbstractEventLoop, Accept | None]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: event ids are "<boot>.<sequence>": a restarted API does not take another's ids
        self.boot = secrets.token_hex(4)
        self._seq = 0
        self._backlog: deque[tuple[int, Record]] = deque(maxlen=backlog)
        #: per partition, from which offset on every record is in the backlog (or is to come)
        self._complete_from: dict[TopicPartition, int] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tocsin-alert-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def subscribe(self, accept: Accept | None = None) -> Queue:
        """A queue of the events ``accept`` takes (every event when None)."""
        return self.resume(accept)[0]

    def resume(
        self,
        accept: Accept | None = None,
        *,
        last_event_id: str | None = None,
        after: Positions | None = None,
    ) -> tuple[Queue, list[tuple[int, Record]] | None]:
        """The live queue, and the backlog the client missed, oldest first: the records
        after ``last_event_id`` (one of this feed's ids), else those at or after ``after``,
        else none. ``None`` for the backlog: it cannot be given exactly (resync). Taken
        under the lock that publishing takes, so nothing falls between backlog and queue.
        ``FeedFull`` when ``max_clients`` are connected already."""
        queue: Queue = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            if len(self._clients) >= self.max_clients:
                raise FeedFull(
                    f"{self.max_clients} live streams are open, the most this API serves; "
                    "try again later"
                )
            self._clients[queue] = (asyncio.get_running_loop(), accept)
            if last_event_id:
                backlog = self._after_id(last_event_id)
            elif after is not None:
                backlog = self._after_positions(after)
            else:
                backlog = []
        return queue, backlog

    def _after_id(self, last_event_id: str) -> list[tuple[int, Record]] | None:
        boot, _, number = last_event_id.partition(".")
        if boot != self.boot or not number.isdigit():
            return None  # another process's id (the API restarted) or not ours
        seen = int(number)
        oldest = self._backlog[0][0] if self._backlog else self._seq + 1
        if seen + 1 < oldest or seen > self._seq:
            return None  # what followed it is gone from the backlog, or it never was
        return [(n, r) for n, r in self._backlog if n > seen]

    def _after_positions(self, after: Positions) -> list[tuple[int, Record]] | None:
        if not self.ready.is_set():
            return None
        for tp, offset in self._complete_from.items():
            if after.get(tp, 0) < offset:
                return None  # the page is older than what the backlog holds
        return [(n, r) for n, r in self._backlog if r.offset >= after.get(r.tp, 0)]

    @property
    def read_count(self) -> int:
        """Records read from the log since the feed started (the last sequence number)."""
        return self._seq

    def complete_from(self) -> dict[TopicPartition, int]:
        """Per partition, the offset from which on the backlog misses nothing."""
        with self._lock:
            return dict(self._complete_from)

    def item(self, number: int, record: Record) -> tuple[dict[str, Any], CloudEvent] | None:
        """The client message for a backlog record (``None`` for an undecodable one)."""
        try:
            event = decode(record)
        except PoisonRecordError:
            return None
        return {**self.describe(event), "id": f"{self.boot}.{number}"}, event

    def unsubscribe(self, queue: Queue) -> None:
        with self._lock:
            self._clients.pop(queue, None)

    def _arrived(self, record: Record) -> None:
        """A record read from the log: kept in the backlog, sent to the clients connected."""
        with self._lock:
            self._seq += 1
            number = self._seq
            if len(self._backlog) == self._backlog.maxlen:
                _, gone = self._backlog[0]
                self._complete_from[gone.tp] = gone.offset + 1
            self._backlog.append((number, record))
            clients = list(self._clients.items())
        if not clients:  # nobody listens: no decoding, no read-model query per alert
            return
        made = self.item(number, record)
        if made is not None:
            self._fan_out(clients, *made)

    def _fan_out(
        self,
        clients: list[Client],
        item: dict[str, Any],
        event: CloudEvent | None,
    ) -> None:
        for queue, (loop, accept) in clients:
            if accept is not None and (event is None or not _accepts(accept, event)):
                continue
            with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
                loop.call_soon_threadsafe(_offer, queue, item)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.log.consumer(self.topics, group=None, reset="latest") as consumer:
                    first = consumer.poll(max_records=1, timeout_s=0)  # the partitions' ends
                    with self._lock:
                        # after a failure the backlog starts again: nothing before is complete
                        self._backlog.clear()
                        self._complete_from = {
                            tp: consumer.position(tp) for tp in consumer.assignment()
                        }
                        for record in first:
                            self._complete_from[record.tp] = record.offset
                    for record in first:
                        self._arrived(record)
                    self.ready.set()
                    while not self.stop.is_set():
                        for record in consumer.poll(max_records=200, timeout_s=0.25):
                            self._arrived(record)
            except EventLogError:
                log.warning("alert feed: the log failed; following again in 1s", exc_info=True)
                self.stop.wait(1.0)

    def describe(self, event: Any) -> dict[str, Any]:
        data = event.data
        if isinstance(data, AlertRaised):
            return {"event": "alert", "data": self._alert(data, event.time)}
        return {
            "event": "lifecycle",
            "data": {
                "alert_id": data.alert_id,
                "kind": event.type.split(".")[2],
                "by": data.by,
                "at": iso(int(data.at.timestamp() * 1000)),
            },
        }

    def _alert(self, a: AlertRaised, time: Any) -> dict[str, Any]:
        ids = [art.article_id for art in a.articles]
        countries: list[str] = []
        try:
            rows = self.reader.conn().execute(
                f"SELECT DISTINCT country FROM article_countries WHERE article_id IN ({','.join('?' * len(ids))}) ORDER BY country",
                ids,
            )
            countries = [r[0] for r in rows]
        except Exception:  # the read model is a nicety here: the alert goes out anyway
            log.debug("alert feed: no countries for %s", a.alert_id, exc_info=True)
        return {
            "alert_id": a.alert_id,
            "title": a.title,
            "severity": a.severity.value,
            "rule_id": a.rule_id,
            "revision": a.revision,
            "status": "open",
            "sources": sorted({art.source_id for art in a.articles}),
            "countries": countries,
            "raised_at": iso(int(time.timestamp() * 1000)),
        }


def _accepts(accept: Accept, event: CloudEvent) -> bool:
    try:
        return accept(event)
    except Exception:  # one client's filter never stops the feed
        log.warning("alert feed: a client's filter failed", exc_info=True)
        return False


def _offer(queue: Queue, item: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)


def sse_message(item: dict[str, Any]) -> dict[str, str]:
    message = {"event": item["event"], "data": json.dumps(item["data"], ensure_ascii=False)}
    if "id" in item:
        message["id"] = item["id"]
    return message


def parse_positions(text: str) -> Positions | None:
    """``topic:partition=offset,...`` (what the dashboard's page carries), or ``None``."""
    out: dict[TopicPartition, int] = {}
    for part in text.split(","):
        where, _, offset = part.strip().rpartition("=")
        topic, _, partition = where.rpartition(":")
        if not topic or not partition.isdigit() or not offset.isdigit():
            return None
        out[TopicPartition(topic, int(partition))] = int(offset)
    return out


def format_positions(positions: Positions) -> str:
    return ",".join(f"{tp.topic}:{tp.partition}={o}" for tp, o in sorted(positions.items()))
