"""Item dates as the region's publishers write them: in their own language, day first with
dots, with a short offset or a zone name. Each was undated (then dated at its fetch) or read
in the wrong zone by feedparser alone; standard dates read exactly as feedparser reads them.
The last test polls such a feed over HTTP on 127.0.0.1 into a real SQLite log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from feed_server import FAST, FeedServer, Route
from test_poll_http import events, service, sources

from services.eventlog import EventLog
from services.poller.config import SourceConfigError
from services.poller.fetch import Document
from services.poller.parsers.dates import feed_date, in_zone, reread, text_date
from services.poller.parsers.feeds import parse_feed
from services.poller.parsers.jsonl import parse_jsonl


def rss(*dates: str, tag: str = "pubDate") -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>https://news.example/{i}</link>"
        f"<{tag}>{date}</{tag}></item>"
        for i, date in enumerate(dates)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


def published(body: bytes) -> list[datetime | None]:
    """The items' moments, a date without a zone read as UTC (no source timezone)."""
    doc = Document("https://news.example/feed.xml", body, "application/rss+xml", "utf-8")
    return [in_zone(item.published, None) for item in parse_feed(doc).items]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        # the language's own day and month names (Russian, Azerbaijani, Turkish), with offsets
        ("Вс, 29 ноя 2026 10:00:00 +0300", utc(2026, 11, 29, 7)),
        ("Bazar, 29 Noyabr 2026 10:00:00 +0400", utc(2026, 11, 29, 6)),
        ("Pazar, 29 Kasım 2026 10:00:00 +0300", utc(2026, 11, 29, 7)),
        # no zone: UTC, as feedparser takes an RFC 822 date without one
        ("29 ноября 2026 г., 10:00", utc(2026, 11, 29, 10)),
        ("29 նոյեմբերի 2026, 10:00", utc(2026, 11, 29, 10)),
        ("29 ნოემბერი 2026 10:00", utc(2026, 11, 29, 10)),
        ("29 қараша 2026 10:00", utc(2026, 11, 29, 10)),
        ("29 листопада 2026 10:00", utc(2026, 11, 29, 10)),
        ("29 noyabr 2026 10:00", utc(2026, 11, 29, 10)),
        # day first with dots
        ("29.11.2026 10:00", utc(2026, 11, 29, 10)),
        ("03.04.2026 10:00", utc(2026, 4, 3, 10)),
        # offsets feedparser cannot read
        ("Sun, 29 Nov 2026 10:00:00 +04", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 GMT+4", utc(2026, 11, 29, 6)),
        ("Sun,29 Nov 2026 10:00:00 +0400", utc(2026, 11, 29, 6)),
        # zone names feedparser read as UTC
        ("Sun, 29 Nov 2026 10:00:00 MSK", utc(2026, 11, 29, 7)),
        ("Sun, 29 Nov 2026 10:00:00 AMT", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 AZT", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 GET", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 UZT", utc(2026, 11, 29, 5)),
        ("Sun, 29 Nov 2026 10:00:00 CEST", utc(2026, 11, 29, 8)),
    ],
)
def test_the_regions_dates_are_read(written: str, moment: datetime) -> None:
    assert published(rss(written)) == [moment]


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        ("Sun, 29 Nov 2026 10:00:00 GMT", utc(2026, 11, 29, 10)),
        ("Sun, 29 Nov 2026 10:00:00 +0400", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 EST", utc(2026, 11, 29, 15)),
        ("Sun, 29 Nov 2026 10:00:00 UTC", utc(2026, 11, 29, 10)),
        ("2026-11-29T10:00:00+04:00", utc(2026, 11, 29, 6)),
        ("Sun, 29 Nov 2026 10:00:00 +0400 (AZT)", utc(2026, 11, 29, 6)),
    ],
)
def test_dates_feedparser_reads_right_are_its_own(written: str, moment: datetime) -> None:
    assert published(rss(written)) == [moment]


@pytest.mark.parametrize(
    "written",
    [
        "yesterday",  # relative: a feed's date is a moment
        "2 hours ago",
        "29 ноября",  # no year
        "11/12/2026 10:00",  # November 12 or December 11
        "Sun, 29 Nov 2026 10:00:00 XYZ",  # feedparser's reading (UTC) stays: see below
        "no date at all",
        "01.01.0001 0:00:00",  # .NET's DateTime.MinValue: a placeholder
        "1.2.3",  # a version number
        "",
        "9" * 500,
    ],
)
def test_what_is_no_full_date_is_not_guessed(written: str) -> None:
    assert reread(written) is None


@pytest.mark.parametrize(
    "placeholder", ["0001-01-01T00:00:00Z", "Mon, 01 Jan 0001 00:00:00 GMT", "01.01.0001 0:00:00"]
)
def test_a_placeholder_date_is_no_date(placeholder: str) -> None:
    """Before, the first two dated the article in year 1, alone in every rule's window."""
    assert published(rss(placeholder)) == [None]
    assert text_date(placeholder) is None


