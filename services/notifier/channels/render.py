"""What a message says, shared by the channels: a JSON document, plain text and HTML.

Article titles, snippets and descriptions are untrusted: the HTML escapes every value
(``html.escape``), Slack text escapes ``& < >`` as Slack asks, Mattermost text escapes
Markdown and breaks ``@`` mentions as well, Telegram's HTML escapes ``& < >`` (and quotes in
links), and nothing is ever interpreted as markup or a template.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
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
    "mattermost_escape",
    "mattermost_plain",
    "slack_escape",
    "subject",
    "telegram_html",
    "utc_minute",
]

SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.LOW: "#2eb886",
    Severity.MEDIUM: "#daa038",
    Severity.HIGH: "#e8590c",
    Severity.CRITICAL: "#d00000",
}


def utc_minute(moment: datetime) -> str:
    """A publication time as every channel shows it ("2026-11-27 15:30 UTC"): an alert
    about a days-old article (a new source's backlog, a feed read after a gap) must not
    read as news of the moment."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


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
            lines.append(
                f"  - {art.title} ({art.source_id}, {utc_minute(art.published_at)}) {art.url or ''}".rstrip()
            )
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
            where = f"({e(art.source_id)}, {utc_minute(art.published_at)})"
            if art.url and art.url.startswith(("http://", "https://")):
                parts.append(f'<li><a href="{e(art.url)}">{label}</a> {where}</li>')
            else:
                parts.append(f"<li>{label} {where}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def slack_escape(text: str) -> str:
    """Slack's control characters, so untrusted text cannot mention (``<!channel>``) or link
    (``<https://...|text>``). Mattermost reads them too, as Slack does."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: What CommonMark may read as markup: it lets a backslash escape any ASCII punctuation
#: character. ``& < >`` are left to ``slack_escape`` (entities, which Markdown decodes), and
#: ``@`` to ``_MENTION``.
_MARKDOWN = re.compile(r"([!\"#$%'()*+,\-./:;=?\[\\\]^_`{|}~])")
#: Mattermost's mentions: ``@`` starts one (``@channel``, ``@all``, ``@here``, a user, a
#: group). A word joiner after it (invisible, not a letter) ends the word for Mattermost's
#: mention parser, which a backslash would not: it reads the text that Markdown unescapes.
_MENTION = "@\u2060"


def mattermost_escape(text: str) -> str:
    """Untrusted text for a Mattermost attachment's ``title``, ``text`` or field: read
    literally, not as Markdown (``[link](...)``, ``![image](...)`` that the client loads,
    ``**emphasis**``, headings, tables), and without any ``@`` mention notifying anyone.

    Why Mattermost apart: its attachment ``text`` and field values are Markdown and carry
    mentions (Slack's attachments are plain text unless ``mrkdwn_in`` says otherwise)."""
    return mattermost_plain(_MARKDOWN.sub(r"\\\1", text))


def mattermost_plain(text: str) -> str:
    """Untrusted text for a Mattermost field shown as plain text (``fallback``, in
    notifications): Slack's controls escaped and mentions broken, no backslashes."""
    return slack_escape(text).replace("@", _MENTION)


#: Telegram's limit on a message's text, in UTF-16 code units; the HTML is kept within it,
#: so the text it shows is too
TELEGRAM_LIMIT = 4096
_TELEGRAM_CUT = 80  # room for the line that says what was left out


def telegram_html(message: Outgoing) -> str:
    """The message in the HTML that Telegram's Bot API reads (``parse_mode: HTML``): every
    line a whole fragment (its tags closed on it), so that a message cut to Telegram's
    length at a line stays valid; untrusted text cut to a sensible length first."""
    lines = [f"<b>{len(message.alerts)} alerts</b>"] if message.digest else []
    room = TELEGRAM_LIMIT - _TELEGRAM_CUT - _utf16(lines)
    for number, alert in enumerate(message.alerts):
        block = _telegram_alert(message, alert)
        if lines:
            block = ["", *block]
        fits = _fitting(block, room)
        lines += fits
        room -= _utf16(fits)
        if len(fits) < len(block):
            started = any(fits)  # this alert's first line is in
            left = len(message.alerts) - number - started
            more = f"; {left} more alert(s) not shown" if left else ""
            lines.append(f"<i>… cut to Telegram's length{more}</i>")
            break
    return "\n".join(lines)


def _fitting(block: list[str], room: int) -> list[str]:
    """The first lines of ``block`` that fit in ``room`` (with their line breaks)."""
    out: list[str] = []
    for line in block:
        room -= _utf16([line])
        if room < 0:
            break
        out.append(line)
    return out


def _utf16(lines: list[str]) -> int:
    """Telegram's length of the lines, each with its line break."""
    return sum(len(line.encode("utf-16-le")) // 2 + 1 for line in lines)


def _telegram_alert(message: Outgoing, alert: AlertRaised) -> list[str]:
    def e(text: str, limit: int) -> str:
        return html.escape(_one_line(text)[:limit], quote=False)

    lines = [f"<b>[{alert.severity.value.upper()}] {e(alert.title, 300)}</b>"]
    if alert.description:
        lines.append(e(alert.description, 500))
    for ev in alert.evidence[:5]:
        snippet = e(ev.snippet.strip().strip("…"), 300)  # a cut title ends with one already
        lines.append(f"• <b>{e(ev.surface, 100)}</b>: …{snippet}…")
    for art in alert.articles[:5]:
        label = e(art.title or art.article_id, 200)
        where = f"{e(art.source_id, 100)} · {utc_minute(art.published_at)}"
        if art.url and art.url.startswith(("http://", "https://")):
            lines.append(f'<a href="{html.escape(art.url, quote=True)}">{label}</a> · {where}')
        else:
            lines.append(f"{label} · {where}")
    lines.append(
        f"<i>rule {e(alert.rule_id, 200)} · {alert.source_count} source(s) · "
        f"revision {alert.revision}</i>"
    )
    own = alert_link(message, alert)
    if own:
        lines.append(f'<a href="{html.escape(own, quote=True)}">Open in Tocsin</a>')
    return lines
