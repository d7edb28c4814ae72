"""Building enriched articles for the rules' tests, with the shared text library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import ArticleEnriched, ArticlePublished
from schemas.ids import article_id, content_hash
from services.text import analyse, enriched_fields

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def enriched(
    title: str,
    text: str = "",
    *,
    url: str | None = None,
    source: str = "src-a",
    at: datetime | None = None,
    minutes: float = 0,
    lang: str | None = None,
    labels: dict[str, str] | None = None,
) -> ArticleEnriched:
    when = (at or T0) + timedelta(minutes=minutes)
    url = url or f"https://{source}.example/{content_hash(title, text)[:12]}"
    article = ArticlePublished(
        article_id=article_id(url=url),
        url=url,
        title=title,
        text=text,
        published_at=when,
        fetched_at=when,
        source_id=source,
        source_labels=labels or {},
        language_hint=lang,
        content_hash=content_hash(title, text),
    )
    fields = enriched_fields(analyse(title, text, lang))
    return ArticleEnriched(article=article, enricher_version="test", **fields)
