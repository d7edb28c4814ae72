"""A real WebSub hub on 127.0.0.1 for the poller's tests (W3C WebSub, sections 5 to 7).

It takes subscription requests (a form POST), verifies the subscriber's intent as a hub must
(a GET to the callback with a challenge, which must come back as the body), keeps the
verified subscriptions, and distributes content to them, signed with their secrets. Knobs:
the lease it grants, a denial, a status to answer requests with. Started and stopped by
the test that uses it."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import httpx

from services.poller.websub import sign


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str
    lease_s: int
    verified_at: float


class WebSubHub:
    def __init__(self) -> None:
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}
        #: every subscription request's form, in order
        self.requests: list[dict[str, str]] = []
        #: (callback, status code, whether the challenge came back) per verification
        self.verifications: list[tuple[str, int, bool]] = []
        #: when each verification that succeeded ended (monotonic)
        self.verified_at: list[float] = []
        self.grant_lease_s: int | None = None
        self.deny_reason: str | None = None
        self.answer_status = 202
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with hub.lock:
                    hub.requests.append(form)
                status = hub.answer_status
                body = b"" if status < 400 else b"the hub refuses"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if status < 300:  # verified after the answer, as hubs usually do
                    threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> WebSubHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _verify(self, form: dict[str, str]) -> None:
        callback, topic = form["hub.callback"], form["hub.topic"]
        sep = "&" if "?" in callback else "?"
        if self.deny_reason is not None:
            query = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": self.deny_reason}
            httpx.get(callback + sep + urlencode(query), timeout=5)
            return
        challenge = secrets.token_urlsafe(16)
        lease = self.grant_lease_s or int(form.get("hub.lease_seconds") or 86400)
        query = {
            "hub.mode": form["hub.mode"],
            "hub.topic": topic,
            "hub.challenge": challenge,
            "hub.lease_seconds": str(lease),
        }
        try:
            answer = httpx.get(callback + sep + urlencode(query), timeout=5)
        except httpx.HTTPError:
            with self.lock:
                self.verifications.append((callback, 0, False))
            return
        echoed = answer.status_code == 200 and answer.text == challenge
        with self.lock:
            self.verifications.append((callback, answer.status_code, echoed))
            if echoed:
                self.verified_at.append(time.monotonic())
                self.subscriptions[(callback, topic)] = HubSubscription(
                    callback, topic, form.get("hub.secret", ""), lease, time.monotonic()
                )

    def verify_as_hub(self, callback: str, mode: str, topic: str) -> httpx.Response:
        """A verification of intent nobody asked for (a forger's, or a stale hub's)."""
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "c" * 20}
        return httpx.get(f"{callback}?{urlencode(query)}", timeout=5)

    def wait_verified(self, count: int = 1, timeout: float = 15.0) -> list[HubSubscription]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.subscriptions) >= count:
                    return list(self.subscriptions.values())
            time.sleep(0.02)
        raise AssertionError(
            f"{len(self.subscriptions)} verified subscriptions after {timeout} s "
            f"(requests {self.requests}, verifications {self.verifications})"
        )

    def publish(
        self, topic: str, body: bytes, content_type: str = "application/rss+xml"
    ) -> list[int]:
        """Distributes ``body`` to the topic's subscribers, signed; their status codes."""
        with self.lock:
            targets = [s for s in self.subscriptions.values() if s.topic == topic]
        return [
            httpx.post(
                s.callback,
                content=body,
                headers={"Content-Type": content_type, "X-Hub-Signature": sign(s.secret, body)},
                timeout=5,
            ).status_code
            for s in targets
        ]