def test_an_unknown_zone_name_keeps_feedparsers_reading() -> None:
    assert published(rss("Sun, 29 Nov 2026 10:00:00 XYZ")) == [utc(2026, 11, 29, 10)]
    assert published(rss("no date at all")) == [None]


def test_the_updated_date_and_json_feeds_are_read_alike() -> None:
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>W</title><entry><title>S</title>'
        b'<link href="https://news.example/1"/><id>https://news.example/1</id>'
        b"<updated>29.11.2026 10:00</updated></entry></feed>"
    )
    doc = Document("https://news.example/atom", atom, "application/atom+xml", "utf-8")
    assert [in_zone(i.published, None) for i in parse_feed(doc).items] == [utc(2026, 11, 29, 10)]
    json_feed = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "W", "items": [{"id": "1",'
        ' "url": "https://news.example/1", "content_text": "x",'
        ' "date_published": "Вс, 29 ноя 2026 10:00:00 +0300"}]}'
    ).encode()
    doc = Document("https://news.example/feed.json", json_feed, "application/feed+json", "utf-8")
    assert [in_zone(i.published, None) for i in parse_feed(doc).items] == [utc(2026, 11, 29, 7)]


def test_an_archives_dates_are_read_like_a_feeds() -> None:
    """Before, a JSONL record dated any way but ISO 8601 was dated at its import: a
    researcher's archive came in as one burst of the present."""
    records = [
        {"id": "1", "title": "a", "body": "x", "published": "2022-11-29T09:00:00+04:00"},
        {"id": "2", "title": "b", "body": "x", "published": "Tue, 29 Nov 2022 09:00:00 GMT"},
        {"id": "3", "title": "c", "body": "x", "published": "29 ноября 2022 г., 09:00"},
        {"id": "4", "title": "d", "body": "x", "published": "some day"},
    ]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    doc = Document("file:///archive.jsonl", body, "application/jsonl", "utf-8")
    assert [in_zone(i.published, None) for i in parse_jsonl(doc).items] == [
        utc(2022, 11, 29, 5),
        utc(2022, 11, 29, 9),
        utc(2022, 11, 29, 9),
        None,
    ]


def test_feed_date_takes_feedparsers_tuple_when_the_text_adds_nothing() -> None:
    assert feed_date(None, None) is None
    assert feed_date("", None) is None
    assert feed_date("garbage", None) is None


def test_a_polled_feed_keeps_its_items_dates(server: FeedServer, sqlite_log: EventLog) -> None:
    """Before, the Russian-dated items were published dated at the fetch, as if new."""
    url = server.add(
        "/lenta.xml",
        Route(rss("Пт, 27 ноя 2026 18:30:00 +0300", "26.11.2026 09:15")),
    )
    svc = service(sqlite_log, sources({"id": "ru-wire", "url": url}), FAST)
    svc.run_until_idle()
    articles = events(sqlite_log, "articles.published")
    assert sorted((a.published_at, a.published_at_inferred) for a in articles) == [  # type: ignore[attr-defined]
        (utc(2026, 11, 26, 9, 15), False),
        (utc(2026, 11, 27, 15, 30), False),
    ]


@pytest.mark.parametrize(
    ("written", "naive"),
    [
        ("29 ноября 2026 г., 10:00", True),
        ("29.11.2026 10:00", True),
        ("2026-11-29T10:00:00", True),
        ("Sun, 29 Nov 2026 10:00:00 +0400", False),
        ("Sun, 29 Nov 2026 10:00:00 MSK", False),
        ("2026-11-29T10:00:00Z", False),
        ("Sun, 29 Nov 2026 10:00:00 +0400 (AZT)", False),
    ],
)
def test_a_date_that_names_no_zone_is_kept_as_written(written: str, naive: bool) -> None:
    doc = Document("https://news.example/feed.xml", rss(written), "application/rss+xml", "utf-8")
    (item,) = parse_feed(doc).items
    assert item.published is not None
    assert (item.published.tzinfo is None) is naive


def test_a_sources_timezone_places_its_dates_without_a_zone(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    """A Yerevan site that writes "29.11.2026 10:00" means 06:00 UTC; before, such dates
    were read as UTC. A date that names its zone keeps it whatever the source says."""
    body = rss("26.11.2026 10:00", "2026-11-26T11:00:00", "Thu, 26 Nov 2026 12:00:00 +0300")
    url = server.add("/am.xml", Route(body))
    svc = service(sqlite_log, sources({"id": "am", "url": url, "timezone": "Asia/Yerevan"}), FAST)
    svc.run_until_idle()
    assert sorted(a.published_at for a in events(sqlite_log, "articles.published")) == [  # type: ignore[attr-defined]
        utc(2026, 11, 26, 6),
        utc(2026, 11, 26, 7),
        utc(2026, 11, 26, 9),
    ]
    with pytest.raises(SourceConfigError, match="not an IANA time zone"):
        sources({"id": "x", "url": url, "timezone": "Yerevan"})
