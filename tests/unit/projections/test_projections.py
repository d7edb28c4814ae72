"""Projections: idempotent, order-independent folds; the live loop equals a rebuild."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import readside_events as ev

from schemas import CloudEvent
from services.eventlog import EventLog, Message, Record, RetryableError, open_log
from services.projections import queries
from services.projections.loop import ProjectionLoop, TrackingConsumer, projection_loop
from services.projections.rebuild import rebuild
from services.projections.schema import VIEW_TABLES
from services.projections.store import ReadModel
from services.runtime.bootstrap import tocsin_topics, topic
from services.runtime.settings import ApiSettings, RuntimeSettings, Settings


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every view table's rows, without the storage-order row ids."""
    conn = sqlite3.connect(path)
    out = {}
    for table in VIEW_TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "id"]
        names = ", ".join('"' + c + '"' for c in cols)
        out[table] = sorted(conn.execute(f"SELECT {names} FROM {table}").fetchall(), key=repr)
    conn.close()
    return out


def fold_all(path: Path, events: list) -> None:
    with ReadModel(path) as store:
        for e in events:
            store.apply(e)
        store.commit()


def test_replayed_events_change_nothing(tmp_path: Path) -> None:
    events = ev.scenario()
    fold_all(tmp_path / "a.db", events)
    once = snapshot(tmp_path / "a.db")
    fold_all(tmp_path / "a.db", events)  # every event a second time
    assert snapshot(tmp_path / "a.db") == once
    assert len(once["articles"]) == 12 and len(once["alerts"]) == 6


def test_order_of_reading_does_not_matter(tmp_path: Path) -> None:
    events = ev.scenario()
    fold_all(tmp_path / "in-order.db", events)
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    fold_all(tmp_path / "shuffled.db", shuffled)
    assert snapshot(tmp_path / "shuffled.db") == snapshot(tmp_path / "in-order.db")


