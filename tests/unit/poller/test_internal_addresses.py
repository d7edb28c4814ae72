"""A public source must not lead the poller into an internal network (``addresses.py``):
no redirect, and no followed link, to a loopback, private or link-local address, unless the
source's own URL is internal too.

Every server here is on 127.0.0.1, so the tests replace the resolution that tells internal
hosts: the name ``localhost`` stands for the internal network (the metadata service, an
internal API), and ``127.0.0.1`` for a public news site. Both reach the same real server.
The real resolution is checked on its own at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from feed_server import FAST, FeedServer, Route, rss
from test_poll_http import events

from schemas import PollStatus
from services.eventlog import EventLog
from services.poller.addresses import resolves_internal
from services.poller.config import SourceConfig, load_sources
from services.poller.fetch import Fetcher
from services.poller.poller import Poller, PollReport, Topics

TOPICS = Topics("articles.published", "sources.polled")
SECRET = rss([("https://internal.example/creds", "AKIA-INSTANCE-CREDENTIALS")])


async def localhost_is_internal(host: str) -> bool:
    return host == "localhost"


class Polls:
    """One poller with the test's notion of internal hosts, on one event loop."""

    def __init__(self, log: EventLog) -> None:
        self.loop = asyncio.new_event_loop()
        self.poller = Poller(log, TOPICS, Fetcher(FAST, internal_host=localhost_is_internal))

    def __call__(self, *entries: dict[str, object]) -> dict[str, PollReport]:
        srcs: list[SourceConfig] = load_sources(list(entries))
        reports = self.loop.run_until_complete(self.poller.poll_many(srcs))
        return {r.source_id: r for r in reports}

    def close(self) -> None:
        self.loop.run_until_complete(self.poller.fetcher.aclose())
        self.poller.close()
        self.loop.close()


@pytest.fixture
def poll(sqlite_log: EventLog) -> Iterator[Polls]:
    polls = Polls(sqlite_log)
    yield polls
    polls.close()


def test_a_public_feed_redirecting_inside_is_refused_and_the_inside_never_asked(
    server: FeedServer, poll: Polls, sqlite_log: EventLog
) -> None:
    server.add("/metadata", Route(SECRET))
    server.add("/feed.xml", Route(redirect_to=f"http://localhost:{server.port}/metadata"))
    server.add("/moved.xml", Route(redirect_to="/fine.xml"))  # public to public: followed
    server.add("/fine.xml", Route(rss([("https://news.example/a1", "Border talks")])))
    reports = poll(
        {"id": "lured", "url": server.url("/feed.xml")},
        {"id": "moved", "url": server.url("/moved.xml")},
    )
    lured = reports["lured"]
    assert lured.status is PollStatus.ERROR and lured.error_class == "AddressRefused"
    assert lured.error_message == (
        f"refused to fetch http://localhost:{server.port}/metadata: localhost is an internal "
        "address (loopback, private or link-local) and this source's own URL is not"
    )
    assert server.count("/metadata") == 0
    assert reports["moved"].status is PollStatus.OK and reports["moved"].new_articles == 1
    titles = [e.title for e in events(sqlite_log, "articles.published")]  # type: ignore[attr-defined]
    assert titles == ["Border talks"]


def test_a_public_listing_never_leads_to_an_inside_page(
    server: FeedServer, poll: Polls, sqlite_log: EventLog
) -> None:
    page = (
        "<html><body><article><h1>{t}</h1>"
        + "<p>{t}: a paragraph with enough words to be the main text of this page.</p>" * 6
        + "</article></body></html>"
    )
    server.add("/news/1", Route(page.format(t="Ceasefire holds").encode(), "text/html"))
    server.add("/admin", Route(page.format(t="INTERNAL ADMIN").encode(), "text/html"))
    listing = (
        '<html><body><a href="/news/1">one</a>'
        f'<a href="http://localhost:{server.port}/admin">two</a></body></html>'
    )
    server.add("/list", Route(listing.encode(), "text/html"))
    entry = {"kind": "page", "url": server.url("/list"), "follow": {"same_host": False}}
    report = poll({"id": "listing", **entry})["listing"]
    assert report.status is PollStatus.OK and report.new_articles == 1
    assert server.count("/admin") == 0 and server.count("/news/1") == 1
    titles = [e.title for e in events(sqlite_log, "articles.published")]  # type: ignore[attr-defined]
    assert titles == ["Ceasefire holds"]


def test_an_internal_source_may_lead_anywhere_inside(
    server: FeedServer, poll: Polls, sqlite_log: EventLog
) -> None:
    server.add("/intranet.xml", Route(redirect_to=f"http://localhost:{server.port}/desk.xml"))
    server.add("/desk.xml", Route(rss([("https://intranet.example/n1", "Desk note")])))
    url = f"http://localhost:{server.port}/intranet.xml"
    report = poll({"id": "intranet", "url": url})["intranet"]
    assert report.status is PollStatus.OK and report.new_articles == 1
    assert server.count("/desk.xml") == 1


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("169.254.169.254", True),  # the cloud's instance metadata
        ("10.1.2.3", True),
        ("192.168.0.10", True),
        ("100.64.0.1", True),  # shared address space (carrier NAT)
        ("0.0.0.0", True),
        ("[::1]", True),
        ("::ffff:10.0.0.1", True),  # IPv4-mapped
        ("fe80::1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("feeds.tocsin-test.invalid", False),  # does not resolve: the fetch says so
    ],
)
def test_the_real_resolution_tells_internal_hosts(host: str, internal: bool) -> None:
    assert asyncio.run(resolves_internal(host)) is internal
