"""The feeds a web page advertises (``<link rel="alternate" type="application/rss+xml">``).

Why: a feed source is often given as the site's address (copied from the browser, or from an
OPML export that kept the site's URL), and feeds move while sites stay. Feed readers find
the feed a page advertises; so does the poller, when a ``kind: feed`` source answers with an
HTML page, and it tells the operator which feed it read.

Which one: a page may advertise several. Comments feeds are left out (a WordPress article
page advertises its own, and its comments are not articles); feeds on the page's host come
before others, and shorter paths before longer (a site's feed, ``/feed/``, before a
plugin's or a category's). Ties keep the page's order.
"""

from __future__ import annotations

import re
from contextlib import suppress
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

from services.poller.errors import NotAFeed
from services.poller.fetch import Document
from services.poller.parsers import is_web_page
from services.poller.parsers.pages import _markup

__all__ = ["FEED_TYPES", "advertised_feeds", "feeds_instead"]

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)
#: a page advertising more than this is not listing its feeds
_MAX_LINKS = 50
#: "Comments Feed" in a title, /comments/ in a path; not "Commentary"
_COMMENTS = re.compile(r"\bcomments?\b", re.IGNORECASE)


def feeds_instead(doc: Document, not_a_feed: NotAFeed) -> list[str]:
    """The feeds to read for a document that the feed parser refused (``not_a_feed``): those
    the page advertises, best first. Raises ``not_a_feed`` for a document that is no web
    page, and for a page that advertises none a ``NotAFeed`` that says what to do."""
    if not is_web_page(doc.content_type, doc.body):
        raise not_a_feed
    feeds = advertised_feeds(doc)
    if not feeds:
        raise NotAFeed(
            f'{not_a_feed}, and the page advertises no feed (no <link rel="alternate"> to '
            "RSS, Atom or JSON Feed): give the feed's URL, or kind: page to read the page itself"
        ) from not_a_feed
    return feeds


def advertised_feeds(doc: Document) -> list[str]:
    """The absolute http(s) URLs of the feeds the page advertises, best first; empty when it
    advertises none or is not readable HTML."""
    if not doc.body.strip():
        return []
    try:
        root = lxml.html.document_fromstring(_markup(doc))
    except (lxml.etree.ParserError, ValueError):
        return []
    base = doc.url
    for element in root.iter("base"):  # <base href> changes what relative links mean
        if element.get("href"):
            with suppress(ValueError):  # a malformed one ("http://[::1") is ignored
                base = urljoin(doc.url, element.get("href", "").strip())
            break
    try:
        page_host = (urlsplit(doc.url).hostname or "").lower()
    except ValueError:  # not a URL that parses: every feed counts as elsewhere
        page_host = ""
    found: list[tuple[tuple[bool, int], int, str]] = []
    seen: set[str] = set()
    for element in root.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("type") or "").split(";", 1)[0].strip().lower()
        href = (element.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        try:  # one malformed link is skipped, not the page
            url, _ = urldefrag(urljoin(base, href))
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname or url in seen:
            continue
        seen.add(url)
        if _COMMENTS.search(element.get("title") or "") or _COMMENTS.search(parts.path):
            continue
        elsewhere = parts.hostname.lower() != page_host
        found.append(((elsewhere, len(parts.path)), len(found), url))
        if len(found) >= _MAX_LINKS:
            break
    return [url for _, _, url in sorted(found)]
