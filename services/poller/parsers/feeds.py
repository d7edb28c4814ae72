"""Feeds: RSS 0.9x/1.0/2.0, Atom, RDF through feedparser; JSON Feed read directly.

feedparser is lenient: it recovers what it can from ill-formed XML and flags it ("bozo").
A document it recovers items from is accepted with a warning; one with no feed in it at
all (an HTML page, a JSON error, noise) raises ``NotAFeed`` / ``ParseError``.
Character sets follow feedparser's rules (BOM, XML declaration, HTTP charset); a feed in a
legacy charset of a non-Latin script that it does not declare, which feedparser reads as
windows-1252, is read again in its own (``charsets``).
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import re
from datetime import datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from services.poller.errors import EmptyDocument, NotAFeed, ParseError
from services.poller.fetch import Document
from services.poller.parsers import Parsed, RawItem, http_url, hub_links, is_web_page
from services.poller.parsers.charsets import (
    as_utf8,
    declared_charset,
    decoded,
    undeclared_charset,
)
from services.poller.parsers.dates import feed_date, text_date
from services.poller.parsers.html import author_names, html_to_text, tidy

_MAX_TEXT = 200_000

# feedparser asks xml.sax for "drv_libxml2" first on every parse; when that module is not
# installed the failed import scans sys.path each time (~1.5 ms a feed). Keep only the
# preferred parsers that exist; expat (the stdlib default) is always tried after them.
feedparser.api.PREFERRED_XML_PARSERS[:] = [
    name for name in feedparser.api.PREFERRED_XML_PARSERS if importlib.util.find_spec(name)
]


def _is_http(url: str | None) -> bool:
    return http_url(url) is not None


def _absolute(link: str | None, base: str | None) -> str | None:
    """An http(s) URL for the item, resolving a relative link against the feed's site."""
    return http_url(link) or (http_url(link, base) if _is_http(base) else None)


def _dated(entry: Any) -> datetime | None:
    """The item's published date, else its updated one. Read as plain dict keys: asked for
    a missing "updated", feedparser hands back "published" with a DeprecationWarning."""
    return feed_date(dict.get(entry, "published"), dict.get(entry, "published_parsed")) or (
        feed_date(dict.get(entry, "updated"), dict.get(entry, "updated_parsed"))
    )


def _text_of(detail: Any, fallback: str | None) -> str:
    value = fallback or ""
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    if kind in ("text/html", "application/xhtml+xml") or "<" in value:
        return html_to_text(value)
    return tidy(value)


#: A numeric character reference (``&#1234;``, ``&#x4D2;``).
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")


def _no_character(ref: re.Match[bytes]) -> bytes:
    """``&#xFFFD;`` for a reference to a surrogate or to no code point at all; else as is."""
    digits = ref.group(1)
    value = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else ref.group(0)


def _feedparser(body: bytes, headers: dict[str, str] | None) -> Any:
    return feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def _parse_leniently(body: bytes, headers: dict[str, str] | None) -> Any:
    """``feedparser.parse``, which is meant never to raise but does on a few inputs
    (feedparser issues 591 and 599, open in 6.0.14): a reference to a surrogate or past
    U+10FFFF raises from its character reference handler; then the document is read again
    with those references as U+FFFD (in UTF-8, which feedparser converts it to first).
    Whatever else it raises is this document's ``ParseError``, not a crash of the poll."""
    try:
        return _feedparser(body, headers)
    except (ValueError, OverflowError):  # UnicodeEncodeError is a ValueError
        pass
    except Exception as exc:
        raise ParseError(f"the feed parser failed on it: {type(exc).__name__}: {exc}") from exc
    try:
        utf8 = convert_to_utf8({k.lower(): v for k, v in (headers or {}).items()}, body, {})
        return _feedparser(
            _CHAR_REF.sub(_no_character, utf8), {"content-type": "application/xml; charset=utf-8"}
        )
    except Exception as exc:
        raise ParseError(f"the feed parser failed on it: {type(exc).__name__}: {exc}") from exc


#: How a document converted to UTF-8 is announced to feedparser
_UTF8 = {"content-type": "application/xml; charset=utf-8"}


def _latin_reading(result: Any) -> bool:
    """Whether feedparser read the document as windows-1252 or another Latin charset (as
    it does, by its last guess, with a Russian feed that declares UTF-8 or nothing)."""
    try:
        name = codecs.lookup(result.get("encoding") or "").name
    except LookupError:
        return False
    return name in ("cp1252", "latin_1", "iso8859_2", "iso8859_15", "ascii")


