"""Slack- and Mattermost-compatible incoming webhooks: one attachment per alert, coloured
by severity, with the evidence as fields. Both accept this payload shape; they differ in
how they read its text (``render.slack_escape``, ``render.mattermost_escape``)."""

from __future__ import annotations

import json
from typing import Any

from services.alerting.subscriptions import SlackChannel
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import client, post
from services.notifier.channels.render import (
    SEVERITY_COLOURS,
    alert_link,
    mattermost_escape,
    mattermost_plain,
    slack_escape,
    utc_minute,
)

__all__ = ["SlackSender", "payload"]

_MAX_ATTACHMENTS = 20  # Slack's limit is higher, but a digest beyond this is unreadable


def payload(message: Outgoing, config: SlackChannel) -> dict[str, Any]:
    # ``fallback`` is plain text everywhere (notifications): only Slack's controls and, on
    # Mattermost, mentions are taken out of it.
    escape = mattermost_escape if config.kind == "mattermost" else slack_escape
    plain = mattermost_plain if config.kind == "mattermost" else slack_escape
    attachments = []
    for alert in message.alerts[:_MAX_ATTACHMENTS]:
        fields = [
            {"title": escape(ev.surface), "value": escape(ev.snippet), "short": False}
            for ev in alert.evidence[:10]
        ]
        articles = [a for a in alert.articles if (a.url or "").startswith(("http://", "https://"))]
        attachment: dict[str, Any] = {
            "fallback": plain(f"[{alert.severity.value}] {alert.title}"),
            "color": SEVERITY_COLOURS[alert.severity],
            "title": escape(f"[{alert.severity.value.upper()}] {alert.title}"),
            "text": escape(alert.description),
            "fields": fields,
            "footer": escape(
                f"rule {alert.rule_id} · {alert.source_count} source(s) · "
                f"published {utc_minute(alert.last_seen)}"
            ),
        }
        link = alert_link(message, alert) or (articles[0].url if articles else None)
        if link:
            attachment["title_link"] = link
        attachments.append(attachment)
    more = len(message.alerts) - _MAX_ATTACHMENTS
    text = f"{len(message.alerts)} alerts" if message.digest else ""
    if more > 0:
        text += f" ({more} more not shown)"
    body: dict[str, Any] = {"text": text, "attachments": attachments}
    if config.username:
        body["username"] = config.username
    if config.channel:
        body["channel"] = config.channel
    return body


class SlackSender:
    kind = "slack"

    def __init__(self, config: SlackChannel, timeout_s: float, checked: bool = False) -> None:
        self.config = config
        self.kind = config.kind
        self.client = client(timeout_s, checked)

    def send(self, message: Outgoing) -> int | None:
        body = json.dumps(payload(message, self.config), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tocsin-notifier",
            "Idempotency-Key": message.idempotency_key,
        }
        return post(self.client, self.config.url, body, headers, self.config.kind)

    def close(self) -> None:
        self.client.close()
