"""The poller's pure core: raw items and poll outcomes -> events. No I/O, no clock.

Ids are deterministic (``schemas.ids``): the article id is a hash of the canonical URL, or
of the guid scoped to the source when there is no URL. The ``article.published`` event id
is the article id for the first publication and ``<article id>.<hash prefix>`` for an
update, so a replayed poll yields the same event ids and consumers drop the duplicates.

What the log already holds is passed in as ``known`` (article id -> content hash): an item
already known with the same hash is not published again; one whose hash changed is
published again with ``is_update=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from schemas import (
    ArticlePublished,
    CloudEvent,
    PollStatus,
    SourcePolled,
    SourceSubscription,
    new_event,
)
from schemas.ids import article_id, canonical_url, content_hash
from services.eventlog import Message
from services.eventlog.codec import encode
from services.poller.config import SourceConfig, normalise_language
from services.poller.parsers import RawItem
from services.poller.parsers.dates import in_zone

EVENT_SOURCE = "/tocsin/poller"
#: Record header carrying the content hash, so the state rebuild never parses JSON.
HASH_HEADER = "tocsin-content-hash"


#: A lone UTF-16 surrogate: JSON may escape one (``"\\ud800"``, in a JSON Feed or a JSONL
#: archive) and ``json.loads`` keeps it, but no text holding one can be encoded or hashed.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(value: str) -> str:
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def _encodable_item(item: RawItem) -> RawItem:
    """The item with every lone surrogate as U+FFFD (one bad character loses nothing else)."""
    texts = (
        item.url or "",
        item.guid or "",
        item.title,
        item.summary,
        item.text,
        item.language or "",
        *item.authors,
    )
    if all(t.isascii() or not _SURROGATE.search(t) for t in texts):
        return item
    return replace(
        item,
        url=None if item.url is None else _encodable(item.url),
        guid=None if item.guid is None else _encodable(item.guid),
        title=_encodable(item.title),
        summary=_encodable(item.summary),
        text=_encodable(item.text),
        authors=tuple(_encodable(a) for a in item.authors),
        language=None if item.language is None else _encodable(item.language),
    )


def article_from_item(
    item: RawItem, source: SourceConfig, fetched_at: datetime, feed_language: str | None
) -> ArticlePublished | None:
    """One raw item as an article, or None when it has neither a usable URL nor a guid."""
    item = _encodable_item(item)
    try:  # a URL that no longer parses once canonical: the item keeps its guid
        url = canonical_url(item.url) if item.url else None
    except ValueError:
        url = None
    try:
        art_id = article_id(url=url, guid=item.guid, source_id=source.id)
    except ValueError:
        return None
    published = in_zone(item.published, source.zone)
    inferred = published is None or published > fetched_at
    language = (
        source.language_tag
        or normalise_language(item.language)
        or normalise_language(feed_language)
    )
    return ArticlePublished(
        article_id=art_id,
        url=url,
        guid=item.guid,
        title=item.title,
        summary=item.summary,
        text=item.text,
        authors=item.authors,
        published_at=fetched_at if inferred or published is None else published,
        published_at_inferred=inferred,
        fetched_at=fetched_at,
        source_id=source.id,
        source_labels=dict(source.labels),
        language_hint=language,
        content_hash=content_hash(item.title, item.summary, item.text),
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """What a poll's items come to: the articles to publish and how many were seen."""

    articles: list[ArticlePublished]
    seen: int
    unusable: int


def select_new(
    items: Iterable[RawItem],
    source: SourceConfig,
    fetched_at: datetime,
    feed_language: str | None,
    known: Mapping[str, str],
) -> Selection:
    """The items to publish: new ones, and changed ones marked as updates (first of a repeat wins)."""
    out: list[ArticlePublished] = []
    in_batch: set[str] = set()
    seen = unusable = 0
    for item in items:
        seen += 1
        article = article_from_item(item, source, fetched_at, feed_language)
        if article is None:
            unusable += 1
            continue
        if article.article_id in in_batch:
            continue
        in_batch.add(article.article_id)
        previous = known.get(article.article_id)
        if previous == article.content_hash:
            continue
        if previous is not None:
            article = article.model_copy(update={"is_update": True})
        out.append(article)
    return Selection(out, seen, unusable)


def published_event(article: ArticlePublished) -> CloudEvent:
    event_id = (
        f"{article.article_id}.{article.content_hash[:16]}"
        if article.is_update
        else article.article_id
    )
    return new_event(
        article,
        id=event_id,
        source=EVENT_SOURCE,
        subject=article.article_id,
        time=article.fetched_at,
        correlationid=article.article_id,
    )


def published_message(article: ArticlePublished, topic: str) -> Message:
    """The record for an article, keyed by article id, with its hash in a header."""
    message = encode(published_event(article), topic=topic, key=article.article_id)
    return replace(
        message, headers=(*message.headers, (HASH_HEADER, article.content_hash.encode()))
    )


def polled_event(polled: SourcePolled) -> CloudEvent:
    stamp = polled.polled_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return new_event(
        polled,
        id=f"poll_{polled.source_id}_{stamp}",
        source=EVENT_SOURCE,
        subject=polled.source_id,
        time=polled.polled_at,
    )


def polled_message(polled: SourcePolled, topic: str) -> Message:
    return encode(polled_event(polled), topic=topic, key=polled.source_id)


def subscription_message(change: SourceSubscription, topic: str) -> Message:
    """A WebSub subscription's change, keyed by source id: in order with its polls."""
    stamp = change.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    event = new_event(
        change,
        id=f"push_{change.source_id}_{stamp}_{change.state.value}",
        source=EVENT_SOURCE,
        subject=change.source_id,
        time=change.at,
    )
    return encode(event, topic=topic, key=change.source_id)


def disabled_after(polled: SourcePolled) -> bool:
    """A 410 means the publisher removed the feed for good: stop polling it."""
    return polled.http_status == 410


__all__ = [
    "EVENT_SOURCE",
    "HASH_HEADER",
    "PollStatus",
    "Selection",
    "article_from_item",
    "disabled_after",
    "polled_event",
    "polled_message",
    "published_event",
    "published_message",
    "select_new",
    "subscription_message",
]