def test_views(tmp_path: Path) -> None:
    fold_all(tmp_path / "r.db", ev.scenario())
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.row_factory = sqlite3.Row
    alerts = {a["title"]: a for a in queries.list_alerts(conn, limit=100).items}
    assert alerts["Border talks 0"]["status"] == "acknowledged"
    # resolved, then a new revision reopened it
    reopened = alerts["Border talks 1"]
    assert (reopened["status"], reopened["revision"], reopened["severity"]) == ("open", 1, "medium")
    assert alerts["Border talks 2"]["status"] == "resolved"
    assert alerts["Border talks 0"]["countries"] == ["AM"]
    assert alerts["Border talks 1"]["countries"] == ["AM", "AZ"]
    detail = queries.get_alert(conn, reopened["alert_id"])
    assert detail is not None and detail["reopened"] == 1
    assert [h["kind"] for h in detail["history"]] == ["raised", "resolved", "raised"]
    # filters
    assert {a["status"] for a in queries.list_alerts(conn, statuses=["resolved"]).items} == {
        "resolved"
    }
    assert len(queries.list_alerts(conn, country="az").items) == 4
    assert all(
        a["severity"] in ("high", "critical")
        for a in queries.list_alerts(conn, min_severity="high").items
    )
    # pagination walks every alert once
    seen, cursor = [], None
    while True:
        page = queries.list_alerts(conn, limit=4, cursor=cursor)
        seen += [a["alert_id"] for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    # articles: FTS, filters
    assert len(queries.search_articles(conn, q="csto observers", limit=50).items) == 12
    assert [a["title"] for a in queries.search_articles(conn, q="item 7").items] == [
        "Border talks 7"
    ]
    assert (
        queries.search_articles(conn, q='"unbalanced AND (').items == []
    )  # syntax is searched, not obeyed
    assert len(queries.search_articles(conn, sources=["src-a"], limit=50).items) == 6
    assert len(queries.search_articles(conn, entity="country:az", limit=50).items) == 8
    assert len(queries.search_articles(conn, tag="border", limit=50).items) == 12
    # entities over time
    t0 = queries.to_ms(ev.T0 - timedelta(days=1))
    t1 = queries.to_ms(ev.T0 + timedelta(days=1))
    assert t0 is not None and t1 is not None
    top = queries.top_entities(conn, since_ms=t0, until_ms=t1)
    assert [(e["entity_id"], e["articles"]) for e in top] == [("country:am", 12), ("country:az", 8)]
    line = queries.entity_timeline(conn, "country:am", since_ms=t0, until_ms=t1, bucket="hour")
    assert line is not None and sum(p["articles"] for p in line["points"]) == 12
    # sources: failing first, error rate, last error
    health = queries.source_health(conn, now_ms=t1)
    assert [s["source_id"] for s in health] == ["src-b", "src-a"]
    assert health[0]["error_rate"] == 0.5 and "503" in health[0]["last_error"]
    # push: the last change of each source's WebSub subscription
    b, a = (s["push"] for s in health)
    assert (b["state"], b["problem"], b["until"]) == ("failed", "HTTP 403 from the hub", None)
    assert (a["state"], a["hub"]) == ("active", "https://hub.example.org/")
    assert a["until"] == queries.iso(queries.to_ms(ev.T0 + timedelta(days=10, seconds=1)))
    # rules: hits and the rule that never fired
    rules = {r["rule_id"]: r for r in queries.rule_stats(conn)}
    assert rules["csto-armenia-azerbaijan"]["hits"] == 6 and rules["quiet-rule"]["hits"] == 0
    assert [d["ok"] for d in queries.list_deliveries(conn)] == [True, False] or [
        d["ok"] for d in queries.list_deliveries(conn)
    ] == [False, True]
    assert queries.list_deadletters(conn)[0]["reason"] == "not a valid Tocsin event"
    assert queries.list_subscriptions(conn)[0]["subscription_id"] == "desk"


def run_idle(loop: ProjectionLoop) -> None:
    try:
        loop.run_until_idle()
    finally:
        loop.close()


def _settings(tmp_path: Path, batch: int) -> Settings:
    return Settings(
        log=f"sqlite:///{tmp_path}/log.db",
        runtime=RuntimeSettings(batch_size=batch, poll_timeout_s=0.05),
    )


def _open(settings: Settings) -> EventLog:
    log = open_log(settings.log)
    log.create_topics(tocsin_topics(settings))
    return log


def test_live_projection_equals_rebuild(tmp_path: Path) -> None:
    settings = _settings(tmp_path, batch=5)
    events = ev.scenario()
    with _open(settings) as log:
        # a record that is not an event: dead-lettered by the projection, shown with its reason
        log.append(
            [Message(topic=topic(settings, "articles.published"), key=b"k", value=b"{not json")]
        )
        with ReadModel(tmp_path / "live.db") as store:
            for chunk in range(0, len(events), 9):  # the log grows while the projection runs
                ev.append(log, events[chunk : chunk + 9])
                run_idle(projection_loop(settings, log, store))
            # picks up the dead letter the previous runs appended
            run_idle(projection_loop(settings, log, store))
        assert sum(log.lag("projections", [topic(settings, "alerts.raised")]).values()) == 0
        progress: list[tuple[int, int]] = []
        result = rebuild(
            log,
            [
                topic(settings, t)
                for t in (
                    "articles.published",
                    "articles.enriched",
                    "alerts.raised",
                    "alerts.delivered",
                    "alerts.lifecycle",
                    "subscriptions",
                    "sources.polled",
                    "rulesets",
                    "deadletter",
                )
            ],
            tmp_path / "rebuilt.db",
            progress=lambda d, t: progress.append((d, t)),
        )
    live, rebuilt = snapshot(tmp_path / "live.db"), snapshot(tmp_path / "rebuilt.db")
    assert live == rebuilt
    assert progress[-1][0] == progress[-1][1] == result.records
    assert result.undecodable == 1
    assert any("not a valid Tocsin event" in row[6] for row in live["deadletters"])


@pytest.mark.parametrize("linger_s", [0.0, 5.0])
def test_events_trickling_in_are_gathered_into_one_transaction(
    tmp_path: Path, linger_s: float
) -> None:
    """With a linger, what arrives while the first events wait joins their batch (one
    commit); a full batch does not wait for the rest of the linger."""
    settings = Settings(
        log=f"sqlite:///{tmp_path}/log.db",
        runtime=RuntimeSettings(batch_size=7, poll_timeout_s=0.05),
        api=ApiSettings(projections_linger_s=linger_s),
    )
    events = [e for e in ev.scenario() if e.type.startswith("tocsin.article.")][:7]
    with _open(settings) as log, ReadModel(tmp_path / "read.db") as store:
        ev.append(log, events[:2])
        loop = projection_loop(settings, log, store)
        polled = threading.Event()
        consumer = loop.consumer
        assert isinstance(consumer, TrackingConsumer)
        inner_poll = consumer.inner.poll

        def poll(max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
            records = inner_poll(max_records=max_records, timeout_s=timeout_s)
            polled.set()  # the first events are read: the rest arrive during the linger
            return records

        consumer.inner.poll = poll  # type: ignore[method-assign]
        later = threading.Thread(target=lambda: polled.wait(10) and ev.append(log, events[2:]))
        later.start()
        try:
            started = time.monotonic()
            batch = loop.run_once()
            waited = time.monotonic() - started
        finally:
            later.join()
            loop.close()
        rows = sqlite3.connect(tmp_path / "read.db").execute("SELECT count(*) FROM articles")
        if linger_s:
            assert batch.consumed == 7  # the five that came later joined the first two
            assert waited < linger_s  # full: no waiting out the linger
            assert rows.fetchone()[0] == 4  # articles 0-3 (published, enriched)
        else:
            assert batch.consumed == 2
            assert rows.fetchone()[0] == 1


def test_a_failed_poll_while_gathering_loses_nothing(tmp_path: Path) -> None:
    """The records already read are folded: their positions have moved on."""
    settings = Settings(
        log=f"sqlite:///{tmp_path}/log.db",
        runtime=RuntimeSettings(batch_size=50, poll_timeout_s=0.05, retry_initial_s=0.01),
        api=ApiSettings(projections_linger_s=5.0),
    )
    events = [e for e in ev.scenario() if e.type.startswith("tocsin.article.")][:2]
    with _open(settings) as log, ReadModel(tmp_path / "read.db") as store:
        ev.append(log, events)
        loop = projection_loop(settings, log, store)
        consumer = loop.consumer
        assert isinstance(consumer, TrackingConsumer)
        inner_poll, calls = consumer.inner.poll, []

        def poll(max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
            calls.append(timeout_s)
            if len(calls) == 2:
                raise RetryableError("the log went away")
            return inner_poll(max_records=max_records, timeout_s=timeout_s)

        consumer.inner.poll = poll  # type: ignore[method-assign]
        try:
            batch = loop.run_once()
        finally:
            loop.close()
    assert len(calls) == 2
    assert batch.consumed == 2
    count = sqlite3.connect(tmp_path / "read.db").execute("SELECT count(*) FROM articles")
    assert count.fetchone()[0] == 1


def test_a_new_read_model_reads_the_log_from_the_start(tmp_path: Path) -> None:
    """The group committed everything, but the read model file is gone: it is read again."""
    settings = _settings(tmp_path, batch=50)
    with _open(settings) as log:
        ev.append(log, ev.scenario())
        with ReadModel(tmp_path / "one.db") as store:
            run_idle(projection_loop(settings, log, store))
        with ReadModel(tmp_path / "two.db") as store:
            run_idle(projection_loop(settings, log, store))
    assert snapshot(tmp_path / "one.db") == snapshot(tmp_path / "two.db")
    assert len(snapshot(tmp_path / "two.db")["articles"]) == 12


def test_a_read_model_of_another_version_is_refused(tmp_path: Path) -> None:
    fold_all(tmp_path / "r.db", [])
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    from services.projections.store import ReadModelError

    with pytest.raises(ReadModelError, match="projections rebuild"):
        ReadModel(tmp_path / "r.db")


def test_error_rate_counts_the_polls_a_record_stands_for(tmp_path: Path) -> None:
    """A record of quiet polls stands for all of them (``SourcePolled.polls``): one failure
    among a hundred polls is a 1% error rate, not one in two records."""
    quiet = ev.polled("src-q", ev.T0, new=0)
    quiet = quiet.model_copy(update={"data": quiet.data.model_copy(update={"polls": 99})})
    fold_all(tmp_path / "r.db", [quiet, ev.polled("src-q", ev.T0 + timedelta(seconds=1), ok=False)])
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.row_factory = sqlite3.Row
    now = queries.to_ms(ev.T0 + timedelta(minutes=1))
    assert now is not None
    (health,) = queries.source_health(conn, now_ms=now)
    assert (health["polls_in_window"], health["errors_in_window"]) == (100, 1)
    assert health["error_rate"] == 0.01
    flow = {row["what"]: row["count"] for row in queries.throughput(conn, now_ms=now)}
    assert flow["polls"] == 100


def test_a_source_url_recorded_with_credentials_is_shown_without(tmp_path: Path) -> None:
    """Older pollers recorded a source's URL as configured: the read model (the API, the
    dashboard) shows it without user info or a key, in the error message too."""
    raw = "https://desk:pw-Q7x@feeds.example.org/rss?key=K9z&lang=en"
    failed = ev.polled("src-p", ev.T0, ok=False)
    data = failed.data.model_copy(update={"url": raw, "error_message": f"HTTP 503 from {raw}"})
    fold_all(tmp_path / "r.db", [failed.model_copy(update={"data": data})])
    conn = sqlite3.connect(tmp_path / "r.db")
    shown = "https://feeds.example.org/rss?key=[redacted]&lang=en"
    assert conn.execute("SELECT url, error_message FROM source_polls").fetchall() == [
        (shown, f"HTTP 503 from {shown}")
    ]


def test_an_older_read_model_gains_the_added_columns_in_place(tmp_path: Path) -> None:
    """``ADDED_COLUMNS``: a read model made before ``source_polls.polls`` existed opens
    without a rebuild, its rows counting one poll each."""
    path = tmp_path / "old.db"
    fold_all(path, [ev.polled("src-o", ev.T0, ok=False)])
    conn = sqlite3.connect(path)  # as the previous release left it: no polls column
    conn.execute("ALTER TABLE source_polls DROP COLUMN polls")
    conn.commit()
    conn.close()
    fold_all(path, [ev.polled("src-o", ev.T0 + timedelta(seconds=1))])
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    assert [r["polls"] for r in conn.execute("SELECT polls FROM source_polls")] == [1, 1]
    now = queries.to_ms(ev.T0 + timedelta(minutes=1))
    assert now is not None
    (health,) = queries.source_health(conn, now_ms=now)
    assert health["error_rate"] == 0.5


def test_a_lease_that_ran_out_reads_expired_and_a_source_without_a_hub_has_no_push(
    tmp_path: Path,
) -> None:
    """An active subscription not renewed before its lease ended (the poller stopped, or
    lost the source) is no longer pushed; a source whose feed names no hub has no push."""
    path = tmp_path / "r.db"
    renewal_failed = ev.pushed(
        "src-e", ev.T0 + timedelta(minutes=1), lease=timedelta(minutes=4), problem="HTTP 503"
    )
    fold_all(
        path,
        [
            ev.polled("src-e", ev.T0),
            ev.polled("src-n", ev.T0),
            renewal_failed,
            ev.pushed("src-e", ev.T0, lease=timedelta(minutes=5)),  # older: read late
        ],
    )
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row

    def push(minutes: int) -> dict[str, object]:
        now = queries.to_ms(ev.T0 + timedelta(minutes=minutes))
        assert now is not None
        return {s["source_id"]: s["push"] for s in queries.source_health(conn, now_ms=now)}

    assert push(4)["src-n"] is None
    assert push(4)["src-e"]["state"] == "active"
    assert push(4)["src-e"]["problem"] == "HTTP 503"  # a renewal failed: still pushed
    assert push(5)["src-e"]["state"] == "expired"


def test_the_last_polls_warning_is_shown_until_a_poll_says_otherwise(tmp_path: Path) -> None:
    """A poll that did not fail may still warn (the feed moved for good): the source's
    health carries the last poll's warning, and a later poll without one clears it."""

    def warned(at: datetime, message: str | None) -> CloudEvent:
        event = ev.polled("src-w", at)
        data = event.data.model_copy(update={"error_message": message})
        return event.model_copy(update={"id": f"w{at.timestamp()}", "data": data})

    moved = "https://src-w.example.org/feed moved permanently to https://new.example/feed"
    path = tmp_path / "r.db"
    fold_all(path, [warned(ev.T0, moved)])
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    now = queries.to_ms(ev.T0 + timedelta(minutes=1))
    assert now is not None
    (health,) = queries.source_health(conn, now_ms=now)
    assert (health["status"], health["warning"], health["last_error"]) == ("ok", moved, None)
    conn.close()
    fold_all(path, [warned(ev.T0 + timedelta(seconds=5), None)])
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    (health,) = queries.source_health(conn, now_ms=now)
    assert health["warning"] is None
    conn.close()
    fold_all(path, [ev.polled("src-w", ev.T0 + timedelta(seconds=9), ok=False)])
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    (health,) = queries.source_health(conn, now_ms=now)
    assert (
        health["warning"] is None and health["last_error"]
    )  # a failure is an error, not a warning
