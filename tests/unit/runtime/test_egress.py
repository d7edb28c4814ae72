"""``runtime.egress``: connections checked on the socket, and the environment's proxies.

The checked transports replace the pool httpx builds (httpx 0.28 takes no network backend):
these tests fail if a new httpx stopped sending through the replaced pool, because the
request would then reach the server. A real HTTP server on 127.0.0.1 (internal) answers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from services.runtime.egress import (
    AsyncCheckedTransport,
    CheckedTransport,
    InternalPeer,
    environment_mounts,
)


class _Server:
    def __init__(self) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.stop()


def test_a_checked_transport_refuses_an_internal_peer_before_sending(server: _Server) -> None:
    with (
        httpx.Client(transport=CheckedTransport()) as client,
        pytest.raises(InternalPeer) as caught,
    ):
        client.get(f"{server.url}/secret")
    assert str(caught.value.address) == "127.0.0.1"
    assert str(caught.value).endswith("reached 127.0.0.1, an internal address")
    assert server.paths == []
    with httpx.Client(transport=CheckedTransport(internal=lambda address: False)) as client:
        assert client.get(f"{server.url}/fine").text == "ok"  # the check decides, nothing else
    assert server.paths == ["/fine"]


def test_an_async_checked_transport_refuses_an_internal_peer_before_sending(
    server: _Server,
) -> None:
    async def get(transport: httpx.AsyncBaseTransport, path: str) -> str:
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get(f"{server.url}{path}")).text

    with pytest.raises(InternalPeer):
        asyncio.run(get(AsyncCheckedTransport(), "/secret"))
    assert server.paths == []
    assert asyncio.run(get(AsyncCheckedTransport(internal=lambda a: False), "/fine")) == "ok"
    assert server.paths == ["/fine"]


def test_environment_mounts_follow_httpx_and_trust_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert environment_mounts(True, str) == {}
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.corp,10.0.0.1")
    mounts = environment_mounts(True, lambda proxy: str(proxy.url))
    assert mounts == {
        "https://": "http://proxy.corp:3128",  # a bare host:port is an HTTP proxy, as in httpx
        "all://*intranet.corp": None,
        "all://10.0.0.1": None,
    }
    assert environment_mounts(False, str) == {}
