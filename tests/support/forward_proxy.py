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
import socketserver
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


class Socks5Proxy:
    """A SOCKS5 proxy on 127.0.0.1 (RFC 1928: no authentication, CONNECT only), resolving
    names as ``ForwardProxy`` does (``hosts``). ``connected`` records each target asked."""

    def __init__(self, hosts: dict[str, tuple[str, int]] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.connected: list[str] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                version, methods = _read(sock, 2)
                _read(sock, methods)
                if version != 5:
                    return
                sock.sendall(b"\x05\x00")  # no authentication
                _, command, _, kind = _read(sock, 4)
                if kind == 1:
                    host = socket.inet_ntoa(_read(sock, 4))
                elif kind == 3:
                    host = _read(sock, _read(sock, 1)[0]).decode("idna")
                else:
                    host = socket.inet_ntop(socket.AF_INET6, _read(sock, 16))
                port = int.from_bytes(_read(sock, 2), "big")
                proxy.connected.append(f"{host}:{port}")
                try:
                    if command != 1:
                        raise OSError("only CONNECT")
                    upstream = socket.create_connection(proxy.hosts.get(host, (host, port)), 10)
                except OSError:
                    sock.sendall(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
                    return
                sock.sendall(b"\x05\x00\x00\x01" + bytes(6))
                _pipe(sock, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"socks5://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Socks5Proxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data
