"""A feed source given as a web page: the poller reads the feed the page advertises.

The real pages of the shared corpus say which feeds they advertise (WordPress sites name
their comments feeds too); a real HTTP server on 127.0.0.1 serves a site whose address was
given instead of its feed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from feed_server import FeedServer, Route, rss
from test_poll_http import events, service, sources

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog
from services.poller.fetch import Document
from services.poller.parsers.discovery import advertised_feeds


def page(head: str, url: str = "https://site.example/news/today.html") -> Document:
    body = f"<!DOCTYPE html><html><head>{head}</head><body><p>Hello</p></body></html>"
    return Document(url=url, body=body.encode(), content_type="text/html")


def link(href: str, kind: str = "application/rss+xml", title: str = "") -> str:
    return f'<link rel="alternate" type="{kind}" title="{title}" href="{href}">'


def test_the_site_feed_comes_first_and_comments_feeds_are_left_out() -> None:
    head = (
        link("/news/today.html/feed/", title="Site » Today Comments Feed")
        + link("https://feeds.example/site", title="Site on a feed host")
        + link("/wp-content/plugins/board/rss.php", title="Board feed")
        + link("/feed/", title="Site » Feed")
        + link("/comments/feed/", title="Site » Comments Feed")
        + link("/commentary/feed/", kind="application/atom+xml; charset=utf-8", title="Commentary")
        + link("/feed/")  # twice: once
        + link("http://[::1", title="malformed")
        + link("/sitemap.xml", kind="application/xml")  # not a feed type
        + '<link rel="stylesheet" type="application/rss+xml" href="/not-alternate">'
        + link("/feed.json", kind="application/feed+json")
    )
    assert advertised_feeds(page(head)) == [
        "https://site.example/feed/",
        "https://site.example/feed.json",
        "https://site.example/commentary/feed/",
        "https://site.example/wp-content/plugins/board/rss.php",
        "https://feeds.example/site",
    ]


def test_relative_links_follow_the_pages_base() -> None:
    head = '<base href="https://cdn.example/en/">' + link("rss.xml")
    assert advertised_feeds(page(head)) == ["https://cdn.example/en/rss.xml"]
    assert advertised_feeds(page("")) == []
    assert advertised_feeds(Document(url="https://x.example/", body=b"  ")) == []


def test_real_pages_name_their_site_feed_and_never_a_comments_feed(corpus: Path) -> None:
    pages = sorted((corpus / "pages").rglob("*.html.gz"))
    if not pages:
        pytest.skip("no pages in the corpus")
    found = {}
    for path in pages:
        doc = Document(url="https://page.example/a/b.html", body=gzip.decompress(path.read_bytes()))
        feeds = advertised_feeds(doc)
        assert not [f for f in feeds if "/comments/" in f], (path.name, feeds)
        if feeds:
            found[path.name] = feeds
    assert len(found) >= 30, "the corpus's pages advertise feeds"
    firsts = {feeds[0] for feeds in found.values()}
    # WordPress article pages: the site's feed, not the post's comments feed or a plugin's
    assert {
        "https://www.nationalreview.com/feed/",
        "http://jeongdongtheater.com/feed/",
        "https://9to5mac.com/feed/",
    } <= firsts
    assert not [f for f in firsts if "/20" in f and f.endswith("/feed/")]  # no post's feed


SITE = (
    "<!DOCTYPE html><html><head><title>Caucasus Desk</title>"
    '<link rel="alternate" type="application/rss+xml" title="Desk » Comments Feed" '
    'href="/comments/feed/">'
    '<link rel="alternate" type="application/rss+xml" title="Desk » Feed" href="/feed/">'
    "</head><body><h1>Caucasus Desk</h1><p>Latest news.</p></body></html>"
)


def test_a_feed_source_given_as_its_site_reads_the_advertised_feed(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    server.add("/", Route(SITE.encode(), "text/html; charset=utf-8"))
    server.add("/comments/feed/", Route(rss([("https://desk.example/c1", "A comment")])))
    items = [("https://desk.example/n1", "Border talks"), ("https://desk.example/n2", "Summit")]
    server.add("/feed/", Route(rss(items)))
    svc = service(sqlite_log, sources({"id": "desk", "url": server.url("/")}))
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.status is PollStatus.OK and report.new_articles == 2, report
    assert report.warnings[0] == (
        f"{server.url('/')} is a web page: read the feed it advertises, "
        f"{server.url('/feed/')} (make that the source's url)"
    )
    titles = [a.title for a in events(sqlite_log, "articles.published")]  # type: ignore[attr-defined]
    assert titles == ["Border talks", "Summit"]
    assert server.count("/comments/feed/") == 0
    (polled,) = events(sqlite_log, "sources.polled")
    assert isinstance(polled, SourcePolled) and polled.status is PollStatus.OK
    assert polled.error_message == report.warnings[0]  # an OK poll's message is its warning


def test_a_page_that_advertises_no_feed_is_a_clear_error(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    server.add("/about", Route(b"<html><body><p>About us</p></body></html>", "text/html"))
    svc = service(sqlite_log, sources({"id": "about", "url": server.url("/about")}))
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.status is PollStatus.ERROR and report.error_class == "NotAFeed"
    assert report.error_message == (
        "an HTML page where a feed was expected (content-type text/html), and the page "
        'advertises no feed (no <link rel="alternate"> to RSS, Atom or JSON Feed): give the '
        "feed's URL, or kind: page to read the page itself"
    )


def test_sources_discover_lists_the_feeds_a_site_advertises(server: FeedServer) -> None:
    """``tocsin sources discover``: what to put in ``sources:``, read once, nothing kept."""
    from typer.testing import CliRunner

    from services.cli.app import app

    head = link("/feed/", title="Desk » Feed") + link("/comments/feed/", title="Comments Feed")
    head += link("/gone.xml", kind="application/atom+xml", title="Old Atom")
    server.add("/", Route(page(head).body, "text/html"))
    items = [("https://desk.example/n1", "Border talks"), ("https://desk.example/n2", "Summit")]
    server.add("/feed/", Route(rss(items), headers={"Link": '<https://hub.example/>; rel="hub"'}))
    runner = CliRunner()
    result = runner.invoke(app, ["sources", "discover", server.url("/"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["url"], r["items"], r["advertised"]) for r in rows] == [
        (server.url("/feed/"), 2, True),
        (server.url("/gone.xml"), 0, True),
    ]
    assert rows[0]["newest"] == "2022-11-29T09:01+00:00" and rows[0]["latest_title"] == "Summit"
    assert rows[0]["error"] is None and rows[1]["error"].startswith("HttpStatusError: HTTP 404")
    assert [r["push"] for r in rows] == ["https://hub.example/", None]  # its WebSub hub
    assert server.count("/comments/feed/") == 0
    # a feed's own URL: itself
    result = runner.invoke(app, ["sources", "discover", server.url("/feed/"), "-f", "json"])
    assert [(r["url"], r["advertised"]) for r in json.loads(result.stdout)] == [
        (server.url("/feed/"), False)
    ]
    # a page with no feed: exit 1 and why
    server.add("/about", Route(b"<html><body><p>About</p></body></html>", "text/html"))
    result = runner.invoke(app, ["sources", "discover", server.url("/about")])
    assert result.exit_code == 1
    assert "NotAFeed: an HTML page where a feed was expected" in result.stderr


def test_malformed_links_and_bases_are_skipped_not_raised() -> None:
    """Found by fuzzing 3,000 mutated corpus pages: a publisher's malformed <base href>
    raised out of the discovery."""
    head = '<base href="http://[::1">' + link("/feed/") + link("http://[::1/x")
    assert advertised_feeds(page(head)) == ["https://site.example/feed/"]
    assert advertised_feeds(page(link("/feed/"), url="http://[::1")) == []


def test_a_document_that_is_no_page_keeps_its_own_error(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    sitemap = b'<?xml version="1.0"?><urlset><url><loc>https://x.example/</loc></url></urlset>'
    server.add("/sitemap.xml", Route(sitemap, "application/xml"))
    svc = service(sqlite_log, sources({"id": "map", "url": server.url("/sitemap.xml")}))
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.error_class == "NotAFeed"
    assert (report.error_message or "").startswith("no RSS, Atom or RDF feed found")
    assert "advertises" not in (report.error_message or "")
