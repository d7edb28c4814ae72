"""Live alerts for SSE clients: one thread follows ``alerts.raised`` and ``alerts.lifecycle``
on the log (from their end, no group) and fans each event out to every connected client.

Clients get asyncio queues; the thread hands events to their loops with
``call_soon_threadsafe``. A client may give a predicate over the event (a subscription's
stream takes only the alerts its subscription matches); the others get every event. A client too slow to keep up loses events (its queue is bounded)
rather than slowing the others; the dashboard's list can always be reloaded from the
read model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from schemas import AlertRaised, CloudEvent
from services.api.reader import Reader
from services.eventlog import EventLog, EventLogError, PoisonRecordError
from services.eventlog.codec import decode
from services.projections.queries import iso

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000
Accept = Callable[[CloudEvent], bool]


class AlertFeed:
    def __init__(self, event_log: EventLog, topics: list[str], reader: Reader) -> None:
        self.log = event_log
        self.topics = topics
        self.reader = reader
        self.stop = threading.Event()
        self.ready = threading.Event()
        self._clients: dict[
            asyncio.Queue[dict[str, Any]], tuple[asyncio.AbstractEventLoop, Accept | None]
        ] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tocsin-alert-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def subscribe(self, accept: Accept | None = None) -> asyncio.Queue[dict[str, Any]]:
        """A queue of the events ``accept`` takes (every event when None)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._clients[queue] = (asyncio.get_running_loop(), accept)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._clients.pop(queue, None)

    def publish(self, item: dict[str, Any], event: CloudEvent | None = None) -> None:
        with self._lock:
            clients = list(self._clients.items())
        for queue, (loop, accept) in clients:
            if accept is not None and (event is None or not _accepts(accept, event)):
                continue
            with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
                loop.call_soon_threadsafe(_offer, queue, item)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.log.consumer(self.topics, group=None, reset="latest") as consumer:
                    consumer.poll(max_records=1, timeout_s=0)  # take the partitions' ends now
                    self.ready.set()
                    while not self.stop.is_set():
                        records = consumer.poll(max_records=200, timeout_s=0.25)
                        if not self._clients:
                            # nobody listens: no decoding, no read-model query per alert
                            # (a burst of alerts would pay both for nothing)
                            continue
                        for record in records:
                            try:
                                event = decode(record)
                            except PoisonRecordError:
                                continue
                            self.publish(self.describe(event), event)
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


def _offer(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)


def sse_message(item: dict[str, Any]) -> dict[str, str]:
    return {"event": item["event"], "data": json.dumps(item["data"], ensure_ascii=False)}
