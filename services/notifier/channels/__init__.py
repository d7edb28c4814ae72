"""Channels: small plug-ins behind one interface (``base.Channel``), chosen by ``kind``.

The table below is the whole registry: a kind -> a factory taking the subscription's
channel settings and its timeout. Pull channels (``atom``, ``sse``) have no sender: the API
serves them from the log (see services/notifier/__init__.py).
"""

from __future__ import annotations

from services.alerting.subscriptions import (
    EmailChannel,
    SlackChannel,
    Subscription,
    WebhookChannel,
)
from services.notifier.channels.base import Channel, DeliveryError, Outgoing

__all__ = ["Channel", "DeliveryError", "Outgoing", "build_channel"]


def build_channel(sub: Subscription) -> Channel:
    """The sender for a pushed subscription's channel."""
    config = sub.channel
    timeout = sub.delivery.timeout_s
    if isinstance(config, WebhookChannel):
        from services.notifier.channels.webhook import WebhookSender

        return WebhookSender(config, timeout)
    if isinstance(config, SlackChannel):
        from services.notifier.channels.slack import SlackSender

        return SlackSender(config, timeout)
    if isinstance(config, EmailChannel):
        from services.notifier.channels.smtp import EmailSender

        return EmailSender(config, timeout)
    raise ValueError(f"subscription {sub.id}: channel {config.kind!r} is pulled, not sent")
