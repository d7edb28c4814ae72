"""The live alert stream resumes where its client left off (services/api/feed.py): alerts
raised between a page's render and its stream, or while a browser was reconnecting, come
first, in log order; when that cannot be done exactly the client is told to resync."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import readside_events as ev
from kafka_broker import kafka_test_url
from readside_server import WRITE_TOKEN, live_server, make_settings, open_test_log, wait_found
from waiting import wait_until

from services.api.feed import AlertFeed, format_positions, parse_positions
from services.api.reader import Reader
from services.eventlog import TopicPartition, open_log
from services.runtime.bootstrap import tocsin_topics, topic
from services.runtime.settings import Settings

W = {"Authorization": f"Bearer {WRITE_TOKEN}"}

Event = tuple[str, str | None, dict[str, object]]  # event, id, data


def events(stream: httpx.Response) -> Iterator[Event]:
    """The SSE messages of a stream, as they come."""
    kind, ident = None, None
    for line in stream.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("id:"):
            ident = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind:
            yield kind, ident, json.loads(line.split(":", 1)[1])
            kind, ident = None, None


def take(messages: Iterator[Event], count: int) -> list[Event]:
    out: list[Event] = []
    for item in messages:
        out.append(item)
        if len(out) == count:
            break
    return out


def raise_alert(log: object, n: int, prefix: str = "") -> str:
    """Article ``n`` published, enriched and alerted on, under the topic ``prefix``."""
    a = ev.article(n)
    alert = ev.raised(a)
    ev.append(log, [ev.published(a), ev.enriched(a), alert], prefix=prefix)  # type: ignore[arg-type]
    return alert.data.alert_id


def wait_projected(http: httpx.Client, alert_id: str) -> None:
    wait_found(http, f"/alerts/{alert_id}", "the projection folds the alert")


def test_alerts_raised_after_the_page_was_read_come_first(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        shown = raise_alert(srv.log, 1)
        wait_projected(http, shown)
        page = http.get("/ui").text
        after = unescape(re.search(r'data-after="([^"]*)"', page).group(1))  # type: ignore[union-attr]
        assert parse_positions(after), after  # the positions the page's list was read at
        assert shown in page
        detail = http.get(f"/ui/alerts/{shown}").text  # its page resumes the same way
        found = re.search(r'<article class="alert"[^>]*data-after="([^"]*)"', detail)
        assert found and parse_positions(unescape(found.group(1))) == parse_positions(after)
        # raised after the render, before the browser opens the stream
        missed = [raise_alert(srv.log, 2), raise_alert(srv.log, 3)]
        time.sleep(0.5)  # the feed has read them: without the positions they would be lost
        with http.stream("GET", "/stream/alerts", params={"after": after}) as stream:
            msgs = events(stream)
            got = take(msgs, 3)
            assert [k for k, _, _ in got] == ["ready", "alert", "alert"]
            assert [d["alert_id"] for _, _, d in got[1:]] == missed
            assert all(i and i.count(".") == 1 for _, i, _ in got[1:])
            live = raise_alert(srv.log, 4)
            ((kind, _, data),) = take(msgs, 1)
            assert (kind, data["alert_id"]) == ("alert", live)


def test_a_page_of_an_empty_read_model_resumes_from_the_start(tmp_path: Path) -> None:
    """The first run: no alert folded yet, so the page carries offset 0 for every partition
    of the feed, and the first alert, raised before the stream connects, is not lost."""
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        page = http.get("/ui").text
        after = unescape(re.search(r'data-after="([^"]*)"', page).group(1))  # type: ignore[union-attr]
        positions = parse_positions(after)
        assert positions and set(positions.values()) == {0}, after
        assert {tp.topic for tp in positions} == {
            topic(srv.settings, "alerts.raised"),
            topic(srv.settings, "alerts.lifecycle"),
        }
        first = raise_alert(srv.log, 1)
        time.sleep(0.5)
        with http.stream("GET", "/stream/alerts", params={"after": after}) as stream:
            msgs = events(stream)
            got = take(msgs, 2)
        assert [(k, d.get("alert_id")) for k, _, d in got] == [("ready", None), ("alert", first)]


def test_a_reconnect_with_the_last_event_id_gets_what_it_missed(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        with http.stream("GET", "/stream/alerts") as stream:
            msgs = events(stream)
            assert take(msgs, 1)[0][0] == "ready"
            first, second = raise_alert(srv.log, 1), raise_alert(srv.log, 2)
            got = take(msgs, 2)
            assert [d["alert_id"] for _, _, d in got] == [first, second]
        # the connection dropped after the first; one more alert while it was down
        third = raise_alert(srv.log, 3)
        time.sleep(0.5)
        resumed = {"Last-Event-ID": got[0][1] or ""}
        with http.stream("GET", "/stream/alerts", headers=resumed) as stream:
            msgs = events(stream)
            again = take(msgs, 3)
        assert [k for k, _, _ in again] == ["ready", "alert", "alert"]
        assert [d["alert_id"] for _, _, d in again[1:]] == [second, third]
        assert again[1][1] == got[1][1]  # the same event, the same id

        # an id of another API process (it restarted): resync
        with http.stream("GET", "/stream/alerts", headers={"Last-Event-ID": "0badc0de.2"}) as s:
            msgs = events(s)
            assert [k for k, _, _ in take(msgs, 2)] == ["ready", "resync"]


def test_a_page_older_than_the_feed_is_told_to_resync(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    log = open_test_log(settings)
    raise_alert(log, 1)  # on the log before the API (and its feed) started
    raised = topic(settings, "alerts.raised")
    never_read = format_positions({tp: 0 for tp in log.end_offsets([raised])})
    log.close()
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        with http.stream("GET", "/stream/alerts", params={"after": never_read}) as stream:
            msgs = events(stream)
            assert [k for k, _, _ in take(msgs, 2)] == ["ready", "resync"]
        # malformed positions claim nothing: live only, no resync
        with http.stream("GET", "/stream/alerts", params={"after": "x:y=z"}) as stream:
            msgs = events(stream)
            assert take(msgs, 1)[0][0] == "ready"
            live = raise_alert(srv.log, 2)
            ((kind, _, data),) = take(msgs, 1)
            assert (kind, data["alert_id"]) == ("alert", live)


def test_records_gone_from_the_backlog_mean_resync(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    log = open_test_log(settings)
    topics = [topic(settings, "alerts.raised"), topic(settings, "alerts.lifecycle")]
    feed = AlertFeed(log, topics, Reader(tmp_path / "read.db"), backlog=2)
    feed.start()
    try:
        assert feed.ready.wait(10)
        for n in range(3):
            raise_alert(log, n)
        wait_until(lambda: feed.read_count >= 3, "the feed reads all three", timeout_s=10)

        async def resume(last: str) -> list[int] | None:
            _, backlog = feed.resume(last_event_id=last)
            return None if backlog is None else [n for n, _ in backlog]

        boot = feed.boot
        assert asyncio.run(resume(f"{boot}.1")) == [2, 3]  # 2 and 3 kept
        assert asyncio.run(resume(f"{boot}.3")) == []
        assert asyncio.run(resume(f"{boot}.0")) is None  # the 1st is gone: a hole
        assert asyncio.run(resume(f"{boot}.9")) is None  # never given
        assert asyncio.run(resume("not-an-id")) is None

        async def after(positions: dict[TopicPartition, int]) -> list[int] | None:
            _, backlog = feed.resume(after=positions)
            return None if backlog is None else [n for n, _ in backlog]

        # positions past the evicted record: exact; at the start: a hole
        complete = feed.complete_from()
        assert asyncio.run(after(complete)) == [2, 3]
        assert asyncio.run(after({tp: 0 for tp in complete})) is None
    finally:
        feed.close()
        log.close()


def test_positions_round_trip() -> None:
    positions = {TopicPartition("p.alerts.raised", 3): 17, TopicPartition("alerts.lifecycle", 0): 0}
    assert parse_positions(format_positions(positions)) == positions
    for bad in ("", "alerts.raised:1", "alerts.raised=3", ":1=2", "a:b=1", "a:1=-1"):
        assert parse_positions(bad) is None, bad


@pytest.mark.kafka
def test_the_feed_resumes_on_the_kafka_backend(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The same backlog on a Kafka log: its start positions come from the broker."""
    prefix = f"feed{uuid.uuid4().hex[:8]}."
    settings = Settings(log=kafka_test_url(kafka_bootstrap), topic_prefix=prefix)
    log = open_log(settings.log)
    log.create_topics(tocsin_topics(settings))
    raise_alert(log, 1, prefix)  # before the feed: not in its backlog
    topics = [topic(settings, "alerts.raised"), topic(settings, "alerts.lifecycle")]
    feed = AlertFeed(log, topics, Reader(tmp_path / "read.db"))
    feed.start()
    try:
        assert feed.ready.wait(30)
        start = feed.complete_from()
        assert {tp.topic for tp in start} == set(topics)
        raise_alert(log, 2, prefix)
        raise_alert(log, 3, prefix)
        wait_until(lambda: feed.read_count >= 2, "the feed reads the alerts", timeout_s=30)

        async def resume(**where: Any) -> list[str] | None:
            _, backlog = feed.resume(**where)
            if backlog is None:
                return None
            return [made[0]["data"]["alert_id"] for n, r in backlog if (made := feed.item(n, r))]

        wanted = [ev.raised(ev.article(n)).data.alert_id for n in (2, 3)]
        assert asyncio.run(resume(after=start)) == wanted
        assert asyncio.run(resume(last_event_id=f"{feed.boot}.1")) == wanted[1:]
        assert asyncio.run(resume(after={tp: 0 for tp in start})) is None  # the 1st is not kept
    finally:
        feed.close()
        log.delete_topics([t for t in log.list_topics() if t.startswith(prefix)])  # type: ignore[attr-defined]
        log.close()
