"""Fixtures for the enricher's tests: ``published(url, title, text)`` builds an event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from schemas import ArticlePublished, CloudEvent, new_event
from schemas.ids import article_id, content_hash

WHEN = datetime(2022, 11, 29, 9, 4, 12, tzinfo=UTC)


def make_published(
    url: str,
    title: str,
    text: str = "",
    *,
    summary: str = "",
    hint: str | None = "en",
) -> CloudEvent:
    ident = article_id(url=url)
    payload = ArticlePublished(
        article_id=ident,
        url=url,
        title=title,
        summary=summary,
        text=text,
        published_at=WHEN,
        fetched_at=WHEN,
        source_id="test-source",
        language_hint=hint,
        content_hash=content_hash(title, text),
    )
    return new_event(
        payload, id=ident, source="/tocsin/poller", subject=ident, time=WHEN, correlationid=ident
    )


Published = Callable[..., CloudEvent]


@pytest.fixture
def published() -> Published:
    return make_published
