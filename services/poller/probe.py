"""What a URL offers as a feed source (``tocsin sources discover``): the feed itself, or
the feeds its page advertises, each read once, so that an analyst adding a site sees which
feed to configure, how many items it holds, how recent they are, and whether it pushes
(the WebSub hub it names, ``websub``). Nothing is published.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from services.poller import websub
from services.poller.errors import NotAFeed, PollError
from services.poller.fetch import Document, Fetcher, Validators
from services.poller.parsers import Parsed
from services.poller.parsers.dates import in_zone
from services.poller.parsers.discovery import feeds_instead
from services.poller.parsing import parse_document

__all__ = ["Offer", "probe"]

#: feeds read from one page at most
MAX_FEEDS = 10


@dataclass(frozen=True, slots=True)
class Offer:
    """One feed: where it is, what it holds now, or why it could not be read."""

    url: str
    advertised: bool
    items: int = 0
    newest: datetime | None = None
    latest_title: str = ""
    language: str | None = None
    #: the WebSub hub the feed names (its new items are pushed once ``websub`` is set up)
    hub: str | None = None
    error: str | None = None


async def probe(url: str, fetcher: Fetcher) -> list[Offer]:
    """The feed at ``url``, or the feeds its page advertises (best first). Raises
    ``PollError`` when ``url`` cannot be fetched, or is a page that advertises no feed."""
    result = await fetcher.fetch(url, Validators())
    doc = result.documents[0]
    try:
        return [_offer(doc.url, doc, parse_document("feed", doc), advertised=False)]
    except NotAFeed as exc:
        feeds = feeds_instead(doc, exc)
    reads = await asyncio.gather(
        *(_read(feed, url, fetcher) for feed in feeds[:MAX_FEEDS]), return_exceptions=True
    )
    offers = []
    for feed, read in zip(feeds[:MAX_FEEDS], reads, strict=True):
        if isinstance(read, PollError):
            offers.append(Offer(feed, True, error=f"{read.error_class}: {read}"))
        elif isinstance(read, BaseException):
            raise read
        else:
            offers.append(_offer(feed, *read, advertised=True))
    return offers


async def _read(feed: str, found_on: str, fetcher: Fetcher) -> tuple[Document, Parsed]:
    doc: Document = await fetcher.fetch_plain(feed, found_on=found_on)
    return doc, parse_document("feed", doc)


def _offer(url: str, doc: Document, parsed: Parsed, *, advertised: bool) -> Offer:
    dated = [(when, i) for i in parsed.items if (when := in_zone(i.published, None)) is not None]
    newest, latest = max(dated, key=lambda pair: pair[0]) if dated else (None, None)
    shown = latest or (parsed.items[0] if parsed.items else None)
    hub = websub.advertised(doc.links, parsed.hubs, parsed.self_url, doc.url)
    return Offer(
        url,
        advertised,
        items=len(parsed.items),
        newest=newest,
        latest_title=shown.title if shown else "",
        language=parsed.language,
        hub=hub.hub if hub else None,
    )
