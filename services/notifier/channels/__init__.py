"""Channels: small plug-ins behind one interface (``base.Channel``), chosen by ``kind``.

The table below is the whole registry: a kind -> a factory taking the subscription's
channel settings and its timeout. Pull channels (``atom``, ``sse``) have no sender: the API
serves them from the log (see services/notifier/__init__.py). A subscription defined
through the API gets its channel wrapped in a ``guard.GuardedChannel`` (no internal hosts),
and a sender whose connections are checked on the socket (``runtime.egress``).
"""

from __future__ import annotations

from services.alerting.subscriptions import (
    EmailChannel,
    SlackChannel,
    Subscription,
    TelegramChannel,
    WebhookChannel,
)
from services.notifier.channels.base import Channel, DeliveryError, Outgoing
from services.notifier.channels.guard import PUBLIC_ONLY, THROUGH_THE_API, GuardedChannel
from services.runtime.addresses import InternalHosts

__all__ = ["PUBLIC_ONLY", "Channel", "DeliveryError", "Outgoing", "build_channel"]


def build_channel(
    sub: Subscription, hosts: InternalHosts | None = None, because: str = THROUGH_THE_API
) -> Channel:
    """The sender for a pushed subscription's channel; with ``hosts``, one that refuses to
    send to an internal host (``guard``), saying ``because``."""
    if hosts is None:
        return _sender(sub, checked=False)
    return GuardedChannel(_sender(sub, checked=True), sub.channel, hosts, because)


def _sender(sub: Subscription, checked: bool) -> Channel:
    config = sub.channel
    timeout = sub.delivery.timeout_s
    if isinstance(config, WebhookChannel):
        from services.notifier.channels.webhook import WebhookSender

        return WebhookSender(config, timeout, checked)
    if isinstance(config, SlackChannel):
        from services.notifier.channels.slack import SlackSender

        return SlackSender(config, timeout, checked)
    if isinstance(config, TelegramChannel):
        from services.notifier.channels.telegram import TelegramSender

        return TelegramSender(config, timeout, checked)
    if isinstance(config, EmailChannel):
        from services.notifier.channels.smtp import EmailSender

        return EmailSender(config, timeout, checked)
    raise ValueError(f"subscription {sub.id}: channel {config.kind!r} is pulled, not sent")
