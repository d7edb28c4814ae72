"""What a message says, shared by the channels: a JSON document, plain text and HTML.

Article titles, snippets and descriptions are untrusted: the HTML escapes every value
(``html.escape``), Slack text escapes ``& < >`` as Slack asks, and nothing is ever
interpreted as markup or a template.
"""

from __future__ import annotations

import html
from typing import Any

from schemas import AlertRaised, Severity
from services.notifier.channels.base import Outgoing

__all__ = [
    "SEVERITY_COLOURS",
    "alert_document",
    "alert_link",
    "as_html",
    "as_text",
    "document",
    "slack_escape",
    "subject",
]

SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.LOW: "#2eb886",
    Severity.MEDIUM: "#daa038",
    Severity.HIGH: "#e8590c",
    Severity.CRITICAL: "#d00000",
}


def alert_link(message: Outgoing, alert: AlertRaised) -> str | None:
    return message.alert_url.replace("{alert_id}", alert.alert_id) if message.alert_url else None


def alert_document(message: Outgoing, alert: AlertRaised) -> dict[str, Any]:
    """The alert as the webhook body carries it: the alert, its evidence, and links."""
    doc = alert.model_dump(mode="json")
    links = {"articles": [a.url for a in alert.articles if a.url]}
    own = alert_link(message, alert)
    if own:
        links["alert"] = own  # type: ignore[assignment]
    doc["links"] = links
    return doc


def document(message: Outgoing) -> dict[str, Any]:
    return {
        "type": "tocsin.digest" if message.digest else "tocsin.alert",
        "idempotency_key": message.idempotency_key,
        "subscription_id": message.subscription.id,
        "alerts": [alert_document(message, a) for a in message.alerts],
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject(message: Outgoing) -> str:
    prefix = getattr(message.subscription.channel, "subject_prefix", "[tocsin]")
    if message.digest:
        return _one_line(f"{prefix} {len(message.alerts)} alerts")
    alert = message.alerts[0]
    return _one_line(f"{prefix} [{alert.severity.value}] {alert.title}")[:250]


def as_text(message: Outgoing) -> str:
    lines: list[str] = []
    if message.digest:
        lines += [f"{len(message.alerts)} alerts", ""]
    for alert in message.alerts:
        lines.append(f"[{alert.severity.value.upper()}] {alert.title}")
        if alert.description:
            lines.append(alert.description)
        lines.append(
            f"rule {alert.rule_id} - {alert.source_count} source(s) - revision {alert.revision}"
        )
        own = alert_link(message, alert)
        if own:
            lines.append(own)
        for ev in alert.evidence:
            lines.append(f"  * {ev.surface}: ...{_one_line(ev.snippet)}...")
        for art in alert.articles:
            lines.append(f"  - {art.title} ({art.source_id}) {art.url or ''}".rstrip())
        lines.append("")
    return "\n".join(lines)


def as_html(message: Outgoing) -> str:
    e = html.escape
    parts = ["<!doctype html><html><body>"]
    if message.digest:
        parts.append(f"<h1>{len(message.alerts)} alerts</h1>")
    for alert in message.alerts:
        colour = SEVERITY_COLOURS[alert.severity]
        parts.append(
            f'<h2><span style="color:{colour}">[{e(alert.severity.value.upper())}]</span> '
            f"{e(alert.title)}</h2>"
        )
        if alert.description:
            parts.append(f"<p>{e(alert.description)}</p>")
        parts.append(
            f"<p>rule {e(alert.rule_id)} &middot; {alert.source_count} source(s) &middot; "
            f"revision {alert.revision}</p>"
        )
        own = alert_link(message, alert)
        if own:
            parts.append(f'<p><a href="{e(own)}">open in Tocsin</a></p>')
        if alert.evidence:
            parts.append("<ul>")
            for ev in alert.evidence:
                parts.append(f"<li><b>{e(ev.surface)}</b>: &hellip;{e(ev.snippet)}&hellip;</li>")
            parts.append("</ul>")
        parts.append("<ul>")
        for art in alert.articles:
            label = e(art.title or art.article_id)
            if art.url and art.url.startswith(("http://", "https://")):
                parts.append(f'<li><a href="{e(art.url)}">{label}</a> ({e(art.source_id)})</li>')
            else:
                parts.append(f"<li>{label} ({e(art.source_id)})</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def slack_escape(text: str) -> str:
    """Slack's and Mattermost's control characters, so untrusted text cannot mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
