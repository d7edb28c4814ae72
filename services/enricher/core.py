"""The pure core: one ``article.published`` event -> its ``article.enriched`` event.

No I/O and no clock: the output depends only on the input event, the analyser and the
version string, so a redelivered article yields the very same event (same id, same time,
same bytes) and downstream consumers can drop the duplicate.

- id: ``schemas.ids.enrichment_id(article_id, version, content_hash)``: an updated article
  (same id, new content) is a new enrichment;
- time: the input event's time (when the article reached the log), not "now";
- ``correlationid``: the input's correlation id, else the input's own id (the article
  event begins the chain); ``causationid``: the input's id;
- ``subject``: the article id, so tools can follow one article across topics.
"""

from __future__ import annotations

from schemas import ArticleEnriched, ArticlePublished, CloudEvent, new_event
from schemas.articles import ARTICLE_PUBLISHED
from schemas.ids import enrichment_id
from services.eventlog import PoisonRecordError
from services.text import Analyser, Analysis, enriched_payload

__all__ = ["ENRICHER_SOURCE", "EnrichError", "Enricher"]

ENRICHER_SOURCE = "/tocsin/enricher"


class EnrichError(PoisonRecordError):
    """An input the enricher cannot enrich (wrong event type, no text at all). Never retried:
    the runtime loop sends it to the dead-letter topic with this message."""


class Enricher:
    """The analyser and the version it is known by. Thread-safe; build once per process."""

    def __init__(self, analyser: Analyser, version: str, *, source: str = ENRICHER_SOURCE) -> None:
        if not version.strip():
            raise ValueError("the enricher version must not be empty")
        self.analyser = analyser
        self.version = version
        self.source = source

    def analyse(self, article: ArticlePublished) -> Analysis:
        """The text analysis of one article: its title and its text (the summary when the
        source gave no text)."""
        body = article.text if article.text.strip() else article.summary
        if not article.title.strip() and not body.strip():
            raise EnrichError(f"article {article.article_id}: no title, summary or text to enrich")
        return self.analyser.analyse(article.title, body, article.language_hint)

    def enrich_article(self, article: ArticlePublished) -> ArticleEnriched:
        """The enriched payload of one article (no envelope)."""
        return enriched_payload(self.analyse(article), article, self.version)

    def enrich(self, event: CloudEvent) -> CloudEvent:
        """The ``article.enriched`` event for one ``article.published`` event."""
        if event.type != ARTICLE_PUBLISHED or not isinstance(event.data, ArticlePublished):
            raise EnrichError(f"event {event.id}: expected {ARTICLE_PUBLISHED}, got {event.type!r}")
        article = event.data
        payload = self.enrich_article(article)
        return new_event(
            payload,
            id=enrichment_id(article.article_id, self.version, article.content_hash),
            source=self.source,
            subject=article.article_id,
            time=event.time,
            correlationid=event.correlationid or event.id,
            causationid=event.id,
        )
