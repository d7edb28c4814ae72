"""Polls against a real HTTP server on 127.0.0.1 and a real SQLite log: conditional GET,
restarts, updates, and every kind of bad input ending as a clear source.polled error."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from feed_server import FAST, FeedServer, Route, rss

from schemas import PollStatus
from services.eventlog import EventLog
from services.eventlog.codec import decode
from services.poller.config import SourceConfig, load_sources
from services.poller.fetch import Fetcher, FetchOptions, Validators
from services.poller.runner import PollerService
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


def sources(*entries: dict[str, object]) -> list[SourceConfig]:
    return load_sources(list(entries))


def service(log: EventLog, srcs: list[SourceConfig], options: FetchOptions = FAST) -> PollerService:
    return PollerService(ServiceContext(settings=Settings(), log=log), srcs, options=options)


def events(log: EventLog, topic: str) -> list[object]:
    with log.consumer([topic], group=None) as c:
        out = []
        while batch := c.poll(5000, 0.05):
            out.extend(decode(r).data for r in batch)
        return out


def test_poll_conditional_get_restart_and_update(server: FeedServer, sqlite_log: EventLog) -> None:
    route = Route(
        rss([(f"https://news.example/a{i}?utm_medium=rss", f"Story {i}") for i in range(5)])
    )
    srcs = sources({"id": "f1", "url": server.add("/feed.xml", route)})
    svc = service(sqlite_log, srcs)
    svc.run_until_idle()
    (report,) = svc.reports
    assert (report.status, report.http_status, report.items_seen, report.new_articles) == (
        PollStatus.OK,
        200,
        5,
        5,
    )
    ua = server.requests[-1][1]["user-agent"]
    assert ua.startswith("Tocsin-Poller/")

    # a restart: a new service rebuilds validators and known ids from the log
    again = service(sqlite_log, srcs)
    again.run_until_idle()
    assert again.reports[0].status is PollStatus.NOT_MODIFIED
    assert server.requests[-1][1]["if-none-match"] == route.etag
    assert server.requests[-1][1]["if-modified-since"] == route.last_modified

    # the publisher corrects one story and adds one: one update, one new, nothing repeated
    items = [(f"https://news.example/a{i}", f"Story {i}") for i in range(5)]
    items[2] = ("https://news.example/a2", "Story 2 (corrected)")
    route.body = rss([*items, ("https://news.example/a5", "Story 5")])
    third = service(sqlite_log, srcs)
    third.run_until_idle()
    assert (third.reports[0].new_articles, third.reports[0].updates) == (2, 1)

    published = events(sqlite_log, "articles.published")
    assert len(published) == 7
    updates = [a for a in published if a.is_update]  # type: ignore[attr-defined]
    assert [a.title for a in updates] == ["Story 2 (corrected)"]  # type: ignore[attr-defined]
    assert all("utm_" not in a.url for a in published)  # type: ignore[attr-defined]
    polled = events(sqlite_log, "sources.polled")
    assert [p.status for p in polled] == [PollStatus.OK, PollStatus.NOT_MODIFIED, PollStatus.OK]  # type: ignore[attr-defined]
    assert polled[0].etag == route.etag or polled[0].bytes > 0  # type: ignore[attr-defined]


def test_bad_inputs_each_get_a_clear_error_and_the_poller_goes_on(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    good = server.add("/good.xml", Route(rss([("https://news.example/g1", "Good one")])))
    entries = {
        "html": (
            server.add(
                "/html",
                Route(b"<!doctype html><html><body><p>Hello</p></body></html>", "text/html"),
            ),
            "NotAFeed",
        ),
        "empty": (server.add("/empty", Route(b"")), "EmptyDocument"),
        "endless": (server.add("/endless", Route(endless=True)), "ResponseTooLarge"),
        "hang": (server.add("/hang", Route(hang=True)), "FetchTimeout"),
        "loop": (server.add("/loop", Route(redirect_to="/loop")), "TooManyRedirects"),
        "missing": (server.url("/nothing-here"), "HttpStatusError"),
        "gone": (server.add("/gone", Route(status=410)), "HttpStatusError"),
        "dns": ("http://feeds.tocsin-test.invalid/feed", "DnsError"),
        "refused": ("http://127.0.0.1:9/feed", "ConnectError"),
        "garbage": (
            server.add(
                "/garbage", Route(b"\x00\x01\x02 not xml at all \xff", "application/octet-stream")
            ),
            "NotAFeed",
        ),
        "nofile": ("/nonexistent/tocsin/feed.xml", "LocalFileError"),
    }
    srcs = sources(
        {"id": "good", "url": good}, *({"id": k, "url": u} for k, (u, _) in entries.items())
    )
    svc = service(sqlite_log, srcs)
    started = time.monotonic()
    svc.run_until_idle()
    assert time.monotonic() - started < 15
    by_id = {r.source_id: r for r in svc.reports}
    assert by_id["good"].status is PollStatus.OK and by_id["good"].new_articles == 1
    for key, (_, error_class) in entries.items():
        r = by_id[key]
        assert r.failed and r.error_class == error_class, (key, r.error_class, r.error_message)
        assert r.error_message and len(r.error_message) > 10
    assert by_id["missing"].http_status == 404 and "not found" in (
        by_id["missing"].error_message or ""
    )
    assert by_id["gone"].status is PollStatus.DISABLED and "disabled" in (
        by_id["gone"].error_message or ""
    )
    assert "HTML page" in (by_id["html"].error_message or "")
    assert "cap" in (by_id["endless"].error_message or "")
    polled = {p.source_id: p for p in events(sqlite_log, "sources.polled")}  # type: ignore[attr-defined]
    assert set(polled) == {"good", *entries}
    assert polled["dns"].error_class == "DnsError" and polled["gone"].status is PollStatus.DISABLED

    # after the 410 the source stays disabled across a restart, and is not fetched again
    before = server.count("/gone")
    again = service(sqlite_log, [s for s in srcs if s.id == "gone"])
    again.run_until_idle()
    assert again.reports[0].status is PollStatus.DISABLED and server.count("/gone") == before


def test_retries_on_5xx_and_429_with_retry_after(server: FeedServer, sqlite_log: EventLog) -> None:
    flaky = server.add("/flaky", Route(rss([("https://news.example/f", "F")]), statuses=[503]))
    limited = server.add(
        "/limited",
        Route(rss([("https://news.example/l", "L")]), statuses=[429], headers={"Retry-After": "1"}),
    )
    slow = server.add(
        "/too-limited", Route(b"", statuses=[429, 429], headers={"Retry-After": "3600"})
    )
    svc = service(
        sqlite_log,
        sources(
            {"id": "flaky", "url": flaky},
            {"id": "limited", "url": limited},
            {"id": "slow", "url": slow},
        ),
    )
    started = time.monotonic()
    svc.run_until_idle()
    by_id = {r.source_id: r for r in svc.reports}
    assert by_id["flaky"].status is PollStatus.OK and server.count("/flaky") == 2
    assert by_id["limited"].status is PollStatus.OK and server.count("/limited") == 2
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert by_id["slow"].http_status == 429 and "Retry-After 3600" in (
        by_id["slow"].error_message or ""
    )
    assert server.count("/too-limited") == 1


def test_charset_from_http_header_and_local_folder(
    server: FeedServer, sqlite_log: EventLog, tmp_path: Path
) -> None:
    body = rss([("https://news.example/c", "Café in Yerevan")]).replace(b'encoding="utf-8"', b"")
    latin = body.decode().encode("iso-8859-1")
    url = server.add("/latin", Route(latin, "text/xml; charset=iso-8859-1"))
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "a.xml").write_bytes(rss([("https://news.example/d1", "D1")]))
    (folder / "b.rss").write_bytes(b"<broken")
    (folder / "notes.txt").write_text("ignored")
    svc = service(
        sqlite_log, sources({"id": "latin", "url": url}, {"id": "dir", "url": folder.as_uri()})
    )
    svc.run_until_idle()
    by_id = {r.source_id: r for r in svc.reports}
    assert by_id["latin"].status is PollStatus.OK
    assert by_id["dir"].status is PollStatus.OK and by_id["dir"].new_articles == 1
    assert "b.rss" in (by_id["dir"].error_message or "")
    titles = {a.title for a in events(sqlite_log, "articles.published")}  # type: ignore[attr-defined]
    assert "Café in Yerevan" in titles
    again = service(sqlite_log, sources({"id": "dir", "url": folder.as_uri()}))
    again.run_until_idle()
    assert again.reports[0].status is PollStatus.NOT_MODIFIED


def test_per_host_limit_and_politeness_delay(server: FeedServer) -> None:
    paths = [server.add(f"/p{i}", Route(b"x", delay_s=0.05)) for i in range(4)]
    opts = FetchOptions(per_host_concurrency=1, politeness_delay_s=0.1, trust_env=False)

    async def go() -> float:
        fetcher = Fetcher(opts)
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(p, Validators()) for p in paths))
        await fetcher.aclose()
        return time.monotonic() - started

    assert asyncio.run(go()) >= 0.3  # 4 starts on one host, 0.1 s apart at least


def test_jsonl_archive_from_the_corpus(corpus: Path, sqlite_log: EventLog) -> None:
    path = corpus / "news" / "ru_news_samples.jsonl"
    svc = service(sqlite_log, sources({"id": "ru", "kind": "jsonl", "url": str(path)}))
    svc.run_until_idle()
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    assert svc.reports[0].status is PollStatus.OK and svc.reports[0].items_seen == len(lines)
    arts = events(sqlite_log, "articles.published")
    assert 0 < len(arts) <= len(lines)
    assert all(a.language_hint in ("ru", None) for a in arts)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["bbc-1", "cnn"])
def test_page_source_extracts_the_main_text(
    corpus: Path, server: FeedServer, sqlite_log: EventLog, name: str
) -> None:
    import gzip

    page = gzip.decompress(
        (corpus / "pages" / "readability" / name / "source.html.gz").read_bytes()
    )
    expected = (corpus / "pages" / "readability" / name / "expected.txt").read_text()
    url = server.add(f"/{name}.html", Route(page, "text/html; charset=utf-8"))
    svc = service(sqlite_log, sources({"id": name, "kind": "page", "url": url}))
    svc.run_until_idle()
    assert svc.reports[0].status is PollStatus.OK, svc.reports[0].error_message
    (article,) = events(sqlite_log, "articles.published")
    words = set(expected.split())
    got = set(article.text.split())  # type: ignore[attr-defined]
    assert len(words & got) / len(words) > 0.8


def test_listing_page_follows_article_links(server: FeedServer, sqlite_log: EventLog) -> None:
    art = (
        "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>{t} paragraph with enough words to be the main text of this page, repeated.</p>" * 6
        + "</article></body></html>"
    )
    for i in range(3):
        server.add(f"/news/{i}", Route(art.format(t=f"Article {i}").encode(), "text/html"))
    listing = (
        "<html><body>"
        + "".join(f'<a href="/news/{i}">a{i}</a>' for i in range(3))
        + '<a href="/about">about</a><a href="https://elsewhere.example/news/9">x</a>'
        # a malformed link is skipped, not the page (the whole poll failed on it)
        + '<a href="http://[::1/news/8">broken</a></body></html>'
    )
    url = server.add("/list", Route(listing.encode(), "text/html"))
    srcs = sources({"id": "list", "kind": "page", "url": url, "follow": {"pattern": "/news/"}})
    svc = service(sqlite_log, srcs)
    svc.run_until_idle()
    assert svc.reports[0].new_articles == 3 and server.count("/about") == 0
    listing2 = listing.replace("</body>", '<a href="/news/3">a3</a></body>')
    server.add("/news/3", Route(art.format(t="Article 3").encode(), "text/html"))
    server.routes["/list"].body = listing2.encode()
    again = service(sqlite_log, srcs)
    again.run_until_idle()
    assert again.reports[0].new_articles == 1
    assert server.count("/news/0") == 1  # known articles are not fetched again


def test_a_feed_that_moved_for_good_says_where_on_every_poll(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    """A 301 or 308 says the address changed for good: feed readers keep the new one, and
    here each poll's warning names it (the config is the operator's). A 302 says nothing
    of the address to keep; after a 301 then a 302, the 301's target is the new address."""
    feed = server.add("/new.xml", Route(rss([("https://news.example/m1", "Moved story")])))
    server.add("/old.xml", Route(redirect_to="/new.xml", redirect_status=301))
    server.add("/perm.xml", Route(redirect_to="/hop.xml", redirect_status=308))
    server.add("/hop.xml", Route(redirect_to="/new.xml"))  # 302
    server.add("/temp.xml", Route(redirect_to="/new.xml"))  # 302
    srcs = sources(
        {"id": "old", "url": server.url("/old.xml")},
        {"id": "perm", "url": server.url("/perm.xml")},
        {"id": "temp", "url": server.url("/temp.xml")},
    )
    for attempt in range(2):  # the first poll reads the feed, the second is a 304
        svc = service(sqlite_log, srcs)
        svc.run_until_idle()
        reports = {r.source_id: r for r in svc.reports}
        assert reports["old"].status is (PollStatus.OK if attempt == 0 else PollStatus.NOT_MODIFIED)
        assert reports["old"].warnings == [
            f"{server.url('/old.xml')} moved permanently to {feed} (make that the source's url)"
        ]
        assert reports["perm"].warnings == [
            f"{server.url('/perm.xml')} moved permanently to {server.url('/hop.xml')} "
            "(make that the source's url)"
        ]
        assert reports["temp"].warnings == []
    polled = [p for p in events(sqlite_log, "sources.polled") if p.source_id == "old"]  # type: ignore[attr-defined]
    assert [p.error_message for p in polled] == [reports["old"].warnings[0]] * 2
