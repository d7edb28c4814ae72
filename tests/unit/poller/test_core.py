"""The pure core: deterministic ids, canonical URLs, times, updates, and the rebuild."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.ids import article_id
from services.eventlog import open_log
from services.poller.config import load_sources
from services.poller.core import published_message, select_new
from services.poller.parsers import RawItem
from services.poller.state import rebuild_known
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
(SOURCE,) = load_sources(
    [{"id": "s1", "url": "https://a.org/feed", "labels": {"region": "caucasus"}}]
)


def item(**kw: object) -> RawItem:
    base: dict[str, object] = {
        "url": "https://a.org/x?utm_source=rss&id=7#top",
        "guid": "g1",
        "title": "T",
        "text": "body",
    }
    base.update(kw)
    return RawItem(**base)  # type: ignore[arg-type]


def test_article_fields_ids_and_canonical_url() -> None:
    sel = select_new(
        [item(published=NOW - timedelta(hours=1), language="en-GB")], SOURCE, NOW, "ru", {}
    )
    (a,) = sel.articles
    assert a.url == "https://a.org/x?id=7"
    assert a.article_id == article_id(url="https://a.org/x?id=7")
    assert a.published_at == NOW - timedelta(hours=1) and not a.published_at_inferred
    assert (
        a.language_hint == "en"
        and a.source_labels == {"region": "caucasus"}
        and a.source_id == "s1"
    )


def test_missing_or_future_dates_become_the_fetch_time_flagged() -> None:
    sel = select_new(
        [
            item(url="https://a.org/1"),
            item(url="https://a.org/2", published=NOW + timedelta(days=2)),
        ],
        SOURCE,
        NOW,
        None,
        {},
    )
    assert all(a.published_at == NOW and a.published_at_inferred for a in sel.articles)


def test_guid_only_items_are_scoped_to_the_source_and_itemless_ones_skipped() -> None:
    sel = select_new([item(url=None, guid="abc"), item(url=None, guid=None)], SOURCE, NOW, None, {})
    assert sel.articles[0].article_id == article_id(guid="abc", source_id="s1")
    assert sel.unusable == 1 and sel.seen == 2


def test_known_articles_are_dropped_and_changed_ones_are_updates() -> None:
    first = select_new([item()], SOURCE, NOW, None, {}).articles[0]
    known = {first.article_id: first.content_hash}
    assert select_new([item(), item()], SOURCE, NOW, None, known).articles == []
    (upd,) = select_new([item(text="corrected body")], SOURCE, NOW, None, known).articles
    assert (
        upd.is_update
        and upd.article_id == first.article_id
        and upd.content_hash != first.content_hash
    )


def test_rebuild_reads_ids_and_hashes_back_from_the_log() -> None:
    log = open_log("memory://core-rebuild")
    log.create_topics(tocsin_topics(Settings()))
    arts = select_new(
        [item(url=f"https://a.org/{i}") for i in range(50)], SOURCE, NOW, None, {}
    ).articles
    log.append([published_message(a, "articles.published") for a in arts])
    known, seconds, positions = rebuild_known(log, "articles.published")
    assert known.hashes == {a.article_id: a.content_hash for a in arts}
    assert sum(positions.values()) == 50 and seconds >= 0
    log.close()
