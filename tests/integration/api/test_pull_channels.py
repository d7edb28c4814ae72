"""Atom feeds and SSE streams of subscriptions, served by the API over a real sqlite log and
read model (the stream test runs a real uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import readside_events as ev
from fastapi.testclient import TestClient
from readside_server import (
    READ_TOKEN,
    WRITE_TOKEN,
    live_server,
    make_config,
    make_settings,
    open_test_log,
    project,
    wait_found,
)
from waiting import wait_until

from schemas import CloudEvent, Evidence, new_event
from services.api.app import create_app
from services.runtime.settings import Settings

W = {"Authorization": f"Bearer {WRITE_TOKEN}"}
R = {"Authorization": f"Bearer {READ_TOKEN}"}
A = "{http://www.w3.org/2005/Atom}"
HOSTILE = '</title><script>alert("x")</script> & <img src=x onerror=alert(1)> \x01\x0b end'


def entity_alert(n: int, country: str, *, severity: str = "high", title: str | None = None):  # type: ignore[no-untyped-def]
    """An alert whose evidence names ``country:<country>`` (as entity conditions do)."""
    art = ev.article(n)
    base = ev.raised(art, severity=severity, title=title, rule=f"rule-{n}")
    payload = base.data.model_copy(
        update={
            "evidence": (
                Evidence(
                    article_id=art.article_id,
                    condition=f"entity country:{country}",
                    surface=country,
                    snippet=art.text[:40],
                    start=0,
                    end=2,
                ),
            )
        }
    )
    raised: CloudEvent = new_event(
        payload, id=base.id, source="/tocsin/rules", subject=base.subject, time=base.time
    )
    return [ev.published(art), ev.enriched(art), raised]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, object]]:
    settings = Settings(
        **{
            **make_settings(tmp_path).model_dump(),
            "subscriptions": [
                {"id": "file-az", "match": {"countries": ["AZ"]}, "channel": {"kind": "sse"}},
            ],
        }
    )
    config = make_config(tmp_path)
    log = open_test_log(settings)
    ev.append(log, ev.scenario())
    ev.append(log, entity_alert(40, "AZ", title=HOSTILE))
    ev.append(log, entity_alert(41, "GE"))
    ev.append(log, entity_alert(42, "AZ", severity="low"))
    project(settings, log, config.read_model)
    app = create_app(config, settings, log, follow_alerts=False)
    with TestClient(app) as c:
        r = c.post(
            "/subscriptions",
            json={
                "id": "desk-atom",
                "match": {"min_severity": "high"},
                "channel": {"kind": "atom"},
            },
            headers=W,
        )
        assert r.status_code == 201, r.text
        project(settings, log, config.read_model)
        yield c, settings, log
    log.close()  # type: ignore[attr-defined]


def _feed(c: TestClient, ident: str) -> ET.Element:
    r = c.get(f"/subscriptions/{ident}/feed.atom", headers=R)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(r.content)


def test_atom_feed_has_the_matching_alerts_newest_first(client) -> None:  # type: ignore[no-untyped-def]
    c, _, _ = client
    root = _feed(c, "desk-atom")
    assert root.tag == f"{A}feed"
    assert root.findtext(f"{A}id") == "urn:tocsin:subscription:desk-atom"
    assert root.findtext(f"{A}updated") and root.find(f"{A}author/{A}name") is not None
    entries = root.findall(f"{A}entry")
    severities = [
        e.find(f"{A}category[@scheme='urn:tocsin:severity']").get("term")  # type: ignore[union-attr]
        for e in entries
    ]
    # min_severity high: the scenario's high and critical alerts and the two entity alerts
    assert sorted(severities) == ["critical", "high", "high", "high"]
    published = [e.findtext(f"{A}published") for e in entries]
    assert published == sorted(published, reverse=True)  # type: ignore[type-var]
    c.cookies.set("tocsin_token", READ_TOKEN)
    for e in entries:
        alert_id = e.findtext(f"{A}id").removeprefix("urn:tocsin:alert:")  # type: ignore[union-attr]
        link = e.find(f"{A}link[@rel='alternate']")
        assert link is not None and link.get("href") == f"http://testserver/ui/alerts/{alert_id}"
        # the link leads to the dashboard's page of that alert
        assert c.get(f"/ui/alerts/{alert_id}").status_code == 200


def test_hostile_titles_are_escaped_text_and_the_feed_still_parses(client) -> None:  # type: ignore[no-untyped-def]
    c, _, _ = client
    raw = c.get("/subscriptions/file-az/feed.atom", headers=R).content
    assert b"<script>" not in raw and b"<img" not in raw and b"\x01" not in raw
    root = ET.fromstring(raw)
    titles = [e.findtext(f"{A}title") for e in root.findall(f"{A}entry")]
    # countries [AZ] from the config file: the AZ alerts of any severity, not the GE one
    assert len(titles) == 2
    assert titles[1] == HOSTILE.replace("\x01", "").replace("\x0b", "")


def test_feed_auth_and_unknown_subscriptions(client) -> None:  # type: ignore[no-untyped-def]
    c, _, _ = client
    assert c.get("/subscriptions/desk-atom/feed.atom").status_code == 401
    assert c.get("/subscriptions/nope/feed.atom", headers=R).status_code == 404
    assert c.get("/subscriptions/nope/stream", headers=R).status_code == 404
    assert c.delete("/subscriptions/desk-atom", headers=W).status_code == 202
    assert c.get("/subscriptions/desk-atom/feed.atom", headers=R).status_code == 200  # not yet
    _, settings, log = client
    project(settings, log, c.app.state.config.read_model)  # type: ignore[attr-defined]
    assert c.get("/subscriptions/desk-atom/feed.atom", headers=R).status_code == 404


def test_public_reading_opens_feeds_too(tmp_path: Path) -> None:
    settings = Settings(
        **{
            **make_settings(tmp_path).model_dump(),
            "subscriptions": [{"id": "open", "channel": {"kind": "atom"}}],
        }
    )
    config = make_config(tmp_path, public_read=True)
    log = open_test_log(settings)
    ev.append(log, ev.scenario())
    project(settings, log, config.read_model)
    with TestClient(create_app(config, settings, log, follow_alerts=False)) as c:
        root = ET.fromstring(c.get("/subscriptions/open/feed.atom").content)
        assert len(root.findall(f"{A}entry")) == 6
    log.close()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event:
            yield event, json.loads(line.split(":", 1)[1])
            event = None


def _sse_subscription(http: httpx.Client, ident: str, match: dict[str, object]) -> None:
    """An SSE subscription created through the API, once the read model knows it."""
    r = http.post("/subscriptions", json={"id": ident, "match": match, "channel": {"kind": "sse"}})
    assert r.status_code == 201
    wait_found(http, f"/subscriptions/{ident}", "the projection catches up")


def test_stream_sends_matching_alerts_only(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        _sse_subscription(
            http, "live-high", {"min_severity": "high", "rules": ["csto-armenia-azerbaijan"]}
        )
        assert httpx.get(srv.url + "/subscriptions/live-high/stream", timeout=5).status_code == 401
        low, high, later = ev.article(50), ev.article(51), ev.article(52)
        no = ev.raised(low, severity="low")
        yes = ev.raised(high, severity="high")
        again = ev.raised(later, severity="critical", at=later.fetched_at + timedelta(minutes=2))
        other_rule = ev.raised(later, severity="critical", rule="another-rule")
        seen: list[str] = []
        with http.stream("GET", "/subscriptions/live-high/stream") as stream:
            for event, data in _events(stream.iter_lines()):
                if event == "ready":
                    assert data == {"subscription_id": "live-high"}
                    ev.append(srv.log, [no, other_rule, yes])
                    continue
                assert event == "alert"
                seen.append(str(data["alert_id"]))
                if data["alert_id"] == yes.data.alert_id:
                    # everything appended with it has been read by now: send one more
                    ev.append(srv.log, [again])
                elif data["alert_id"] == again.data.alert_id:
                    break
        assert seen == [yes.data.alert_id, again.data.alert_id]


def test_live_streams_past_the_limit_get_a_429_until_one_closes(tmp_path: Path) -> None:
    """Each open stream holds a connection and a queue: with public reading on, anyone could
    open thousands. Past ``api.max_streams`` a client is told to come back later."""
    with (
        live_server(tmp_path, max_streams=2) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as other,
    ):
        _sse_subscription(http, "live-any", {})
        with http.stream("GET", "/stream/alerts") as first:
            # each kept: a line iterator let go closes its connection
            first_events = _events(first.iter_lines())
            assert next(first_events)[0] == "ready"
            with other.stream("GET", "/subscriptions/live-any/stream") as second:
                second_events = _events(second.iter_lines())
                assert next(second_events)[0] == "ready"
                for path in ("/stream/alerts", "/subscriptions/live-any/stream"):
                    refused = httpx.get(srv.url + path, headers=W, timeout=5)
                    assert refused.status_code == 429, refused.text
                    assert refused.headers["retry-after"] == "30"
                    assert refused.json()["detail"]["error"] == "busy"
                    assert "2 live streams are open" in refused.json()["detail"]["message"]

        # both closed: the server notices when it next writes to them (a keep-alive at
        # the latest), and a new client gets in
        def connects() -> bool:
            with httpx.stream("GET", srv.url + "/stream/alerts", headers=W, timeout=5) as again:
                return again.status_code == 200

        wait_until(connects, "a closed stream's place is freed")


def test_the_cached_first_page_follows_the_read_model(client) -> None:  # type: ignore[no-untyped-def]
    c, settings, log = client
    first = c.get("/alerts", headers=R).json()["items"]
    assert c.get("/alerts", headers=R).json()["items"] == first  # served again, unchanged
    newest = ev.article(60, at=ev.T0 + timedelta(days=1))
    raised = ev.raised(newest)
    ev.append(log, [ev.published(newest), ev.enriched(newest), raised])
    project(settings, log, c.app.state.config.read_model)  # type: ignore[attr-defined]
    items = c.get("/alerts", headers=R).json()["items"]
    assert items[0]["alert_id"] == raised.data.alert_id and items[0]["status"] == "open"
    assert c.post(f"/alerts/{raised.data.alert_id}/ack", json={}, headers=W).status_code == 202
    project(settings, log, c.app.state.config.read_model)  # type: ignore[attr-defined]
    assert c.get("/alerts", headers=R).json()["items"][0]["status"] == "acknowledged"


def test_a_stream_reconnect_gets_the_matching_alerts_it_missed(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
    ):
        _sse_subscription(http, "desk", {"min_severity": "high"})
        first, missed, low = ev.article(70), ev.article(71), ev.article(72)
        with http.stream("GET", "/subscriptions/desk/stream") as stream:
            got = []
            for line in stream.iter_lines():
                if line.startswith("id:"):
                    got.append(line.split(":", 1)[1].strip())
                elif line.startswith("event: ready") or line == "event:ready":
                    ev.append(srv.log, [ev.raised(first, severity="high")])
                if got:
                    break
        last_id = got[0]
        # while disconnected: one that matches, one that does not
        ev.append(srv.log, [ev.raised(low, severity="low"), ev.raised(missed, severity="critical")])
        time.sleep(0.5)
        resumed = {"Last-Event-ID": last_id}
        with http.stream("GET", "/subscriptions/desk/stream", headers=resumed) as stream:
            events = _events(stream.iter_lines())
            assert next(events)[0] == "ready"
            event, data = next(events)
        assert (event, data["alert_id"]) == ("alert", ev.raised(missed).data.alert_id)
        # an id this API never gave (it restarted): resync, pointing at the Atom feed
        foreign = {"Last-Event-ID": "0badc0de.1"}
        with http.stream("GET", "/subscriptions/desk/stream", headers=foreign) as stream:
            events = _events(stream.iter_lines())
            assert next(events)[0] == "ready"
            assert next(events) == ("resync", {"feed": "/subscriptions/desk/feed.atom"})


def test_max_age_leaves_alerts_about_old_articles_out_of_the_feed(tmp_path: Path) -> None:
    """A subscription made through the API with ``max_age: 1d``: of two alerts on the read
    model, the one raised five days after its article (a new source's backlog) is left out."""
    settings = make_settings(tmp_path)
    config = make_config(tmp_path)
    log = open_test_log(settings)
    fresh, old = ev.article(50), ev.article(51)
    ev.append(log, [ev.published(fresh), ev.enriched(fresh), ev.raised(fresh, rule="fresh")])
    late = old.published_at + timedelta(days=5)
    ev.append(log, [ev.published(old), ev.enriched(old), ev.raised(old, rule="old", at=late)])
    project(settings, log, config.read_model)
    app = create_app(config, settings, log, follow_alerts=False)
    with TestClient(app) as c:
        for ident, match in (("recent", {"max_age": "1d"}), ("all", {})):
            body = {"id": ident, "match": match, "channel": {"kind": "atom"}}
            assert c.post("/subscriptions", json=body, headers=W).status_code == 201
        project(settings, log, config.read_model)
        rules = {
            ident: {
                e.find(f"{A}category[@scheme='urn:tocsin:rule']").get("term")  # type: ignore[union-attr]
                for e in _feed(c, ident).findall(f"{A}entry")
            }
            for ident in ("recent", "all")
        }
        bad = {"id": "x", "match": {"max_age": "soon"}, "channel": {"kind": "atom"}}
        refused = c.post("/subscriptions", json=bad, headers=W)
    log.close()  # type: ignore[attr-defined]
    assert rules == {"recent": {"fresh"}, "all": {"fresh", "old"}}
    assert refused.status_code == 422 and "max_age" in refused.text
