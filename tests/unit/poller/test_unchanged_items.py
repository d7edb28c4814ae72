"""A changed feed is parsed without the items its last recorded poll read (``unchanged``):
every item still reads exactly as in the whole document (checked on every corpus feed),
new and changed items are published as before, and nothing is skipped that a failed poll
did not record. Real HTTP server on 127.0.0.1, real SQLite log."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feed_server import FAST, FeedServer, Route
from lxml import etree

from services.eventlog import EventLog, open_log
from services.eventlog.codec import decode
from services.poller.config import SourceConfig, load_sources
from services.poller.fetch import Document, Fetcher
from services.poller.parsers import Parsed, RawItem
from services.poller.parsers.feeds import parse_feed
from services.poller.parsing import ParsePool, parse_document
from services.poller.poller import Poller, PollReport, Topics
from services.poller.unchanged import Seen, reduce_feed
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings

TOPICS = Topics("articles.published", "sources.polled")


def items(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"https://news.example/u{i}", f"Story {i}") for i in range(start, start + n)]


def rss(
    entries: list[tuple[str, str]], *, site: str = "https://example.org/", between: str = ""
) -> bytes:
    """An RSS 2.0 feed whose items are written the same wherever they stand (as a real
    feed's are: ``feed_server.rss`` dates an item by its position)."""
    body = between.join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Tue, 29 Nov 2022 09:{len(link) % 60:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Summary of {title}&lt;/p&gt;</description></item>"
        for link, title in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>{site}</link><language>en</language>{body}</channel></rss>"
    ).encode()


def with_build_date(feed: bytes, when: str) -> bytes:
    """The feed with a lastBuildDate, as most feeds change it at every update."""
    return feed.replace(b"<language>", f"<lastBuildDate>{when}</lastBuildDate><language>".encode())


def doc(body: bytes, charset: str | None = None) -> Document:
    return Document("https://example.org/feed.xml", body, "application/rss+xml", charset)


# -- the reduction --------------------------------------------------------------------------


def test_nothing_known_keeps_the_original_document() -> None:
    original = doc(rss(items(5)))
    reduced = reduce_feed(original, None)
    assert reduced is not None
    assert reduced.doc is original
    assert (reduced.dropped, reduced.kept, len(reduced.seen.items)) == (0, 5, 5)


def test_known_items_are_left_out_and_the_rest_reads_the_same() -> None:
    first = reduce_feed(doc(rss(items(5))), None)
    assert first is not None
    newer = doc(with_build_date(rss(items(2, start=5) + items(5)), "Wed, 30 Nov 2022"))
    reduced = reduce_feed(newer, first.seen)
    assert reduced is not None
    assert (reduced.dropped, reduced.kept) == (5, 2)
    assert len(reduced.doc.body) < len(newer.body) / 2
    assert parse_feed(reduced.doc).items == parse_feed(newer).items[:2]
    assert reduce_feed(doc(rss(items(5))), first.seen).kept == 0  # type: ignore[union-attr]


def test_an_item_that_moves_down_the_feed_is_still_known() -> None:
    """Pretty-printed feeds put other whitespace after the last item than between items:
    what follows an item is not part of it, and an item that becomes the last is known."""
    first = reduce_feed(doc(rss(items(3), between="\n    ") + b"\n"), None)
    assert first is not None
    # one new item on top, the oldest gone: the second item is now the last
    newer = doc(rss(items(1, start=3) + items(2), between="\n    ") + b"\n")
    reduced = reduce_feed(newer, first.seen)
    assert reduced is not None and (reduced.dropped, reduced.kept) == (2, 1)


def test_a_changed_item_is_read_again() -> None:
    first = reduce_feed(doc(rss(items(3))), None)
    assert first is not None
    changed = rss(items(3)).replace(b"Summary of Story 1", b"Summary of Story 1, corrected")
    reduced = reduce_feed(doc(changed), first.seen)
    assert reduced is not None
    assert (reduced.dropped, reduced.kept) == (2, 1)
    (item,) = parse_feed(reduced.doc).items
    assert (item.url, item.summary) == ("https://news.example/u1", "Summary of Story 1, corrected")


def test_a_changed_feed_context_reads_every_item_again() -> None:
    """Relative links resolve against the channel's link: a new link changes every item."""
    relative = [(f"/story/{i}", f"Story {i}") for i in range(3)]
    first = reduce_feed(doc(rss(relative)), None)
    assert first is not None
    moved = rss(relative, site="https://example.net/")
    reduced = reduce_feed(doc(moved), first.seen)
    assert reduced is not None
    assert (reduced.dropped, reduced.kept) == (0, 3)
    assert parse_feed(reduced.doc).items[0].url == "https://example.net/story/0"
    # a new lastBuildDate alone is no new context
    dated = reduce_feed(doc(with_build_date(rss(relative), "Thu, 01 Dec 2022")), first.seen)
    assert dated is not None and dated.dropped == 3


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b"<rss><channel><item><title>x &nbsp; y</title></item></channel></rss>", None),
        (b'<!DOCTYPE rss [<!ENTITY a "b">]><rss><channel><item>&a;</item></channel></rss>', None),
        (
            b'<rss xml:base="https://e.org/"><channel><item><link>x</link></item></channel></rss>',
            None,
        ),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', None),
        (b"<html><body>not a feed</body></html>", None),
        (b'<?xml version="1.0" encoding="utf-8"?><rss><channel></channel></rss>', "windows-1251"),
    ],
    ids=["ill-formed", "doctype", "xml-base", "json", "html", "charset-mismatch"],
)
def test_documents_that_cannot_be_reduced_safely_are_parsed_whole(
    body: bytes, charset: str | None
) -> None:
    assert reduce_feed(doc(body, charset), None) is None


