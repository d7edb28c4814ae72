"""Email through a real SMTP server (aiosmtpd on 127.0.0.1): content, escaping, login, digests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from notifier_support import T0, Inbox, alert, free_port
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from services.eventlog import EventLog
from services.runtime.clock import FakeClock

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"pw-123")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_auth,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def email_sub(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "mail-desk",
        "channel": {
            "kind": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": "desk",
            "password": "pw-123",
            "from": "tocsin@example.org",
            "to": ["desk@example.org", "duty@example.org"],
        },
        "delivery": {"timeout_s": 5, "max_attempts": 2, "backoff_initial_s": 0.05},
        **extra,
    }


HOSTILE_TITLE = '<script>alert("x")</script> & shelling'
HOSTILE_SNIPPET = '<img src=x onerror=alert(1)> "quoted" & more'


def test_one_email_per_alert_with_escaped_html(elog: EventLog, log_url: str, smtp) -> None:
    inbox, port = smtp
    a = alert(1, title=HOSTILE_TITLE, snippet=HOSTILE_SNIPPET)
    append_alerts(elog, [a])
    with running(elog, settings(log_url, [email_sub(port)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert inbox.envelopes[0] == ("tocsin@example.org", ["desk@example.org", "duty@example.org"])
    assert msg["Subject"] == f"[tocsin] [high] {HOSTILE_TITLE}"
    assert msg["Message-ID"] == f"<{outcomes(elog)[0].delivery_id}@tocsin.invalid>"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert HOSTILE_TITLE in text and HOSTILE_SNIPPET in text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; shelling" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; more" in html
    assert 'href="https://news.example.org/a/1"' in html
    assert outcomes(elog)[0].channel == "email"


def test_a_digest_is_one_email(elog: EventLog, log_url: str, smtp) -> None:
    inbox, port = smtp
    clock = FakeClock(T0)
    append_alerts(elog, [alert(i) for i in range(3)])
    cfg = settings(log_url, [email_sub(port, mode={"every_minutes": 15})])
    with running(elog, cfg, clock=clock) as service:
        wait_for(
            lambda: (
                sum(len(h.intents) for w in service.workers.values() for h in w.held.values()) == 3
            )
        )
        assert inbox.messages == []
        clock.advance(15 * 60)
        wait_for(lambda: len(outcomes(elog)) == 3)
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "[tocsin] 3 alerts"
    assert all(o.digest for o in outcomes(elog))


def test_a_wrong_password_fails_without_retry_or_leak(elog: EventLog, log_url: str, smtp) -> None:
    inbox, port = smtp
    sub = email_sub(port)
    sub["channel"]["password"] = "wrong-password-xyz"
    append_alerts(elog, [alert(1)])
    with running(elog, settings(log_url, [sub])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    failed = outcomes(elog)[0]
    assert failed.attempts == 1 and "login refused" in failed.error  # type: ignore[union-attr]
    assert "wrong-password-xyz" not in failed.model_dump_json()
    assert inbox.messages == []
