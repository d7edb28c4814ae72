"""HTML pages: one article (main text by trafilatura), or a listing whose links are followed.

trafilatura (2.3.x) finds the main text and the metadata (title, author, date, language);
it needs ``lxml_html_clean`` installed beside it. Bytes are decoded with the HTTP charset
when one was given, else trafilatura detects the encoding (meta charset, then statistics).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html
import trafilatura

from services.poller.config import FollowLinks
from services.poller.errors import EmptyDocument, ParseError
from services.poller.fetch import Document
from services.poller.parsers import Parsed, RawItem, http_url
from services.poller.parsers.charsets import known
from services.poller.parsers.html import author_names, tidy

_MAX_TEXT = 200_000
#: Characters a declared charset may fail to decode before it is taken for wrong
_STRAY_BYTES = 16


def _markup(doc: Document) -> str | bytes:
    """The page decoded with its HTTP charset; its bytes (for trafilatura to detect the
    charset: meta charset, then statistics) when it has none, an unknown one, or one that
    is plainly wrong: a windows-1251 page sent as UTF-8 became rows of U+FFFD. A stray bad
    byte in a UTF-8 page keeps the declared charset."""
    if not doc.charset or not known(doc.charset):
        return doc.body
    text = doc.body.decode(doc.charset, errors="replace")
    if text.count("\ufffd") > max(_STRAY_BYTES, len(text) // 100):
        return doc.body
    return text


def extract_text(html: str | bytes, url: str | None = None) -> str:
    """The main text of an article page (empty when trafilatura finds none)."""
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, deduplicate=False
    )
    return tidy(text or "")


def _date(value: object) -> datetime | None:
    """trafilatura's date (ISO 8601, often a day alone): naive when it names no zone."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_page(doc: Document) -> Parsed:
    """One page -> one article (title, main text, authors, date, language from the page)."""
    if not doc.body.strip():
        raise EmptyDocument("the page is empty")
    markup = _markup(doc)
    url = doc.url if urlsplit(doc.url).scheme in ("http", "https") else None
    result = trafilatura.bare_extraction(
        markup, url=url, include_comments=False, with_metadata=True, deduplicate=False
    )
    if result is None:
        raise ParseError("no article text found in the page (is it an article?)")
    meta = result if isinstance(result, dict) else result.as_dict()
    text = tidy(str(meta.get("text") or ""))[:_MAX_TEXT]
    title = tidy(str(meta.get("title") or ""))
    if not text and not title:
        raise ParseError("no article text found in the page (is it an article?)")
    author = meta.get("author")
    authors = author_names(re.split(r";|\band\b", author)) if isinstance(author, str) else ()
    canonical = meta.get("url") if isinstance(meta.get("url"), str) else None
    page_url = http_url(canonical) or url
    item = RawItem(
        url=page_url,
        guid=None if page_url else doc.url,
        title=title[:2000],
        summary=tidy(str(meta.get("description") or ""))[:20_000],
        text=text,
        authors=authors,
        published=_date(meta.get("date")),
        language=meta.get("language") if isinstance(meta.get("language"), str) else None,
    )
    return Parsed(items=[item], language=item.language)


def listing_links(doc: Document, follow: FollowLinks) -> list[str]:
    """The article links of a listing page, absolute, de-duplicated, in page order."""
    if not doc.body.strip():
        raise EmptyDocument("the page is empty")
    try:
        root = lxml.html.document_fromstring(_markup(doc))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"the listing page is not readable HTML: {exc}") from exc
    pattern = re.compile(follow.pattern)
    base_host = (urlsplit(doc.url).hostname or "").lower()
    out: list[str] = []
    seen: set[str] = set()
    for element in root.iter("a"):
        href = element.get("href")
        if not href:
            continue
        try:  # one malformed link ("http://[::1") is skipped, not the whole page
            link, _ = urldefrag(urljoin(doc.url, href.strip()))
            parts = urlsplit(link)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises on a port out of range ("...:99999")
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or link in seen or link == doc.url:
            continue
        if follow.same_host and host != base_host:
            continue
        if not pattern.search(link):
            continue
        seen.add(link)
        out.append(link)
        if len(out) >= follow.max:
            break
    return out
