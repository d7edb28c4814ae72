"""Article search by best match (bm25, the title weighing more) with snippets, in the read
model (services/projections/queries.py) and through the API and the dashboard."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import readside_events as ev
from fastapi.testclient import TestClient
from readside_server import READ_TOKEN, make_config, make_settings, open_test_log

from services.api.app import create_app
from services.projections import queries
from services.projections.store import ReadModel

ARTICLES = {
    # stored in this order: 1 first, 4 last
    1: ("Lachin corridor closed again", "The road through Lachin was shut at dawn."),
    2: ("Weather in the region", "Rain tomorrow. " * 30 + "Also near Lachin, fog."),
    3: ("Armenia news", "Lachin corridor talks. Lachin traffic. More on Lachin later."),
    4: ("Nothing to do with it", "Tbilisi markets rose on Tuesday."),
    5: ("Hostile text", "Near Lachin <script>alert(1)</script> was seen."),
}


@pytest.fixture
def read_model(tmp_path: Path) -> Path:
    path = tmp_path / "read.db"
    with ReadModel(path) as store:
        for n, (title, text) in ARTICLES.items():
            store.apply(ev.published(ev.article(n, title=title, text=text)))
        store.commit()
    return path


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection as the API reads with (rows by column name)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _ids(page: queries.Page) -> list[str]:
    return [a["article_id"] for a in page.items]


def test_best_match_first_and_newest_first(read_model: Path) -> None:
    with reading(read_model) as conn:
        best = queries.search_articles(conn, q="lachin", order="relevance", limit=50)
        newest = queries.search_articles(conn, q="lachin", limit=50)
    assert set(_ids(best)) == set(_ids(newest)) == {f"art_{n:04d}" for n in (1, 2, 3, 5)}
    assert _ids(newest) == ["art_0005", "art_0003", "art_0002", "art_0001"]  # stored last first
    # the word in the title beats three in the text; once deep in a long text comes last
    assert _ids(best)[0] == "art_0001" and _ids(best)[-1] == "art_0002", _ids(best)
    assert _ids(best).index("art_0003") < _ids(best).index("art_0005")


def test_relevance_pages_through_every_match_once_in_order(read_model: Path) -> None:
    with reading(read_model) as conn:
        whole = _ids(queries.search_articles(conn, q="lachin", order="relevance", limit=50))
        seen: list[str] = []
        cursor = None
        while True:
            page = queries.search_articles(
                conn, q="lachin", order="relevance", limit=1, cursor=cursor
            )
            seen += _ids(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == whole
        # a cursor of the other order is refused, not misread
        stored = queries.search_articles(conn, q="lachin", limit=1).next_cursor
        assert stored is not None
        with pytest.raises(queries.BadCursor):
            queries.search_articles(conn, q="lachin", order="relevance", cursor=stored)


def test_snippets_mark_the_words_found(read_model: Path) -> None:
    with reading(read_model) as conn:
        found = queries.search_articles(conn, q="lachin corridor", limit=50, snippets=True).items
    assert {a["article_id"] for a in found} == {"art_0001", "art_0003"}
    for article in found:
        text, marks = article["snippet"]["text"], article["snippet"]["marks"]
        assert marks and "\ue000" not in text and "\ue001" not in text
        assert {text[a:b].lower() for a, b in marks} <= {"lachin", "corridor"}
    assert queries.snippet("a \ue000b\ue001 c") == {"text": "a b c", "marks": [[2, 3]]}
    assert queries.snippet("plain") == {"text": "plain", "marks": []}
    # not asked for, or no query: no snippet
    with reading(read_model) as conn:
        assert "snippet" not in queries.search_articles(conn, limit=1).items[0]
        assert "snippet" not in queries.search_articles(conn, q="lachin", limit=1).items[0]


def test_the_api_and_the_dashboard_search_by_relevance(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    config = make_config(tmp_path)
    log = open_test_log(settings)
    with ReadModel(config.read_model) as store:
        for n, (title, text) in ARTICLES.items():
            store.apply(ev.published(ev.article(n, title=title, text=text)))
        store.commit()
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}
    try:
        app = create_app(config, settings, log, follow_alerts=False)
        with TestClient(app) as client:
            asked = {"q": "lachin", "order": "relevance", "snippets": "true"}
            r = client.get("/articles", headers=headers, params=asked)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert items[0]["article_id"] == "art_0001" and items[0]["snippet"]["marks"]
            plain = client.get("/articles", headers=headers, params={"q": "lachin"}).json()
            assert "snippet" not in plain["items"][0]
            bad = client.get("/articles", headers=headers, params={"q": "x", "order": "best"})
            assert bad.status_code == 422
            page = client.get(
                "/ui/search", headers=headers, params={"q": "lachin", "order": "relevance"}
            ).text
            assert "<mark>Lachin</mark>" in page
            assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
            assert '<option value="relevance" selected>' in page
            # A NUL ended FTS5's query ("unterminated string"): a 500 on both. It separates
            # words now, as a space does.
            for path in ("/articles", "/ui/search"):
                for q in ("lachin\x00corridor", "\x00"):
                    r = client.get(path, headers=headers, params={"q": q})
                    assert r.status_code == 200, (path, q)
            nul = client.get("/articles", headers=headers, params={"q": "lachin\x00corridor"})
            spaced = client.get("/articles", headers=headers, params={"q": "lachin corridor"})
            assert nul.json() == spaced.json() and nul.json()["items"]
    finally:
        log.close()
