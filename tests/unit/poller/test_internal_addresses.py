"""A public source must not lead the poller into an internal network (``fetch.py``):
no redirect, and no followed link, to a loopback, private or link-local address, unless the
source's own URL is internal too.

Every server here is on 127.0.0.1, so most tests replace the resolution that tells internal
hosts: the name ``localhost`` stands for the internal network (the metadata service, an
internal API), and ``127.0.0.1`` for a public news site. Both reach the same real server.
The real resolution is checked on its own at the end, and so is the check on the socket
that a name whose lookup lies (DNS rebinding) cannot pass."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterator

import pytest
from feed_server import FAST, FeedServer, Route, rss
from test_poll_http import events

from schemas import PollStatus
from services.eventlog import EventLog
from services.poller.config import SourceConfig, load_sources
from services.poller.fetch import Fetcher
from services.poller.poller import Poller, PollReport, Topics
from services.runtime.addresses import Address, InternalHosts, internal_address_of

TOPICS = Topics("articles.published", "sources.polled")
SECRET = rss([("https://internal.example/creds", "AKIA-INSTANCE-CREDENTIALS")])


def localhost_is_internal(host: str) -> Address | None:
    return ipaddress.ip_address("127.0.0.1") if host == "localhost" else None


def every_name_public(host: str) -> None:
    """A lookup that lies, as a rebinding name server does: public now, internal later."""
    return None


def no_address_internal(address: Address) -> bool:
    return False


def inside(address: Address) -> bool:
    """127.0.0.1 is the inside; 127.0.0.2 stands for a public site."""
    return str(address) in ("127.0.0.1", "::1")


class Polls:
    """One poller with the test's notion of internal hosts, on one event loop. By default
    every connected address counts as public (all servers are on 127.0.0.1), so that only
    the names decide; with ``socket_checked``, every name looks public and the socket's
    peer decides (``inside``)."""

    def __init__(self, log: EventLog, socket_checked: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        fetcher = (
            Fetcher(FAST, hosts=InternalHosts(resolve=every_name_public), internal_address=inside)
            if socket_checked
            else Fetcher(
                FAST,
                hosts=InternalHosts(resolve=localhost_is_internal),
                internal_address=no_address_internal,
            )
        )
        self.poller = Poller(log, TOPICS, fetcher)

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


def test_a_public_page_cannot_advertise_an_inside_feed(
    server: FeedServer, poll: Polls, sqlite_log: EventLog
) -> None:
    server.add("/metadata", Route(SECRET))
    site = (
        '<html><head><link rel="alternate" type="application/rss+xml" '
        f'href="http://localhost:{server.port}/metadata"></head><body>Hi</body></html>'
    )
    server.add("/", Route(site.encode(), "text/html"))
    report = poll({"id": "site", "url": server.url("/")})["site"]
    assert report.status is PollStatus.ERROR and report.error_class == "AddressRefused"
    assert server.count("/metadata") == 0
    assert events(sqlite_log, "articles.published") == []


def test_an_internal_source_may_lead_anywhere_inside(
    server: FeedServer, poll: Polls, sqlite_log: EventLog
) -> None:
    server.add("/intranet.xml", Route(redirect_to=f"http://localhost:{server.port}/desk.xml"))
    server.add("/desk.xml", Route(rss([("https://intranet.example/n1", "Desk note")])))
    url = f"http://localhost:{server.port}/intranet.xml"
    report = poll({"id": "intranet", "url": url})["intranet"]
    assert report.status is PollStatus.OK and report.new_articles == 1
    assert server.count("/desk.xml") == 1


def test_a_name_that_looked_public_but_connects_inside_is_refused_on_the_socket(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    """The lookup says every name is public (a rebinding name server's first answer), and
    the connection to ``localhost`` then reaches the inside. The socket's peer is checked
    before the request is sent, so the inside is never asked: neither as the source itself
    nor as a redirect's target. Here the public site is a server on 127.0.0.2 (still this
    machine) and the inside is 127.0.0.1, where the socket check sees it."""
    public = FeedServer(host="127.0.0.2").start()
    server.add("/metadata", Route(SECRET))
    public.add("/lure.xml", Route(redirect_to=f"http://localhost:{server.port}/metadata"))
    polls = Polls(sqlite_log, socket_checked=True)
    try:
        reports = polls(
            {"id": "direct", "url": f"http://localhost:{server.port}/metadata"},
            {"id": "redirected", "url": public.url("/lure.xml")},
        )
    finally:
        polls.close()
        public.stop()
    for report in reports.values():
        assert report.status is PollStatus.ERROR and report.error_class == "AddressRefused"
        assert re.search(
            r"the connection to localhost:\d+ reached (127\.0\.0\.1|::1), an internal "
            r"address, and this source's own URL is not internal",
            report.error_message or "",
        ), report.error_message
    assert public.count("/lure.xml") == 1  # the public hop was fetched
    assert server.requests == []  # the inside was never asked
    assert events(sqlite_log, "articles.published") == []


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
    assert (internal_address_of(host) is not None) is internal
    assert (asyncio.run(InternalHosts().internal_async(host)) is not None) is internal
