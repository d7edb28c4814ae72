"""WebSub: discovery, signatures and the subscription book; then a serving poller against a
real hub and a real feed server on 127.0.0.1, getting new items pushed instead of polled."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import httpx
import pytest
from feed_server import FAST, FeedServer, Route, rss
from pollers import RunningPoller
from pydantic import ValidationError
from waiting import wait_until
from websub_hub import HubSubscription, WebSubHub

from schemas import ArticlePublished, PushState, SourceSubscription
from services.eventlog import EventLog
from services.eventlog.codec import decode
from services.poller.config import load_sources
from services.poller.errors import AddressRefused
from services.poller.fetch import Document, Fetcher, Validators
from services.poller.parsers.feeds import parse_feed
from services.poller.unchanged import reduce_feed
from services.poller.websub import (
    RENEW_AT,
    RETRY_FIRST_S,
    Advert,
    State,
    Subscriptions,
    advertised,
    callback_for,
    sign,
    signature_valid,
)
from services.runtime.addresses import Address, InternalHosts
from services.runtime.settings import Settings, WebSubSettings

CORPUS_FEEDS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "feeds"
HUB = "https://hub.example/"
TOPIC = "https://news.example/feed.xml"


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_a_signature_made_with_the_secret_is_valid(method: str) -> None:
    body = b"<rss>new item</rss>"
    assert signature_valid("s3cret", sign("s3cret", body, method), body)
    assert signature_valid(
        "s3cret", sign("s3cret", body, method).upper().replace("SHA", "sha"), body
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256",
        "sha256=",
        "md5=0cc175b9c0f1b6a831c399e269772661",
        sign("another secret", b"<rss>new item</rss>"),
        sign("s3cret", b"<rss>another item</rss>"),
    ],
    ids=["absent", "empty", "no-digest", "empty-digest", "md5", "wrong-secret", "other-body"],
)
def test_anything_else_is_not(header: str | None) -> None:
    assert not signature_valid("s3cret", header, b"<rss>new item</rss>")


# -- discovery -------------------------------------------------------------------------------


def test_the_link_header_comes_before_the_document() -> None:
    header = [("hub", "https://header-hub.example/"), ("self", "https://cdn.example/f")]
    assert advertised(header, [HUB], TOPIC, "https://fetched.example/") == Advert(
        "https://header-hub.example/", "https://cdn.example/f"
    )
    assert advertised([], [HUB, "https://second.example/"], TOPIC, "https://x.example/") == Advert(
        HUB, TOPIC
    )
    assert advertised([], [HUB], None, "https://fetched.example/f") == Advert(
        HUB, "https://fetched.example/f"
    )
    assert advertised([("self", TOPIC)], [], None, TOPIC) is None


@pytest.mark.parametrize(
    ("path", "topic"),
    [
        ("feedjira/spec/sample_feeds/TypePadNews.xml", "http://feeds.feedburner.com/TypePadNews"),
        ("feedjira/spec/sample_feeds/SamRuby.xml", "http://intertwingly.net/blog/index.atom"),
        ("rss-parser/test/input/feedburner.atom", "http://feeds.feedburner.com/blogspot/lQlzL"),
        ("rss-parser/test/input/encoding.rss", "http://feeds.jn.pt/JN-ULTIMAS"),
    ],
)
def test_real_feeds_name_their_hub_and_their_own_url(path: str, topic: str) -> None:
    file = CORPUS_FEEDS / path
    if not file.is_file():
        pytest.skip("the corpus is not here (../shared/corpus)")
    parsed = parse_feed(Document("https://fetched.example/feed", file.read_bytes(), "text/xml"))
    assert parsed.items
    assert advertised((), parsed.hubs, parsed.self_url, "https://fetched.example/feed") == Advert(
        "http://pubsubhubbub.appspot.com/", topic
    )


def test_a_feed_reduced_to_nothing_still_names_its_hub() -> None:
    """A feed whose items were all read before is not parsed again (``unchanged``): its
    head is read there, so a hub added meanwhile, or a feed that was empty, is found."""
    file = CORPUS_FEEDS / "feedjira/spec/sample_feeds/SamRuby.xml"
    if not file.is_file():
        pytest.skip("the corpus is not here (../shared/corpus)")
    doc = Document("https://fetched.example/feed", file.read_bytes(), "text/xml")
    first = reduce_feed(doc, None)
    assert first is not None
    again = reduce_feed(doc, first.seen)
    assert again is not None and again.kept == 0 and again.dropped == 20
    assert again.hubs == ("http://pubsubhubbub.appspot.com/",)
    assert again.self_url == "http://intertwingly.net/blog/index.atom"


def test_a_feed_without_a_hub_names_none() -> None:
    parsed = parse_feed(Document(TOPIC, rss([("https://news.example/a", "A")])))
    assert parsed.hubs == [] and parsed.self_url is None


def test_a_json_feed_names_its_websub_hubs() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", '
        b'"feed_url": "https://news.example/feed.json", "hubs": [{"type": "rssCloud", '
        b'"url": "https://cloud.example/"}, {"type": "WebSub", "url": "https://hub.example/"}, '
        b'{"type": "WebSub", "url": "javascript:alert(1)"}, "junk"], '
        b'"items": [{"id": "1", "url": "https://news.example/1", "title": "One"}]}'
    )
    parsed = parse_feed(Document("https://news.example/other", body, "application/feed+json"))
    assert parsed.hubs == ["https://hub.example/"]
    assert parsed.self_url == "https://news.example/feed.json"


def test_a_fetch_keeps_the_hub_and_self_of_the_link_header(server: FeedServer) -> None:
    url = server.add(
        "/feed.xml",
        Route(
            body=rss([("https://news.example/a", "A")]),
            headers={"Link": '</hub>; rel="hub", <https://news.example/feed.xml>; rel="self"'},
        ),
    )

    async def fetch() -> Document:
        fetcher = Fetcher(FAST)
        try:
            return (await fetcher.fetch(url, Validators())).documents[0]
        finally:
            await fetcher.aclose()

    doc = asyncio.run(fetch())
    assert doc.links == (("hub", server.url("/hub")), ("self", "https://news.example/feed.xml"))


# -- the subscription book -------------------------------------------------------------------


def test_the_book_subscribes_once_and_renews_at_four_fifths_of_the_lease() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None and book.due(0) == [sub]
    assert book.want("src", Advert(HUB, TOPIC), now=5) is sub  # the same hub: nothing new
    book.requesting(sub)
    book.sent(sub, now=1)
    assert book.due(2) == []
    assert book.verify("src", "subscribe", TOPIC, 500, now=2)
    assert sub.state is State.ACTIVE and sub.expires_at == 502
    assert book.due(2 + RENEW_AT * 500 - 1) == []
    assert book.due(2 + RENEW_AT * 500) == [sub]


def test_the_book_confirms_only_what_it_asked_for() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None
    assert not book.verify("src", "subscribe", TOPIC, 100, now=0)  # not requested yet
    book.requesting(sub)
    assert not book.verify("other", "subscribe", TOPIC, 100, now=0)
    assert not book.verify("src", "subscribe", "https://elsewhere.example/", 100, now=0)
    assert not book.verify("src", "unsubscribe", TOPIC, 100, now=0)
    assert book.verify("src", "subscribe", TOPIC, None, now=0)
    assert sub.expires_at == 1000  # the hub named no lease: the one asked for
    assert not book.verify("src", "unsubscribe", TOPIC, 100, now=1)
    assert sub.state is State.ACTIVE


def test_failures_back_off_and_a_denial_is_asked_again_later() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None
    delays = [book.failed(sub, 0, "HTTP 500") for _ in range(12)]
    assert delays[:3] == [RETRY_FIRST_S, 2 * RETRY_FIRST_S, 4 * RETRY_FIRST_S]
    assert delays[-1] == 6 * 3600
    assert sub.state is State.FAILED and book.due(delays[-1] - 1) == []


def test_only_a_request_waiting_for_its_answer_can_be_denied() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None
    assert book.denied("src", TOPIC, "too early", now=0) is None  # not asked yet
    book.requesting(sub)
    assert book.denied("src", "https://other.example/", "not this topic", now=0) is None
    assert book.denied("src", TOPIC, "not allowed", now=0) == RETRY_FIRST_S
    assert sub.state is State.FAILED and sub.problem == "denied by the hub: not allowed"
    book.requesting(sub)  # asked again
    assert book.denied("src", TOPIC, "still not", now=1) == 2 * RETRY_FIRST_S
    book.requesting(sub)
    assert book.verify("src", "subscribe", TOPIC, 100, now=1)
    assert book.denied("src", TOPIC, "a forged denial", now=2) is None
    assert sub.state is State.ACTIVE and sub.problem is None


def test_a_denial_before_the_hub_answered_keeps_its_backoff() -> None:
    """A hub may verify, or deny, before it answers the request (spec 5.3)."""
    book = Subscriptions(b"k" * 32, lease_s=1000)
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None
    book.requesting(sub)
    assert book.denied("src", TOPIC, "not allowed", now=0) == RETRY_FIRST_S
    book.sent(sub, now=0)  # then the hub's 202
    assert sub.state is State.FAILED and sub.due_at == RETRY_FIRST_S


def test_secrets_differ_by_source_and_topic_and_survive_a_restart_with_the_key() -> None:
    one = Subscriptions(b"k" * 32, lease_s=1000).want("a", Advert(HUB, TOPIC), 0)
    again = Subscriptions(b"k" * 32, lease_s=1000).want("a", Advert(HUB, TOPIC), 0)
    other = Subscriptions(b"k" * 32, lease_s=1000).want("b", Advert(HUB, TOPIC), 0)
    drawn = Subscriptions(b"j" * 32, lease_s=1000).want("a", Advert(HUB, TOPIC), 0)
    assert one and again and other and drawn
    assert one.secret == again.secret
    assert len({one.secret, other.secret, drawn.secret}) == 3


def test_a_feed_that_drops_its_hub_is_forgotten() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    first = book.want("src", Advert(HUB, TOPIC), now=0)
    moved = book.want("src", Advert("https://new-hub.example/", TOPIC), now=1)
    assert moved is not first and book.due(1) == [moved]
    assert book.want("src", None, now=2) is None and book.get("src") is None


def test_the_book_keeps_each_change_of_state_for_the_log() -> None:
    book = Subscriptions(b"k" * 32, lease_s=1000)
    never_asked = book.want("quiet", Advert(HUB, TOPIC), now=0)
    assert never_asked is not None and book.want("quiet", None, now=0) is None
    assert book.take_changes() == []  # wanted, never asked for: no news
    sub = book.want("src", Advert(HUB, TOPIC), now=0)
    assert sub is not None
    book.requesting(sub)
    book.sent(sub, now=1)
    book.verify("src", "subscribe", TOPIC, 500, now=2)
    book.requesting(sub)  # the renewal, refused while the lease runs
    book.failed(sub, 402, "HTTP 503")
    book.want("src", None, now=403)
    changes = [(c.state, c.at, c.expires_at, c.problem) for c in book.take_changes()]
    assert changes == [
        (PushState.REQUESTED, 1, None, None),
        (PushState.ACTIVE, 2, 502, None),
        (PushState.ACTIVE, 402, 502, "HTTP 503"),  # still pushed until 502
        (PushState.ENDED, 403, None, "HTTP 503"),
    ]
    assert book.take_changes() == []
    failing = book.want("src", Advert(HUB, TOPIC), now=404)
    assert failing is not None
    book.requesting(failing)
    book.failed(failing, 404, "HTTP 500")
    assert [(c.source_id, c.state) for c in book.take_changes()] == [("src", PushState.FAILED)]


def test_the_callback_names_the_source() -> None:
    assert callback_for("https://tocsin.example/websub/", "azatutyun") == (
        "https://tocsin.example/websub/azatutyun"
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://tocsin.example/websub", "https:///websub", "https://tocsin.example/w?x=1", "websub"],
)
def test_a_callback_url_that_hubs_cannot_call_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="callback_url"):
        Settings(websub={"callback_url": url})


# -- a hub named by a public feed may not be internal ------------------------------------------


def _localhost_is_internal(host: str) -> Address | None:
    return ipaddress.ip_address("127.0.0.1") if host == "localhost" else None


def test_a_public_feed_cannot_make_the_poller_post_to_an_internal_hub() -> None:
    hub = WebSubHub().start()
    try:
        internal_hub = hub.url.replace("127.0.0.1", "localhost")

        async def subscribe(found_on: str) -> tuple[int, str]:
            fetcher = Fetcher(
                FAST,
                hosts=InternalHosts(resolve=_localhost_is_internal),
                internal_address=lambda address: False,
            )
            try:
                form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": "x"}
                return await fetcher.post_form(internal_hub, form, found_on=found_on)
            finally:
                await fetcher.aclose()

        with pytest.raises(AddressRefused, match="internal address"):
            asyncio.run(subscribe("http://127.0.0.1:9/public-feed.xml"))
        assert hub.requests == []
        status, _ = asyncio.run(subscribe("http://localhost:9/intranet-feed.xml"))
        assert status == 202 and len(hub.requests) == 1
    finally:
        hub.stop()


# -- a serving poller, a real hub, a real feed server -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Setup:
    def __init__(
        self,
        server: FeedServer,
        hub: WebSubHub,
        log_url: str,
        items: list[tuple[str, str]] | None = None,
    ) -> None:
        self.server, self.hub = server, hub
        self.items = [("https://news.example/first", "First")] if items is None else items
        self.feed_url = server.add("/feed.xml", Route(body=self._feed()))
        port = _free_port()
        self.callback_base = f"http://127.0.0.1:{port}/websub"
        self.settings = Settings(websub=WebSubSettings(callback_url=self.callback_base, port=port))
        sources = load_sources([{"id": "news", "url": self.feed_url, "every": "1h"}])
        self.poller = RunningPoller("push", self.settings, log_url, sources)
        self.callback = f"{self.callback_base}/news"

    def _feed(self) -> bytes:
        head = (
            f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{self.hub.url}"/>'
            f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" '
            f'href="{self.server.url("/feed.xml")}"/>'
        )
        return rss(self.items).replace(b"<language>", head.encode() + b"<language>", 1)

    def add_item(self, link: str, title: str) -> bytes:
        self.items.insert(0, (link, title))
        body = self._feed()
        self.server.routes["/feed.xml"].body = body
        return body


@contextmanager
def running(setup: Setup) -> Iterator[Setup]:
    """The poller running; stopped after."""
    setup.poller.start()
    try:
        yield setup
    finally:
        setup.poller.stop()


@contextmanager
def serving(setup: Setup) -> Iterator[HubSubscription]:
    """The poller running, its one subscription verified by the hub; stopped after."""
    with running(setup):
        [subscription] = setup.hub.wait_verified()
        yield subscription


@pytest.fixture
def hub() -> Iterator[WebSubHub]:
    running = WebSubHub().start()
    yield running
    running.stop()


def _log_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tocsin.db'}"


def _published(log: EventLog, timeout: float = 10.0, count: int = 1) -> list[str | None]:
    """The URLs of the articles on the log, once there are ``count`` (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        with log.consumer(["articles.published"], group=None) as consumer:
            urls: list[str | None] = []
            while batch := consumer.poll(5000, 0.05):
                urls.extend(cast(ArticlePublished, decode(r).data).url for r in batch)
        if len(urls) >= count or time.monotonic() >= deadline:
            return urls
        time.sleep(0.05)


def _subscription_changes(log: EventLog) -> list[SourceSubscription]:
    with log.consumer(["sources.polled"], group=None) as consumer:
        records = []
        while batch := consumer.poll(5000, 0.05):
            records.extend(batch)
    events = [decode(r).data for r in records]
    return [e for e in events if isinstance(e, SourceSubscription)]


def test_a_new_item_pushed_by_the_hub_is_published_without_a_poll(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path))
    with serving(setup) as subscription:
        assert subscription.callback == setup.callback
        assert subscription.topic == setup.server.url("/feed.xml")
        assert len(subscription.secret) == 64
        assert _published(sqlite_log) == ["https://news.example/first"]
        polls = server.count("/feed.xml")

        body = setup.add_item("https://news.example/second", "Troops at the border")
        assert hub.publish(subscription.topic, body) == [202]
        urls = _published(sqlite_log, count=2)
        assert sorted(urls) == ["https://news.example/first", "https://news.example/second"]
        assert server.count("/feed.xml") == polls  # pushed: the feed was not fetched again
        assert hub.publish(subscription.topic, body) == [202]  # a repeat adds nothing
        time.sleep(0.5)
        assert len(_published(sqlite_log, timeout=0)) == 2
        # the subscription's states are on the log, beside the source's polls
        changes = _subscription_changes(sqlite_log)
        assert [(c.source_id, c.state) for c in changes][-1] == ("news", PushState.ACTIVE)
        assert {c.hub for c in changes} == {hub.url} and {c.topic for c in changes} == {
            subscription.topic
        }
        active = changes[-1]
        assert active.expires_at is not None
        lease = (active.expires_at - active.at).total_seconds()
        assert abs(lease - setup.settings.websub.lease_s) < 5


