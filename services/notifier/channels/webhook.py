"""The webhook channel: a signed JSON POST.

Headers (as Stripe and GitHub do it):

- ``Tocsin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; the
  receiver recomputes it over the raw body, compares in constant time and refuses stale
  timestamps (``verify_signature``), so a captured request cannot be replayed later;
- ``Idempotency-Key: <delivery id or digest key>``: the same alert to the same subscription
  always carries the same key, so a receiver drops a redelivery.

The secret is a ``SecretStr``; it is read only to sign, never logged nor put in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from services.alerting.subscriptions import WebhookChannel
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import client, post
from services.notifier.channels.render import document

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "sign", "verify_signature"]

SIGNATURE_HEADER = "Tocsin-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """A receiver's check: the header parses, the timestamp is fresh, one v1 matches."""
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


class WebhookSender:
    kind = "webhook"

    def __init__(self, config: WebhookChannel, timeout_s: float, checked: bool = False) -> None:
        self.config = config
        self.client = client(timeout_s, checked)

    def send(self, message: Outgoing) -> int | None:
        body = json.dumps(document(message), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            **self.config.headers,
            "Content-Type": "application/json",
            "User-Agent": "tocsin-notifier",
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(
                self.config.secret.get_secret_value(), int(time.time()), body
            )
        return post(self.client, self.config.url, body, headers, "webhook")

    def close(self) -> None:
        self.client.close()