def parse_feed(doc: Document) -> Parsed:
    body = doc.body
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise EmptyDocument("the response body is empty")
    if stripped[:1] == b"{":
        return parse_json_feed(doc)
    headers = {
        "content-type": doc.content_type + (f"; charset={doc.charset}" if doc.charset else "")
    }
    result = _parse_leniently(body, headers if doc.content_type else None)
    misread = _latin_reading(result) and undeclared_charset(body)
    if misread:
        result = _parse_leniently(as_utf8(body, misread), _UTF8)
    version = result.get("version", "")
    entries = result.get("entries", [])
    problem = result.get("bozo_exception")
    if not entries and not version:
        if is_web_page(doc.content_type, doc.body):
            raise NotAFeed(
                f"an HTML page where a feed was expected (content-type {doc.content_type or 'not given'})"
            )
        detail = f": {type(problem).__name__}: {problem}" if problem else ""
        raise NotAFeed(f"no RSS, Atom or RDF feed found in the document{detail}")
    feed = result.get("feed", {})
    base = feed.get("link") if _is_http(feed.get("link")) else doc.url
    parsed = Parsed(language=feed.get("language") or None)
    links = feed.get("links")
    parsed.hubs, parsed.self_url = hub_links(
        ((link.get("rel"), link.get("href")) for link in links if isinstance(link, dict))
        if isinstance(links, list)
        else (),
        doc.url,
    )
    if misread:
        declared = declared_charset(body, doc.charset)
        parsed.warnings.append(
            f"the feed is written in {misread} but declares"
            f" {declared or 'no charset (UTF-8 by default)'}: read as {misread}"
        )
    if result.get("bozo") and problem is not None:
        parsed.warnings.append(
            f"ill-formed feed, read leniently ({type(problem).__name__}: {str(problem)[:200]})"
        )
    for entry in entries:
        url = _absolute(entry.get("link"), base)
        guid = (entry.get("id") or "").strip() or None
        if url is None and guid and _is_http(guid):
            url = guid
        if url is None and guid is None:
            parsed.skipped += 1
            continue
        content = " ".join(
            c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict)
        )
        summary = _text_of(entry.get("summary_detail"), entry.get("summary"))
        text = html_to_text(content)[:_MAX_TEXT] if content else summary
        authors = author_names(
            a.get("name") for a in entry.get("authors", []) if isinstance(a, dict)
        ) or author_names([entry.get("author")])
        parsed.items.append(
            RawItem(
                url=url,
                guid=guid,
                title=_text_of(entry.get("title_detail"), entry.get("title"))[:2000],
                summary=summary[:20_000],
                text=text,
                authors=authors,
                published=_dated(entry),
                language=entry.get("language") or None,
            )
        )
    return parsed


def parse_json_feed(doc: Document) -> Parsed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    text, problem = decoded(doc.body, doc.charset)
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise NotAFeed("JSON, but not a JSON Feed (no jsonfeed.org version)")
    home = _string(data, "home_page_url")
    base = home if _is_http(home) else doc.url
    parsed = Parsed(language=_string(data, "language"))
    hubs = data.get("hubs")
    if isinstance(hubs, list):  # JSON Feed 1.1: [{"type": "WebSub", "url": ...}]
        parsed.hubs = [
            url
            for hub in hubs
            if isinstance(hub, dict)
            and str(hub.get("type", "")).lower() == "websub"
            and (url := http_url(_string(hub, "url"), doc.url))
        ]
    parsed.self_url = http_url(_string(data, "feed_url"), doc.url)
    if problem:
        parsed.warnings.append(problem)
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("a JSON Feed without an items list")
    for item in items:
        if not isinstance(item, dict):
            parsed.skipped += 1
            continue
        url = _absolute(_string(item, "url"), base)
        ident = item.get("id")
        guid = str(ident).strip() or None if isinstance(ident, str | int | float) else None
        if url is None and guid is None:
            parsed.skipped += 1
            continue
        html, plain = _string(item, "content_html"), _string(item, "content_text")
        text = html_to_text(html) if html else tidy(plain or "")
        raw_authors = item.get("authors")
        if not isinstance(raw_authors, list):
            raw_authors = [item.get("author")]
        authors = author_names(a.get("name") for a in raw_authors if isinstance(a, dict))
        parsed.items.append(
            RawItem(
                url=url,
                guid=guid[:2000] if guid else None,
                title=html_to_text(_string(item, "title") or "")[:2000],
                summary=html_to_text(_string(item, "summary") or "")[:20_000],
                text=text[:_MAX_TEXT],
                authors=authors,
                published=text_date(item.get("date_published") or item.get("date_modified")),
                language=_string(item, "language"),
            )
        )
    return parsed


def _string(mapping: dict[str, Any], key: str) -> str | None:
    """A JSON Feed field that must be a string: anything else (a number, a list, an object,
    which publishers do send) counts as absent, not as the end of the whole feed."""
    value = mapping.get(key)
    return value if isinstance(value, str) else None
