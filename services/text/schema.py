"""From an ``Analysis`` to the event models of ``schemas.articles``.

Why a separate step: ``analyse`` returns light dataclasses (fast to build, also used by
``tocsin enrich`` and the rules), and the enricher turns them into the frozen pydantic
parts of ``ArticleEnriched`` only when it emits the event::

    fields = enriched_fields(analyse(article.title, article.text, article.language_hint))
    ArticleEnriched(article=article, enricher_version=VERSION, **fields)
"""

from __future__ import annotations

from typing import Literal, TypedDict, cast

from schemas.articles import (
    ArticleEnriched,
    ArticlePublished,
    EntityMention,
    LanguageGuess,
    MentionedEntity,
    SentenceSpan,
    TagHit,
)
from services.text.analysis import Analysis

__all__ = ["EnrichedFields", "enriched_fields", "enriched_payload"]

_Kind = Literal["country", "place", "organisation", "person"]
_Form = Literal["name", "adjective"]


class EnrichedFields(TypedDict):
    """The ``ArticleEnriched`` fields that come from the text analysis."""

    analysed_text: str
    language: LanguageGuess
    sentences: tuple[SentenceSpan, ...]
    entities: tuple[MentionedEntity, ...]
    countries: tuple[str, ...]
    tags: tuple[TagHit, ...]


def enriched_fields(analysis: Analysis) -> EnrichedFields:
    """The analysis as ``ArticleEnriched`` keyword arguments."""
    language = analysis.language
    return EnrichedFields(
        analysed_text=analysis.text,
        language=LanguageGuess(
            code=language.code, confidence=round(language.confidence, 4), hint=language.hint
        ),
        sentences=tuple(SentenceSpan(start=s, end=e) for s, e in analysis.sentences),
        entities=tuple(
            MentionedEntity(
                id=entity.id,
                kind=cast(_Kind, entity.kind),
                name=entity.name,
                countries=entity.countries,
                mentions=tuple(
                    EntityMention(
                        start=m.start,
                        end=m.end,
                        sentence=m.sentence,
                        surface=m.surface,
                        form=cast(_Form, m.form),
                    )
                    for m in entity.mentions
                ),
            )
            for entity in analysis.entities
        ),
        countries=analysis.countries,
        tags=tuple(TagHit(id=tag.id, terms=tag.terms) for tag in analysis.tags),
    )


def enriched_payload(
    analysis: Analysis, article: ArticlePublished, version: str
) -> ArticleEnriched:
    """The ``ArticleEnriched`` payload in one validation call.

    Same result as ``ArticleEnriched(article=..., enricher_version=..., **enriched_fields(a))``
    at about two thirds of the cost: the nested parts are validated from plain data inside
    pydantic's core instead of being built one Python call at a time (an article has dozens
    of sentence spans and mentions).
    """
    language = analysis.language
    return ArticleEnriched.model_validate(
        {
            "article": article,
            "enricher_version": version,
            "analysed_text": analysis.text,
            "language": {
                "code": language.code,
                "confidence": round(language.confidence, 4),
                "hint": language.hint,
            },
            "sentences": [{"start": s, "end": e} for s, e in analysis.sentences],
            "entities": [
                {
                    "id": hit.id,
                    "kind": hit.kind,
                    "name": hit.name,
                    "countries": hit.countries,
                    "mentions": [
                        {
                            "start": m.start,
                            "end": m.end,
                            "sentence": m.sentence,
                            "surface": m.surface,
                            "form": m.form,
                        }
                        for m in hit.mentions
                    ],
                }
                for hit in analysis.entities
            ],
            "countries": analysis.countries,
            "tags": [{"id": tag.id, "terms": tag.terms} for tag in analysis.tags],
        }
    )
