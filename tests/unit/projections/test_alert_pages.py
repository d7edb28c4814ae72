"""Alert pages built as JSON inside SQLite: times formatted as in Python, every alert on
exactly one page, newest first, and hostile text surviving the round trip."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import readside_events as ev

from services.projections import queries
from services.projections.store import ReadModel


def test_iso_sql_formats_times_as_iso_does() -> None:
    conn = sqlite3.connect(":memory:")
    rng = random.Random(11)
    values = [
        0,
        1,
        999,
        1_000,
        -1,
        -1_001,
        1_700_000_000_000,
        1_700_000_000_123,
        253_402_300_799_000,
    ]
    values += [rng.randrange(-2_000_000_000_000, 4_000_000_000_000) for _ in range(2_000)]
    for value in values:
        (formatted,) = conn.execute(f"SELECT {queries.iso_sql('?1')}", (value,)).fetchone()
        assert formatted == queries.iso(value), value


def test_pages_cover_every_alert_once_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "read.db"
    with ReadModel(path) as store:
        for event in ev.scenario():
            store.apply(event)
        store.commit()
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    total = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    assert total >= 3
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        page = queries.list_alerts(conn, limit=2, cursor=cursor)
        json_page = queries.list_alerts_json(conn, limit=2, cursor=cursor)
        assert [json.loads(item) for item in json_page.items] == page.items
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == total
    assert len({a["alert_id"] for a in seen}) == total, "no alert on two pages"
    raised = [a["raised_at"] for a in seen]
    assert raised == sorted(raised, reverse=True)


def test_hostile_titles_survive_the_json_page(tmp_path: Path) -> None:
    path = tmp_path / "read.db"
    with ReadModel(path) as store:
        for event in ev.scenario():
            store.apply(event)
        store.commit()
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    hostile = 'line one\nline "two" \\ <img src=x onerror=alert(1)>\u2028end'
    conn.execute("UPDATE alerts SET title = ?", (hostile,))
    conn.commit()
    page = queries.list_alerts_json(conn, limit=50)
    assert all("\n" not in item for item in page.items), "one alert per line of the page"
    assert {json.loads(item)["title"] for item in page.items} == {hostile}