def test_a_feed_with_no_items_yet_is_subscribed_and_its_first_item_pushed(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path), items=[])
    with serving(setup) as subscription:
        body = setup.add_item("https://news.example/first", "First")
        assert hub.publish(subscription.topic, body) == [202]
        assert _published(sqlite_log) == ["https://news.example/first"]


def test_pushes_not_signed_with_the_secret_are_ignored(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path))
    with serving(setup) as subscription:
        assert len(_published(sqlite_log)) == 1
        forged = setup.add_item("https://news.example/forged", "Forged")
        setup.server.routes["/feed.xml"].body = rss(setup.items[1:])  # the feed does not have it
        for headers in (
            {},
            {"X-Hub-Signature": sign("guessed secret", forged)},
            {"X-Hub-Signature": sign(subscription.secret, forged + b" ")},
        ):
            answer = httpx.post(setup.callback, content=forged, headers=headers, timeout=5)
            assert answer.status_code == 202
        unknown = httpx.post(f"{setup.callback_base}/nobody", content=forged, timeout=5)
        assert unknown.status_code == 410
        time.sleep(0.5)
        assert _published(sqlite_log, timeout=0) == ["https://news.example/first"]


def test_verifications_nobody_asked_for_are_refused(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path))
    with serving(setup) as subscription:
        assert hub.verifications == [(setup.callback, 200, True)]
        assert (
            hub.verify_as_hub(setup.callback, "unsubscribe", subscription.topic).status_code == 404
        )
        assert hub.verify_as_hub(setup.callback, "subscribe", TOPIC).status_code == 404
        other = f"{setup.callback_base}/other"
        assert hub.verify_as_hub(other, "subscribe", subscription.topic).status_code == 404


