"""Parsers, one per source kind: bytes of a fetched document -> raw items.

A parser knows nothing of events, ids or the log: it returns ``RawItem`` values (what the
document says, HTML already reduced to text) and ``core`` turns them into events. A parser
raises ``ParseError`` (or a subclass) when the document is not of its kind at all; a
document it can partly read yields what it could, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit


@dataclass(frozen=True, slots=True)
class RawItem:
    url: str | None
    guid: str | None
    title: str = ""
    summary: str = ""
    text: str = ""
    authors: tuple[str, ...] = ()
    #: aware; or naive, the wall time as written, when the source names no zone (read in
    #: the source's ``timezone``: ``dates.in_zone``)
    published: datetime | None = None
    language: str | None = None


def is_web_page(content_type: str, body: bytes) -> bool:
    """Whether a document is an HTML page: by its declared type, else by its first bytes."""
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    low = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:2048].lower()
    return b"<html" in low or b"<!doctype html" in low or b"<body" in low


def http_url(link: str | None, base: str | None = None) -> str | None:
    """``link`` (resolved against ``base`` when given) if it is an http(s) URL that parses
    whole, host and port included, else None. A publisher's malformed link
    (``http://[::1``, ``https://a.example:99999/``) is one item's missing URL: ``urlsplit``
    raised out of the parser, and the whole feed failed on every poll."""
    if not link or not isinstance(link, str):
        return None
    try:
        url = urljoin(base, link.strip()) if base else link.strip()
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


@dataclass(slots=True)
class Parsed:
    items: list[RawItem] = field(default_factory=list)
    language: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    #: the page of earlier items, when the document links one (a Telegram preview's)
    earlier: str | None = None
    #: the WebSub hubs a feed names, and its own URL (``websub``: discovery)
    hubs: list[str] = field(default_factory=list)
    self_url: str | None = None


def hub_links(links: Iterable[tuple[object, object]], base: str) -> tuple[list[str], str | None]:
    """A feed's WebSub hubs and its own URL from its (rel, href) links, resolved against
    ``base``: every hub once, in order, and the first ``self``."""
    hubs: list[str] = []
    self_url: str | None = None
    for rel, href in links:
        url = http_url(href if isinstance(href, str) else None, base)
        if url is None:
            continue
        if rel == "hub" and url not in hubs:
            hubs.append(url)
        elif rel == "self" and self_url is None:
            self_url = url
    return hubs, self_url
