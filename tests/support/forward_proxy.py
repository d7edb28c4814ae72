"""A forward HTTP proxy on 127.0.0.1 for tests of clients that must go through one (as in an
office network where only the proxy reaches the internet).

It relays plain-HTTP GETs and POSTs sent in absolute form (``GET http://host/path``) and tunnels
HTTPS through ``CONNECT host:port``. Names are resolved by the proxy, not the client: the
names in ``hosts`` (for example ``feeds.tocsin-test.invalid``, which no DNS resolves) lead
to a server on 127.0.0.1. ``relayed`` records each request line, so a test can see what
went through it. Started and stopped by the test that uses it.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, hosts: dict[str, tuple[str, int]] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.relayed: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._relay("GET")

            def do_POST(self) -> None:
                self._relay("POST")

            def _relay(self, method: str) -> None:
                proxy.relayed.append(f"{method} {self.path}")
                sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                if not url.scheme or not url.hostname:
                    self._answer(400, b"a proxy wants the absolute form")
                    return
                host, port = proxy.where(url.hostname, url.port or 80)
                upstream = http.client.HTTPConnection(host, port, timeout=10)
                try:
                    path = url.path + (f"?{url.query}" if url.query else "")
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"
                    }
                    upstream.request(method, path or "/", body=sent or None, headers=headers)
                    answer = upstream.getresponse()
                    body = answer.read()
                except OSError as exc:
                    self._answer(502, f"bad gateway: {exc}".encode())
                    return
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                proxy.relayed.append(f"CONNECT {self.path}")
                name, _, port = self.path.rpartition(":")
                try:
                    upstream = socket.create_connection(proxy.where(name, int(port)), timeout=10)
                except (OSError, ValueError) as exc:
                    self._answer(502, f"bad gateway: {exc}".encode())
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                _pipe(self.connection, upstream)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def where(self, host: str, port: int) -> tuple[str, int]:
        return self.hosts.get(host, (host, port))

    def start(self) -> ForwardProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Relay bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 10)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()