def test_pushed_content_that_cannot_be_read_makes_the_poller_poll(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path))
    with serving(setup) as subscription:
        assert len(_published(sqlite_log)) == 1
        polls = server.count("/feed.xml")
        setup.add_item("https://news.example/second", "Second")
        assert hub.publish(subscription.topic, b"\x00 not a feed at all") == [202]
        urls = _published(sqlite_log, count=2)
        assert "https://news.example/second" in urls
        assert server.count("/feed.xml") == polls + 1


def test_a_short_lease_is_renewed_before_it_runs_out(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    hub.grant_lease_s = 3
    setup = Setup(server, hub, _log_url(tmp_path))
    with running(setup):
        hub.wait_verified()
        wait_until(lambda: len(hub.verified_at) >= 3, "two renewals", timeout_s=10)
        assert all(v[2] for v in hub.verifications)
        gaps = [b - a for a, b in zip(hub.verified_at, hub.verified_at[1:], strict=False)]
        assert all(2 < gap < 3 for gap in gaps), gaps  # renewed at 4/5 of the 3 s lease


def test_a_hub_that_refuses_is_asked_again_later_and_polling_goes_on(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    hub.answer_status = 500
    setup = Setup(server, hub, _log_url(tmp_path))
    with running(setup):
        wait_until(lambda: bool(hub.requests), "a subscription request", timeout_s=10)
        assert len(hub.requests) == 1
        assert _published(sqlite_log) == ["https://news.example/first"]
        time.sleep(2.5)  # the first retry is a minute away
        assert len(hub.requests) == 1 and hub.subscriptions == {}
        push = setup.poller.service.push
        assert push is not None
        sub = push.book.get("news")
        assert sub is not None and sub.state is State.FAILED
        assert sub.problem is not None and "HTTP 500" in sub.problem
        [failed] = _subscription_changes(sqlite_log)
        assert failed.state is PushState.FAILED and failed.problem == sub.problem


def test_a_callback_port_in_use_is_a_clear_error(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    setup = Setup(server, hub, _log_url(tmp_path))
    port = setup.settings.websub.port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(OSError, match=rf"websub: cannot listen on 127.0.0.1:{port}"):
            setup.poller.service.run()
    assert hub.requests == []


def test_a_hub_that_denies_the_subscription_is_asked_again_later(
    server: FeedServer, hub: WebSubHub, sqlite_log: EventLog, tmp_path: Path
) -> None:
    hub.deny_reason = "this topic is not served here"
    setup = Setup(server, hub, _log_url(tmp_path))
    with running(setup):

        def denied() -> bool:
            push = setup.poller.service.push
            sub = push.book.get("news") if push is not None else None
            return sub is not None and sub.state is State.FAILED

        wait_until(denied, "the denial", timeout_s=15)
        push = setup.poller.service.push
        assert push is not None
        sub = push.book.get("news")
        assert sub is not None and sub.state is State.FAILED
        assert sub.problem == "denied by the hub: this topic is not served here"
        assert len(hub.requests) == 1 and hub.subscriptions == {}
        assert _published(sqlite_log) == ["https://news.example/first"]  # polled all the same
