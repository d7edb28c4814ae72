"""Real receivers on 127.0.0.1 for the notifier tests, and alert factories.

``Receiver`` is a threaded HTTP server that records every request (headers, body, whether the
signature verified) and answers from a script: a list of behaviours consumed one per request
("ok", a status code such as 500 or 429, a (status, JSON answer) pair, "hang", "kill"), then
"ok" for the rest.
"""

from __future__ import annotations

import email
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from schemas import AlertArticle, AlertRaised, Evidence, Severity, new_event
from schemas.ids import alert_id
from services.notifier.channels.webhook import verify_signature

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def alert(
    n: int = 0,
    *,
    rule: str = "border-shelling",
    severity: Severity = Severity.HIGH,
    revision: int = 0,
    title: str | None = None,
    snippet: str = "shelling near the border village of Tegh",
    labels: dict[str, str] | None = None,
    condition: str = "entity country:AM|country:AZ",
) -> AlertRaised:
    art = f"art_{n:032x}"
    return AlertRaised(
        alert_id=alert_id(rule, "r1", art),
        rule_id=rule,
        rule_version="r1",
        ruleset_version="rs1",
        severity=severity,
        labels=labels or {"region": "caucasus"},
        title=title or f"Shelling reported near the border #{n}",
        description="Two sources report shelling",
        key=art,
        articles=(
            AlertArticle(
                article_id=art,
                url=f"https://news.example.org/a/{n}",
                title=f"Article {n}",
                source_id="example",
                published_at=T0,
            ),
        ),
        evidence=(
            Evidence(
                article_id=art,
                condition=condition,
                surface="shelling",
                snippet=snippet,
                start=0,
                end=8,
                sentence=0,
            ),
        ),
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=revision),
        source_count=1 + revision,
        revision=revision,
    )


def raised_event(a: AlertRaised):  # type: ignore[no-untyped-def]
    ident = a.alert_id if a.revision == 0 else f"{a.alert_id}-r{a.revision}"
    return new_event(a, id=ident, source="/tocsin/rules", subject=a.alert_id, time=T0)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    script: list[Any] = field(default_factory=list)
    kill_pid: int | None = None
    received: list[Received] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)
    processed: int = 0  # requests with a new idempotency key (what a careful receiver acts on)
    flood_cut: int = 0  # endless answers the client hung up on

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        signed = self.secret is not None and verify_signature(
            self.secret, headers.get("tocsin-signature"), body
        )
        with self.lock:
            self.received.append(Received(handler.path, headers, body, signed))
            action = self.script.pop(0) if self.script else "ok"
            key = headers.get("idempotency-key", "")
            if action in ("ok", "kill") and key not in self.seen_keys:
                self.seen_keys.add(key)
                self.processed += 1
        if action == "kill" and self.kill_pid is not None:
            os.kill(self.kill_pid, signal.SIGKILL)
            self.release.wait(5)
            return
        if action == "hang":
            self.release.wait(30)
            return
        if action == "flood":  # 200, then a body that never ends (until the client leaves)
            handler.send_response(200)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b"x" * 65536
            try:
                while not self.release.is_set():
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                self.flood_cut += 1
            handler.close_connection = True
            return
        if isinstance(action, tuple):  # (status, a JSON answer), as an API answers
            status, answer = action
            out = json.dumps(answer).encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(out)))
            handler.end_headers()
            handler.wfile.write(out)
            return
        if isinstance(action, int):
            out = b"busy"
            handler.send_response(action)
            if action in (429, 503):
                handler.send_header("Retry-After", "1")
            handler.send_header("Content-Length", str(len(out)))
            handler.end_headers()
            handler.wfile.write(out)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """An aiosmtpd handler that keeps what a real SMTP server on 127.0.0.1 received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
