"""TLS failures and connection reuse, against real servers on 127.0.0.1.

- An HTTPS feed with a self-signed certificate (made here with ``openssl``) is refused: its
  ``source.polled`` says ``TlsError`` with a readable reason, and the other sources are
  polled as usual. A control request that trusts the certificate proves the server itself
  works, so the refusal is about trust and nothing else.
- Conditional polls that end in 304 reuse the connection (a publisher polled every few
  minutes should not pay a TCP and TLS handshake for each "nothing new").
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import certificates
import pytest
from feed_server import FAST, FeedServer, Route, rss

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog
from services.eventlog.codec import decode
from services.poller.config import load_sources
from services.poller.runner import PollerService
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A fresh self-signed certificate for 127.0.0.1 (openssl; no CA anyone trusts)."""
    return certificates.self_signed(tmp_path, "IP:127.0.0.1", "127.0.0.1")


@pytest.fixture
def https_server(self_signed: tuple[str, str]) -> Iterator[FeedServer]:
    srv = FeedServer(tls=self_signed).start()
    yield srv
    srv.stop()


def _polled(log: EventLog) -> dict[str, SourcePolled]:
    out: dict[str, SourcePolled] = {}
    with log.consumer(["sources.polled"], group=None) as consumer:
        while batch := consumer.poll(1000, 0.05):
            for record in batch:
                data = decode(record).data
                assert isinstance(data, SourcePolled)
                out[data.source_id] = data
    return out


def test_self_signed_https_is_refused_as_tls_error_and_others_go_on(
    https_server: FeedServer,
    server: FeedServer,
    sqlite_log: EventLog,
    self_signed: tuple[str, str],
) -> None:
    body = rss([("https://news.example/tls/1", "Behind a bad certificate")])
    bad = https_server.add("/feed.xml", Route(body))
    good = server.add("/feed.xml", Route(rss([("https://news.example/ok/1", "Fine")])))
    assert bad.startswith("https://127.0.0.1:")

    # control: a client that trusts this certificate reads the feed, so the server works
    trusting = ssl.create_default_context(cafile=self_signed[0])
    with urllib.request.urlopen(bad, context=trusting, timeout=5) as resp:
        assert resp.status == 200 and resp.read() == body

    srcs = load_sources([{"id": "selfsigned", "url": bad}, {"id": "good", "url": good}])
    svc = PollerService(ServiceContext(settings=Settings(), log=sqlite_log), srcs, options=FAST)
    svc.run_until_idle()

    by_id = {r.source_id: r for r in svc.reports}
    tls = by_id["selfsigned"]
    assert tls.status is PollStatus.ERROR and tls.error_class == "TlsError"
    assert tls.new_articles == 0
    assert by_id["good"].status is PollStatus.OK and by_id["good"].new_articles == 1

    polled = _polled(sqlite_log)
    event = polled["selfsigned"]
    assert event.error_class == "TlsError" and event.status is PollStatus.ERROR
    message = event.error_message or ""
    assert "127.0.0.1" in message and "certificate" in message.lower(), message
    assert polled["good"].status is PollStatus.OK
    # nothing from the refused feed reached articles.published
    with sqlite_log.consumer(["articles.published"], group=None) as consumer:
        titles = [decode(r).data.title for r in consumer.poll(1000, 0.2)]  # type: ignore[attr-defined]
    assert titles == ["Fine"]


def test_not_modified_polls_reuse_the_connection(server: FeedServer, sqlite_log: EventLog) -> None:
    url = server.add("/feed.xml", Route(rss([("https://news.example/keep/1", "Kept")])))
    srcs = load_sources([{"id": "keep", "url": url}])
    svc = PollerService(ServiceContext(settings=Settings(), log=sqlite_log), srcs, options=FAST)

    async def three_polls() -> list[PollStatus]:
        poller = await svc.start_poller()
        try:
            return [(await poller.poll(srcs[0])).status for _ in range(3)]
        finally:
            await poller.fetcher.aclose()
            poller.close()

    statuses = asyncio.run(three_polls())
    assert statuses == [PollStatus.OK, PollStatus.NOT_MODIFIED, PollStatus.NOT_MODIFIED]
    assert server.count("/feed.xml") == 3
    assert server.connections == 1, "each 304 opened a new connection"
