"""The poller goes out through the environment's proxy, as httpx's own clients do.

In an office network only the proxy reaches the internet: the poller must honour
``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY``. Its per-origin pools are a transport of its
own, for which httpx does not read the environment, so the fetcher mounts the proxies
itself (``runtime.egress.environment_mounts``). A real forward proxy on 127.0.0.1 resolves
names that no DNS here knows (``*.tocsin-test.invalid``), so a fetch that skipped the proxy
fails with a DNS error; HTTPS goes through the proxy's CONNECT tunnel to a TLS server whose
certificate names the invented host.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import certificates
import pytest
from feed_server import FAST, FeedServer, Route, rss
from forward_proxy import ForwardProxy, Socks5Proxy

from services.poller.errors import ConnectError
from services.poller.fetch import Fetcher, FetchOptions, FetchResult, Validators
from services.runtime.settings import ConfigError

TRUSTING = dataclasses.replace(FAST, trust_env=True)
HOST = "feeds.tocsin-test.invalid"
FEED = rss([("https://news.example/p1", "Through the proxy")])


@pytest.fixture
def proxy(server: FeedServer) -> Iterator[ForwardProxy]:
    forward = ForwardProxy({HOST: ("127.0.0.1", server.port)}).start()
    yield forward
    forward.stop()


@pytest.fixture(autouse=True)
def _no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def fetch(url: str, options: FetchOptions = TRUSTING) -> FetchResult:
    async def run() -> FetchResult:
        fetcher = Fetcher(options)
        try:
            return await fetcher.fetch(url, Validators())
        finally:
            await fetcher.aclose()

    return asyncio.run(run())


def test_a_feed_is_fetched_through_the_http_proxy(
    server: FeedServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("/feed.xml", Route(FEED))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    result = fetch(f"http://{HOST}/feed.xml")
    assert result.http_status == 200 and result.documents[0].body == FEED
    assert proxy.relayed == [f"GET http://{HOST}/feed.xml"]


def test_no_proxy_hosts_and_trust_env_off_go_direct(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy here is down: a fetch that went through it would fail."""
    server.add("/feed.xml", Route(FEED))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert fetch(server.url("/feed.xml")).documents[0].body == FEED
    monkeypatch.delenv("NO_PROXY")
    assert fetch(server.url("/feed.xml"), FAST).documents[0].body == FEED  # trust_env off
    with pytest.raises(ConnectError, match=r"connection to '127\.0\.0\.1' failed"):
        fetch(server.url("/feed.xml"))  # and through the dead proxy it fails: it was used


def test_a_feed_is_fetched_through_a_socks_proxy(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALL_PROXY=socks5h://... (a SOCKS tunnel out of a closed network): the name is
    resolved by the proxy, which no DNS here does."""
    server.add("/feed.xml", Route(FEED))
    socks = Socks5Proxy({HOST: ("127.0.0.1", server.port)}).start()
    try:
        monkeypatch.setenv("ALL_PROXY", socks.url.replace("socks5:", "socks5h:"))
        result = fetch(f"http://{HOST}/feed.xml")
    finally:
        socks.stop()
    assert result.documents[0].body == FEED
    assert socks.connected == [f"{HOST}:80"]


def test_a_proxy_that_cannot_be_used_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "ftp://desk:pw-Q7x@proxy.corp:21")
    with pytest.raises(ConfigError) as caught:
        fetch("https://feeds.example/rss")
    assert str(caught.value) == (
        "the environment's proxy for https:// (ftp://proxy.corp:21) cannot be used: an "
        "unknown scheme or a bad URL (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY take http, https, "
        "socks5 or socks5h)"
    )
    assert "pw-Q7x" not in str(caught.value)


@pytest.fixture
def named_certificate(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for ``HOST``, trusted through SSL_CERT_FILE."""
    return certificates.self_signed(tmp_path, f"DNS:{HOST}", HOST)


def test_an_https_feed_goes_through_the_proxy_tunnel(
    named_certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    https = FeedServer(tls=named_certificate).start()
    forward = ForwardProxy({HOST: ("127.0.0.1", https.port)}).start()
    try:
        https.add("/feed.xml", Route(FEED))
        monkeypatch.setenv("HTTPS_PROXY", forward.url)
        monkeypatch.setenv("SSL_CERT_FILE", named_certificate[0])
        result = fetch(f"https://{HOST}:{https.port}/feed.xml")
        assert result.documents[0].body == FEED
        assert forward.relayed == [f"CONNECT {HOST}:{https.port}"]
    finally:
        forward.stop()
        https.stop()
