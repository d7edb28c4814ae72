"""A real HTTP server on 127.0.0.1 for the poller's tests: feeds with ETag/Last-Modified,
slow, endless, hanging, redirecting and failing variants. Started and stopped by a fixture."""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.poller.fetch import Document, FetchOptions
from services.poller.parsers import Parsed
from services.poller.parsing import parse_document


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs when many sources connect at once


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    statuses: list[int] = field(default_factory=list)  # consumed one per request, then `status`
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # ETag + Last-Modified, 304 when they match
    last_modified: str = "Tue, 29 Nov 2022 09:00:00 GMT"
    hang: bool = False  # accept, then never answer
    endless: bool = False  # a 200 whose body never ends
    redirect_to: str | None = None
    redirect_status: int = 302
    delay_s: float = 0.0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer:
    """``tls`` = (certificate file, key file) serves HTTPS instead of HTTP; ``host`` is a
    loopback address (127.0.0.2 stands for another machine)."""

    def __init__(self, tls: tuple[str, str] | None = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self.requests: list[tuple[str, dict[str, str]]] = []
        #: (monotonic time, path, User-Agent) per request: who polled what, when.
        self.timeline: list[tuple[float, str, str]] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                server.connections += 1
                super().setup()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                server.timeline.append((time.monotonic(), path, self.headers.get("User-Agent", "")))
                route = server.routes.get(path)
                if route is None:
                    return self._send(404, b"not found", "text/plain")
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.hang:
                    server.stopping.wait(30)
                    return None
                if route.redirect_to is not None:
                    self.send_response(route.redirect_status)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                status = route.statuses.pop(0) if route.statuses else route.status
                if status != 200:
                    return self._send(status, b"error page", "text/html", route.headers)
                if route.endless:
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"<rss><channel>" + b"x" * 65536
                    try:
                        while not server.stopping.is_set():
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    self.close_connection = True
                    return None
                extra = dict(route.headers)
                if route.conditional:
                    extra["ETag"] = route.etag
                    extra["Last-Modified"] = route.last_modified
                    inm = self.headers.get("If-None-Match")
                    ims = self.headers.get("If-Modified-Since")
                    if inm == route.etag or (inm is None and ims == route.last_modified):
                        self.send_response(304)
                        for k, v in extra.items():
                            self.send_header(k, v)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                return self._send(200, route.body, route.content_type, extra)

            def _send(
                self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.host = host
        self.httpd = _Server((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?", 1)[0] == path)

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(items: list[tuple[str, str]], *, title: str = "Test feed", language: str = "en") -> bytes:
    """A small RSS 2.0 feed from (link, title) pairs."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Tue, 29 Nov 2022 09:0{i % 10}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Summary of {t}&lt;/p&gt;</description></item>"
        for i, (link, t) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link><language>{language}</language>{body}</channel></rss>"
    ).encode()


#: Fetch options with short timeouts, so the broken variants fail fast.
FAST = FetchOptions(
    connect_timeout_s=1.0,
    read_timeout_s=0.5,
    total_timeout_s=2.0,
    max_bytes=1_000_000,
    max_redirects=3,
    per_host_concurrency=16,
    politeness_delay_s=0.0,
    retries=1,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    retry_after_max_s=2.0,
    trust_env=False,
)


def crashing_parse(kind: str, doc: Document) -> Parsed:
    """A parser target for the parse-pool tests: a body starting with CRASH kills the worker
    process on the spot (as a segfault in a C parser would); anything else parses as usual."""
    if doc.body.startswith(b"CRASH"):
        os._exit(3)
    return parse_document(kind, doc)
