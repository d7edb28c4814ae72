"""Telegram channels through their public preview, ``https://t.me/s/<channel>``: a public
channel's latest posts (about twenty) as a web page, without an account or a bot.

Why: in the South Caucasus and Central Asia the first word of an incident is often a
channel's post. The Bot API reads only chats its bot is in, and MTProto clients need a
phone number; the public preview needs neither. Its markup is what public scrapers such as
snscrape read: a ``tgme_widget_message`` block per post with ``data-post`` ("channel/123"),
the text in ``js-message_text``, the date in the footer's ``tgme_widget_message_date`` link
(``<time datetime>``), the page oldest post first.

A post has no title: its first line is one, and the rest its text. A post without text (a photo alone, a service
message such as "Channel created") is skipped and counted. A link preview's title and
description are added to the text: they say what the post links to. A quoted reply's text
is the other post's, and a forwarded post's author is the channel it came from. An edited
post keeps its URL, so the poller publishes it as an update of the same article. The link
to the page of earlier posts is kept (``Parsed.earlier``): the poller reads back through
them after a gap (``poller.Poller._parse_telegram``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import lxml.etree
import lxml.html

from services.poller.errors import EmptyDocument, ParseError
from services.poller.fetch import Document
from services.poller.parsers import Parsed, RawItem, http_url
from services.poller.parsers.charsets import decoded
from services.poller.parsers.html import XML_REFUSED, author_names, html_to_text, tidy

__all__ = ["parse_telegram"]

_MAX_TEXT = 200_000
#: a title longer than this is cut at a word
_TITLE = 160


def _has_class(name: str) -> str:
    """An XPath test: the element's class attribute holds ``name`` as one of its words."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


_POSTS = lxml.etree.XPath(f"//div[{_has_class('tgme_widget_message')}][@data-post]")
_DATE_LINK = lxml.etree.XPath(f".//a[{_has_class('tgme_widget_message_date')}]")
_TIMES = lxml.etree.XPath(".//time[@datetime]/@datetime")
#: the post's own text: not a quoted reply's, and the outer one of an album's nested pair
_TEXT = lxml.etree.XPath(
    f".//div[{_has_class('js-message_text')}]"
    f"[not(ancestor::div[{_has_class('js-message_text')}])]"
    f"[not(ancestor::*[{_has_class('tgme_widget_message_reply')}])]"
)
_PREVIEW = lxml.etree.XPath(
    f".//a[{_has_class('tgme_widget_message_link_preview')}]"
    f"//*[{_has_class('link_preview_title')} or {_has_class('link_preview_description')}]"
)
_FORWARDED = lxml.etree.XPath(f".//*[{_has_class('tgme_widget_message_forwarded_from_name')}]")
_CHANNEL_TITLE = lxml.etree.XPath(f"//*[{_has_class('tgme_channel_info_header_title')}]")
_CHANNEL_PAGE = lxml.etree.XPath(
    f"//*[{_has_class('tgme_channel_info')} or {_has_class('tgme_channel_history')}]"
)
_OTHER_PAGE = lxml.etree.XPath(f"//*[{_has_class('tgme_page')}]")
#: the link to the page of earlier posts (``?before=<id>``)
_EARLIER = lxml.etree.XPath(f"//a[{_has_class('tme_messages_more')}][@data-before]/@href")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _root(doc: Document) -> lxml.html.HtmlElement:
    """The page's tree, decoded here with the HTTP charset (t.me serves UTF-8): libxml2
    knows fewer charset names than Python ("latin-1" raised a LookupError)."""
    # controls, a NUL above all, end libxml2's reading ("Document is empty"): dropped, as
    # for any HTML (``html.XML_REFUSED``)
    markup = XML_REFUSED.sub("", decoded(doc.body, doc.charset)[0])
    markup = _XML_DECLARATION.sub("", markup, count=1)  # lxml refuses one in a str (XHTML)
    try:
        return lxml.html.document_fromstring(markup, parser=lxml.html.HTMLParser(huge_tree=True))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"not a readable HTML page: {exc}") from None


def _date(values: list[str]) -> datetime | None:
    for value in values:
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def _text(element: lxml.html.HtmlElement) -> str:
    return html_to_text(lxml.html.tostring(element, encoding="unicode"))


def _split(text: str) -> tuple[str, str]:
    """A post's title and text: its first line and the rest, or, when the first line is too
    long to be a title, that line cut at a word and the whole post (the enricher reads the
    title and the text, so a line in both would count twice)."""
    first, _, rest = text.strip().partition("\n")
    first = first.strip()
    if len(first) <= _TITLE:
        return first, rest.strip()
    cut = first[:_TITLE].rsplit(" ", 1)[0] or first[:_TITLE]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…", text.strip()


def parse_telegram(doc: Document) -> Parsed:
    """A channel's public preview page -> one item per post with text."""
    if not doc.body.strip():
        raise EmptyDocument("the page is empty")
    root = _root(doc)
    posts = _POSTS(root)
    if not posts and not _CHANNEL_PAGE(root):
        if _OTHER_PAGE(root):
            raise ParseError(
                "the channel has no public preview: it is private, not a channel, or the URL "
                "is not https://t.me/s/<channel>"
            )
        raise ParseError("not a Telegram channel's public preview (https://t.me/s/<channel>)")
    titles = _CHANNEL_TITLE(root)
    channel = tidy(titles[0].text_content()) if titles else ""
    earlier = _EARLIER(root)
    parsed = Parsed(earlier=http_url(str(earlier[0]), doc.url) if earlier else None)
    for post in posts:
        where = str(post.get("data-post") or "").strip()
        links = _DATE_LINK(post)
        url = http_url(links[0].get("href")) if links else None
        url = url or http_url(f"https://t.me/{where}")
        texts = _TEXT(post)
        own = _text(texts[0]) if texts else ""
        preview = "\n".join(t for t in (tidy(e.text_content()) for e in _PREVIEW(post)) if t)
        if not own and not preview:
            parsed.skipped += 1  # a photo alone, a service message
            continue
        forwarded = [tidy(e.text_content()) for e in _FORWARDED(post)]
        title, text = _split(f"{own}\n\n{preview}" if own and preview else own or preview)
        parsed.items.append(
            RawItem(
                url=url,
                guid=where or None,
                title=title,
                text=text[:_MAX_TEXT],
                authors=author_names(forwarded[:1] or [channel]),
                published=_date(_TIMES(links[0]) if links else []) or _date(_TIMES(post)),
            )
        )
    return parsed