def _corpus_feeds(corpus: Path) -> list[tuple[str, Document]]:
    """Every XML feed of the corpus, with the content type its manifest gives."""
    headers: dict[str, dict[str, str]] = {}
    for suite in ("feedparser", "rss-parser", "feedjira"):
        manifest = corpus / "feeds" / suite / "MANIFEST.jsonl"
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                headers[str(row["path"])] = dict(row.get("http_headers") or {})
    out = []
    for path in sorted((corpus / "feeds").rglob("*")):
        rel = str(path.relative_to(corpus / "feeds"))
        if path.suffix not in (".xml", ".rss", ".atom") or "/test/output/" in rel:
            continue
        ctype = next(
            (v for k, v in headers.get(rel, {}).items() if k.lower() == "content-type"), ""
        )
        mime, _, params = ctype.partition(";")
        charset = params.partition("charset=")[2].strip().strip('"') or None if params else None
        out.append(
            (rel, Document(f"https://example.org/{rel}", path.read_bytes(), mime.strip(), charset))
        )
    return out


def _alone(document: Document, digest: bytes, every: frozenset[bytes]) -> list[RawItem]:
    """The items of the document read with every other item left out."""
    first = reduce_feed(document, None)
    assert first is not None
    others = every - {digest}
    reduced = reduce_feed(document, Seen(first.seen.context, others | {b"-"}))
    assert reduced is not None
    if not others:  # a one-item feed: nothing to leave out, read it written out again
        tree = etree.fromstring(document.body.lstrip()).getroottree()
        body = etree.tostring(tree, encoding="utf-8", xml_declaration=True)
        return parse_feed(Document(document.url, body, document.content_type)).items
    return parse_feed(reduced.doc).items if reduced.kept else []


def test_every_corpus_item_reads_the_same_without_its_neighbours(corpus: Path) -> None:
    """feedparser reads each item of each reducible corpus feed, in a document holding only
    that item (lxml's tree written out again), exactly as in the whole document."""
    reducible, differ = 0, []
    for rel, document in _corpus_feeds(corpus):
        reduced = reduce_feed(document, None)
        if reduced is None:
            continue
        try:
            whole = parse_feed(document).items
        except Exception:
            continue  # not a feed to feedparser either: the poll fails as before
        reducible += 1
        every = reduced.seen.items
        one_by_one = [
            item for d in dict.fromkeys(reduced.digests) for item in _alone(document, d, every)
        ]
        if one_by_one != whole:
            differ.append(rel)
    assert reducible > 1000  # the corpus holds 1,120 such feeds: the check is not empty
    assert differ == []


# -- in the poller --------------------------------------------------------------------------


class CountingParse:
    """``parse_document``, counting the items each parse returned (inline pool)."""

    def __init__(self) -> None:
        self.items: list[int] = []

    def __call__(self, kind: str, document: Document) -> Parsed:
        parsed = parse_document(kind, document)
        self.items.append(len(parsed.items))
        return parsed


@pytest.fixture
def counting() -> CountingParse:
    return CountingParse()


def make_poller(log: EventLog, counting: CountingParse) -> Poller:
    return Poller(log, TOPICS, Fetcher(FAST), parsers=ParsePool(0, target=counting))


