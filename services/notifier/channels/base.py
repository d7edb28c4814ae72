"""The one interface every channel implements, and its error.

A channel turns an ``Outgoing`` message (one alert, or a digest of several) into one
request to the outside world. It does not retry: the delivery worker does (backoff, jitter,
Retry-After, max attempts), using the ``DeliveryError`` a channel raises to decide:
``retryable`` (a timeout, a 5xx, a 429, a dropped SMTP connection) or not (a 4xx, a
refused recipient), and ``retry_after`` when the receiver said when to come back.

Every channel sends ``Outgoing.idempotency_key`` (the delivery id, or the digest key) so a
receiver can drop a message it has already processed: that closes the window between a
receiver's answer and the notifier recording the outcome (see services/notifier/runner.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas import AlertRaised
from services.alerting.subscriptions import Subscription

__all__ = ["Channel", "DeliveryError", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What to send: one alert (``digest`` False) or several as one message."""

    subscription: Subscription
    alerts: tuple[AlertRaised, ...]
    digest: bool
    idempotency_key: str
    alert_url: str = ""
    """A template for the alert's link in Tocsin's UI, with ``{alert_id}``; empty for none."""


class DeliveryError(Exception):
    """A send that did not succeed. The message never contains a secret."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code


class Channel(Protocol):
    kind: str

    def send(self, message: Outgoing) -> int | None:
        """Send once; return the receiver's status code (None where there is none).
        Raises ``DeliveryError``."""

    def close(self) -> None:
        """Release connections."""
