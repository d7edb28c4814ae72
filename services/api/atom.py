"""Atom 1.0 (RFC 4287) feeds of a subscription's alerts, built with ElementTree: every title,
description and URL is element text or an attribute value, escaped by the serialiser, so
an alert titled ``</title><script>`` stays text. Characters XML 1.0 cannot carry at all
(most C0 controls) are dropped first, so the document always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from services.projections.queries import iso

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Text XML 1.0 can hold: characters it forbids are removed."""
    return _NOT_XML.sub("", text)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = clean(text)
    return el


def _web_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def render_feed(
    *,
    subscription_id: str,
    entries: Sequence[dict[str, Any]],
    base_url: str,
    self_url: str,
    now_ms: int,
) -> bytes:
    """The feed document (UTF-8 bytes). ``entries`` are ``pull.matching_alerts`` rows,
    newest first; each links to the dashboard's alert page under ``base_url``."""
    base = base_url.rstrip("/")
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", f"urn:tocsin:subscription:{subscription_id}")
    _add(feed, "title", f"Tocsin alerts: {subscription_id}")
    updated = max((e["updated_ms"] for e in entries), default=now_ms)
    _add(feed, "updated", iso(updated) or "")
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=f"{base}/ui")
    author = _add(feed, "author")
    _add(author, "name", "Tocsin")
    _add(feed, "generator", "Tocsin")
    for e in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", f"urn:tocsin:alert:{e['alert_id']}")
        _add(entry, "title", e["title"], type="text")
        _add(entry, "published", iso(e["raised_ms"]) or "")
        _add(entry, "updated", iso(e["updated_ms"]) or "")
        _add(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=f"{base}/ui/alerts/{quote(e['alert_id'], safe='')}",
        )
        for art in e["articles"]:
            url = _web_url(art.get("url"))
            if url is not None:
                _add(entry, "link", rel="related", href=url, title=str(art.get("title") or ""))
        _add(entry, "category", term=e["severity"], scheme="urn:tocsin:severity")
        _add(entry, "category", term=e["rule_id"], scheme="urn:tocsin:rule")
        lines = [
            f"{e['severity']} alert from rule {e['rule_id']} (revision {e['revision']},"
            f" status {e['status']}); sources: {', '.join(e['sources'])}",
        ]
        if e["description"]:
            lines.append(e["description"])
        lines.extend(
            f"- {art.get('title') or art.get('article_id')} ({art.get('source_id')})"
            for art in e["articles"]
        )
        _add(entry, "summary", "\n".join(lines), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
