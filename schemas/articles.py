"""Article events: what the poller publishes and what the enricher adds."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import AwareDatetime, Field

from schemas.envelope import Part, Payload

ARTICLE_PUBLISHED: Final = "tocsin.article.published.v1"
ARTICLE_ENRICHED: Final = "tocsin.article.enriched.v1"


class ArticlePublished(Payload):
    """A new (or changed) article seen at a source.

    ``article_id`` is a hash of the canonical URL, or of the feed's guid when there is no URL
    (see ``schemas.ids``). When a known article's content changes, it is published again with
    the same id, a new ``content_hash`` and ``is_update`` set.
    """

    event_type = ARTICLE_PUBLISHED

    article_id: str = Field(min_length=1)
    url: str | None = Field(
        default=None, description="canonical URL: tracking parameters and fragment removed"
    )
    guid: str | None = None
    title: str = ""
    summary: str = ""
    text: str = Field(default="", description="main text, HTML reduced to plain text")
    authors: tuple[str, ...] = ()
    published_at: AwareDatetime = Field(
        description="UTC; the fetch time when the source gave none or a future one"
    )
    published_at_inferred: bool = Field(
        default=False, description="true when published_at is the fetch time, not the source's date"
    )
    fetched_at: AwareDatetime
    source_id: str = Field(min_length=1)
    source_labels: dict[str, str] = Field(default_factory=dict)
    language_hint: str | None = Field(
        default=None, description="the feed's or the source's declared language"
    )
    content_hash: str = Field(min_length=1)
    is_update: bool = False


class LanguageGuess(Part):
    code: str = Field(description="ISO 639-1 code, or 'und' when undetermined")
    confidence: float = Field(ge=0.0, le=1.0)
    hint: str | None = None


class SentenceSpan(Part):
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class EntityMention(Part):
    """One occurrence of an entity. Offsets index the enricher's analysed text (title, blank line, text)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    sentence: int = Field(ge=0)
    surface: str
    form: Literal["name", "adjective"] = "name"


class MentionedEntity(Part):
    id: str
    kind: Literal["country", "place", "organisation", "person"]
    name: str
    countries: tuple[str, ...] = Field(
        default=(), description="ISO 3166-1 alpha-2 codes the entity belongs to"
    )
    mentions: tuple[EntityMention, ...] = ()


class TagHit(Part):
    id: str
    terms: tuple[str, ...] = Field(default=(), description="the surface forms that set this tag")


class ArticleEnriched(Payload):
    """An article with language, sentences, entities and tags.

    It carries the whole published article so that rules, replay and backtests need nothing
    else: the enriched topic alone can be replayed through new rules.
    """

    event_type = ARTICLE_ENRICHED

    article: ArticlePublished
    enricher_version: str = Field(min_length=1)
    analysed_text: str = Field(
        default="", description="the text offsets refer to: title, blank line, summary or text"
    )
    language: LanguageGuess
    sentences: tuple[SentenceSpan, ...] = ()
    entities: tuple[MentionedEntity, ...] = ()
    countries: tuple[str, ...] = Field(
        default=(), description="countries named, or reached through a place or person"
    )
    tags: tuple[TagHit, ...] = ()
