# ruff: noqa: RUF001  (Russian text on purpose)
"""Telegram channels as sources, through their public preview (https://t.me/s/<channel>).

The page in data/telegram_preview.html was written for these tests (an invented channel) in
the markup of real previews as public scrapers read them; it is served by a real HTTP
server on 127.0.0.1 standing in for t.me, which cannot be reached here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from feed_server import FeedServer, Route
from test_poll_http import events, service, sources

from schemas import PollStatus
from services.eventlog import EventLog
from services.poller.config import SourceConfigError, load_sources
from services.poller.errors import ParseError
from services.poller.fetch import Document
from services.poller.parsers.telegram import parse_telegram
from services.text import analyse

PAGE = (Path(__file__).parent / "data" / "telegram_preview.html").read_bytes()


def parse(body: bytes) -> list:  # type: ignore[type-arg]
    doc = Document("https://t.me/s/caucasus_watch", body, "text/html", "utf-8")
    return parse_telegram(doc).items


def test_each_post_with_text_is_an_item_with_its_link_date_and_author() -> None:
    doc = Document("https://t.me/s/caucasus_watch", PAGE, "text/html", "utf-8")
    parsed = parse_telegram(doc)
    assert parsed.skipped == 2  # "Channel created", a photo alone
    got = [(i.guid, i.url, i.published, i.authors) for i in parsed.items]
    at = [datetime(2026, 11, 27, h, m, tzinfo=UTC) for h, m in ((7, 37), (9, 15), (10, 0))]
    assert got[:3] == [
        ("caucasus_watch/101", "https://t.me/caucasus_watch/101", at[0], ("Caucasus Watch",)),
        ("caucasus_watch/102", "https://t.me/caucasus_watch/102", at[1], ("Caucasus Watch",)),
        # a forwarded post is by the channel it came from
        ("caucasus_watch/103", "https://t.me/caucasus_watch/103", at[2], ("Border Desk",)),
    ]
    assert [i.guid for i in parsed.items[3:]] == ["caucasus_watch/105", "caucasus_watch/106"]


def test_a_posts_first_line_is_its_title_and_only_its_own_text_counts() -> None:
    first, reply, forwarded, preview, album = parse(PAGE)
    assert (first.title, first.text) == (
        "🚨 Обстрел на границе Армении и Азербайджана",
        "Минобороны Армении сообщает об обстреле позиций у села Тех. Ереван обратился в ОДКБ.",
    )
    # the quoted post's text is the other post's
    assert (reply.title, reply.text) == (
        "Update: firing stopped at 09:10, local officials say.",
        "",
    )
    assert forwarded.title == (
        "CSTO secretary general to visit Yerevan next week & meet the defence minister."
    )
    # a link preview says what the post links to
    assert (preview.title, preview.text) == (
        "Traffic resumes on the Lachin road",
        "Trucks crossed in both directions on Wednesday.",
    )
    # a first line too long for a title is cut at a word, and the text keeps it whole
    assert album.title.endswith("where both sides had reinforced…") and len(album.title) <= 161
    assert album.text.startswith("Kyrgyz and Tajik border guards met in Batken after a night")
    assert album.text.endswith("villagers were moved away\nTalks go on tomorrow.")


def test_posts_name_what_the_desk_watches() -> None:
    first, _, forwarded, *_ = parse(PAGE)
    assert {"country:AM", "country:AZ", "org:csto"} <= analyse(first.title, first.text).entity_ids
    assert "org:csto" in analyse(forwarded.title, forwarded.text).entity_ids


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<html><body><div class="tgme_page"><div class="tgme_page_title">A chat'
            b"</div></div></body></html>",
            "no public preview",
        ),
        (b"<html><body><p>Just a page.</p></body></html>", "not a Telegram channel's public"),
    ],
)
def test_a_page_that_is_no_channel_preview_is_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(body)


def test_a_channel_link_is_read_through_its_public_preview() -> None:
    (src,) = load_sources([{"id": "cw", "kind": "telegram", "url": "https://t.me/caucasus_watch"}])
    assert src.url == "https://t.me/s/caucasus_watch"
    (same,) = load_sources([{"id": "cw", "kind": "telegram", "url": "https://t.me/s/cw"}])
    assert same.url == "https://t.me/s/cw"
    (feed,) = load_sources([{"id": "f", "url": "https://t.me/caucasus_watch"}])
    assert feed.url == "https://t.me/caucasus_watch"  # only telegram sources are rewritten
    with pytest.raises(SourceConfigError, match="kind"):
        load_sources([{"id": "x", "kind": "telegrm", "url": "https://t.me/s/x"}])


def test_a_telegram_source_is_polled_and_an_edited_post_is_an_update(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    route = Route(PAGE, "text/html; charset=utf-8")
    url = server.add("/s/caucasus_watch", route)
    srcs = sources({"id": "cw", "kind": "telegram", "url": url, "language": "ru"})
    svc = service(sqlite_log, srcs)
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.status is PollStatus.OK, report.error_message
    # seen: the seven posts; new: the five with text
    assert (report.items_seen, report.new_articles) == (7, 5)
    published = events(sqlite_log, "articles.published")
    assert sorted(a.url for a in published) == [  # type: ignore[attr-defined]
        f"https://t.me/caucasus_watch/{n}" for n in (101, 102, 103, 105, 106)
    ]
    assert {(a.source_id, a.language_hint) for a in published} == {("cw", "ru")}  # type: ignore[attr-defined]

    route.body = PAGE.replace(b"firing stopped at 09:10", b"firing stopped at 09:40")
    again = service(sqlite_log, srcs)
    again.run_until_idle()
    assert again.reports[0].new_articles == 1
    (edited,) = [a for a in events(sqlite_log, "articles.published") if a.is_update]  # type: ignore[attr-defined]
    assert edited.url == "https://t.me/caucasus_watch/102"  # type: ignore[attr-defined]
    assert "09:40" in edited.title  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "charset"),
    [
        (lambda page: page.replace(b"<html>", b"<html>\x00\x01"), "utf-8"),  # controls
        (lambda page: b"<?xml version='1.0' encoding='utf-8'?>\n" + page, "utf-8"),  # XHTML
        (lambda page: page, "latin-1"),  # a name libxml2 does not know
        (lambda page: page, "no-such-charset"),
    ],
)
def test_a_page_with_controls_a_declaration_or_an_odd_charset_is_still_read(
    change: object, charset: str
) -> None:
    body = change(PAGE)  # type: ignore[operator]
    doc = Document("https://t.me/s/caucasus_watch", body, "text/html", charset)
    items = parse_telegram(doc).items
    assert [i.guid for i in items] == [f"caucasus_watch/{n}" for n in (101, 102, 103, 105, 106)]


_POST = (
    '<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="desk/{n}">'
    '<div class="tgme_widget_message_text js-message_text">Post {n} from the border</div>'
    '<div class="tgme_widget_message_footer"><a class="tgme_widget_message_date" '
    'href="https://t.me/desk/{n}"><time datetime="2026-11-27T10:00:00+00:00"></time></a>'
    "</div></div></div>"
)


def preview(numbers: range, earlier: str) -> Route:
    """A preview page holding ``numbers``, linking the page of earlier posts."""
    more = (
        f'<a href="{earlier}" class="tme_messages_more js-messages_more" '
        f'data-before="{numbers[0]}"></a>'
    )
    posts = "".join(_POST.format(n=n) for n in numbers)
    page = (
        '<html><body><div class="tgme_channel_info"><div class="tgme_channel_info_header_title">'
        f'<span>Desk</span></div></div><section class="tgme_channel_history">{more}{posts}'
        "</section></body></html>"
    )
    return Route(page.encode(), "text/html; charset=utf-8")


def test_the_link_to_earlier_posts_is_kept() -> None:
    doc = Document("https://t.me/s/caucasus_watch", PAGE, "text/html", "utf-8")
    assert parse_telegram(doc).earlier == "https://t.me/s/caucasus_watch?before=100"


def test_after_a_gap_the_earlier_pages_are_read_back_until_a_known_post(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    url = server.add("/s/desk", preview(range(101, 121), "/s/desk-101"))
    server.add("/s/desk-101", preview(range(81, 101), "/s/desk-81"))
    srcs = sources({"id": "desk", "kind": "telegram", "url": url})

    def requested(path: str) -> int:
        return sum(1 for p, _ in server.requests if p.split("?")[0] == path)

    first = service(sqlite_log, srcs)
    first.run_until_idle()
    # a new source: its latest page only, not the channel's history
    assert first.reports[0].new_articles == 20 and requested("/s/desk-101") == 0

    # thirty posts later: the latest page and the one before it, which holds known posts
    server.add("/s/desk", preview(range(131, 151), "/s/desk-131"))
    server.add("/s/desk-131", preview(range(111, 131), "/s/desk-111"))
    server.add("/s/desk-111", preview(range(91, 111), "/s/desk-91"))
    second = service(sqlite_log, srcs)
    second.run_until_idle()
    assert second.reports[0].new_articles == 30, second.reports[0].error_message
    assert (requested("/s/desk-131"), requested("/s/desk-111")) == (1, 0)
    numbers = sorted(int(a.url.rsplit("/", 1)[1]) for a in events(sqlite_log, "articles.published"))  # type: ignore[attr-defined]
    assert numbers == list(range(101, 151))

    # a gap longer than five pages: five are read, and the poll says what it left out
    server.add("/s/desk", preview(range(400, 420), "/s/g1"))
    for n, start in enumerate((380, 360, 340, 320, 300), start=1):
        server.add(f"/s/g{n}", preview(range(start, start + 20), f"/s/g{n + 1}"))
    third = service(sqlite_log, srcs)
    third.run_until_idle()
    (report,) = third.reports
    assert report.new_articles == 100
    assert "more than 5 pages of posts since the last poll" in (report.error_message or "")
    assert (requested("/s/g4"), requested("/s/g5")) == (1, 0)


def test_a_channel_reads_back_as_many_pages_as_its_source_allows(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    """``read_back``: a busy channel, or a poller down for hours, may need more than five."""
    url = server.add("/s/busy", preview(range(101, 121), "/s/busy-101"))
    srcs = sources({"id": "busy", "kind": "telegram", "url": url, "read_back": 8})
    service(sqlite_log, srcs).run_until_idle()  # a new source: its latest page only
    server.add("/s/busy", preview(range(400, 420), "/s/b1"))
    for n, start in enumerate((380, 360, 340, 320, 300, 280), start=1):
        server.add(f"/s/b{n}", preview(range(start, start + 20), f"/s/b{n + 1}"))
    server.add("/s/b7", preview(range(101, 121), "/s/b8"))  # where the last poll ended
    svc = service(sqlite_log, srcs)
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.new_articles == 140 and report.warnings == []
    short = sources({"id": "busy", "kind": "telegram", "url": url, "read_back": 2})
    server.add("/s/busy", preview(range(600, 620), "/s/c1"))
    server.add("/s/c1", preview(range(580, 600), "/s/c2"))
    svc = service(sqlite_log, short)
    svc.run_until_idle()
    (report,) = svc.reports
    assert report.new_articles == 40
    assert "more than 2 pages of posts since the last poll" in (report.error_message or "")


def test_read_back_is_for_telegram_sources_only() -> None:
    with pytest.raises(SourceConfigError, match="'read_back' applies to telegram sources only"):
        sources({"id": "f", "url": "https://feeds.example/rss", "read_back": 3})
    with pytest.raises(SourceConfigError, match="read_back"):
        sources({"id": "t", "kind": "telegram", "url": "https://t.me/desk", "read_back": 0})