@pytest.fixture
def run() -> Iterator[Callable[..., PollReport]]:
    loop = asyncio.new_event_loop()
    pollers: list[Poller] = []

    def poll(poller: Poller, src: SourceConfig) -> PollReport:
        if poller not in pollers:
            pollers.append(poller)
        return loop.run_until_complete(poller.poll(src))

    yield poll
    for poller in pollers:
        loop.run_until_complete(poller.fetcher.aclose())
        poller.close()
    loop.close()


def source(url: str) -> SourceConfig:
    (made,) = load_sources([{"id": "wire", "url": url, "record_quiet_every": 0}])
    return made


def published(log: EventLog) -> list[tuple[str, bool]]:
    with log.consumer([TOPICS.published], group=None) as consumer:
        out = []
        while batch := consumer.poll(5000, 0.05):
            out.extend((decode(r).data.url, decode(r).data.is_update) for r in batch)  # type: ignore[union-attr]
        return out


def test_a_poll_parses_only_the_new_and_changed_items(
    server: FeedServer,
    sqlite_log: EventLog,
    counting: CountingParse,
    run: Callable[..., PollReport],
) -> None:
    route = Route(rss(items(30)))
    src = source(server.add("/wire.xml", route))
    poller = make_poller(sqlite_log, counting)
    first = run(poller, src)
    assert (first.new_articles, first.items_seen, counting.items) == (30, 30, [30])

    route.body = with_build_date(rss(items(1, start=30) + items(30)), "Wed, 30 Nov 2022")
    second = run(poller, src)
    assert (second.new_articles, second.items_seen, counting.items[-1]) == (1, 31, 1)

    route.body = with_build_date(
        rss(items(1, start=30) + items(30)).replace(b"Story 7<", b"Story 7, corrected<"),
        "Thu, 01 Dec 2022",
    )
    third = run(poller, src)
    assert (third.new_articles, third.updates, counting.items[-1]) == (1, 1, 1)

    route.body = with_build_date(  # a new date, the same items
        rss(items(1, start=30) + items(30)).replace(b"Story 7<", b"Story 7, corrected<"),
        "Fri, 02 Dec 2022",
    )
    fourth = run(poller, src)
    assert (fourth.new_articles, fourth.items_seen, len(counting.items)) == (0, 31, 3)

    urls = published(sqlite_log)  # in partition order
    assert len(urls) == 32
    assert ("https://news.example/u30", False) in urls
    assert ("https://news.example/u7", True) in urls


def test_items_a_hub_pushed_are_not_parsed_again_by_the_next_poll(
    server: FeedServer,
    sqlite_log: EventLog,
    counting: CountingParse,
    run: Callable[..., PollReport],
) -> None:
    """WebSub: a hub pushes the new item alone, in the feed's own head; the poll that
    follows reads the whole feed, and parses nothing (the pushed item is on the log)."""
    route = Route(rss(items(30)))
    src = source(server.add("/wire.xml", route))
    poller = make_poller(sqlite_log, counting)
    assert run(poller, src).new_articles == 30
    pushed = Document(src.url, rss(items(1, start=30)), "application/rss+xml")
    loop = asyncio.new_event_loop()
    try:
        push = loop.run_until_complete(poller.poll(src, pushed=pushed))
    finally:
        loop.close()
    assert (push.new_articles, push.appended, counting.items[-1]) == (1, True, 1)
    route.body = rss(items(1, start=30) + items(30))
    after = run(poller, src)
    assert (after.new_articles, after.items_seen, len(counting.items)) == (0, 31, 2)
    assert len(published(sqlite_log)) == 31


def test_items_of_a_poll_that_was_not_recorded_are_read_again(
    server: FeedServer, tmp_path: Path, counting: CountingParse, run: Callable[..., PollReport]
) -> None:
    """A poll whose batch did not land leaves the memory as it was: the next poll parses
    and publishes its new item again (nothing skipped that was not recorded)."""
    path = tmp_path / "log.db"
    log = open_log(f"sqlite:///{path}?busy_timeout_ms=100")
    log.create_topics(tocsin_topics(Settings()))
    route = Route(rss(items(10)))
    src = source(server.add("/wire.xml", route))
    poller = make_poller(log, counting)
    try:
        assert run(poller, src).new_articles == 10
        route.body = rss(items(1, start=10) + items(10))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the log cannot be written: the poll fails
        try:
            failed = run(poller, src)
        finally:
            other.close()
        assert not failed.appended and counting.items[-1] == 1
        again = run(poller, src)
        assert again.appended and again.new_articles == 1 and counting.items[-1] == 1
        assert [u for u, _ in published(log)].count("https://news.example/u10") == 1
    finally:
        log.close()
