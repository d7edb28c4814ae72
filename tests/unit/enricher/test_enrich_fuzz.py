"""The enricher core on generated articles (Hypothesis): whatever text a source sends, it
enriches without error (an exception would dead-letter the article), and what it writes
holds: every mention's offsets cut its surface out of the analysed text, sentences lie
inside it in order, and the event survives the JSON round trip every consumer makes.

The text mixes names the gazetteer knows (in several scripts and inflections), words that
trigger tags, and what feeds really carry besides: combining marks, zero-width and
bidirectional controls, ligatures, emoji, CR/LF mixes, NUL and other control characters.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ArticleEnriched, CloudEvent, decode_event
from services.enricher import Enricher, EnrichError
from services.enricher.settings import build_enricher

KNOWN = [
    "Armenia", "Armenian", "Azerbaijan's", "CSTO", "ОДКБ", "Армении", "Азербайджаном",
    "Nagorno-Karabakh", "Lachin", "South Ossetia", "Georgia", "Tbilisi", "Pashinyan",
    "Aliyev", "Kyrgyzstan", "Batken", "Tajik", "Հայաստան", "Azərbaycan", "Ереван",
    "border", "ceasefire", "troops", "summit", "sanctions", "обстрел", "peacekeepers",
]  # fmt: skip
ODD = [
    "\u0301", "\u200b", "\u200d", "\u200e", "\u202e", "\ufeff", "\ufb01", "\u00a0", "\u2028",
    "\r\n", "\r", "\n\n", "\t", "\x00", "\x1f", "\u0130", "\u00df", "\U0001f1e6\U0001f1f2",
    "\U0001f600", "...", "\u2026", "\u00ab", "\u201d", "-", "'", "\u2019", "(", ")", ".", " ",
]  # fmt: skip
pieces = st.one_of(st.sampled_from(KNOWN), st.sampled_from(ODD), st.text(max_size=8))
texts = st.lists(pieces, max_size=40).map("".join) | st.lists(pieces, max_size=40).map(" ".join)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return build_enricher()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(title=texts, text=texts, hint=st.sampled_from([None, "en", "ru", "hy", "xx"]))
def test_any_article_is_enriched_and_its_offsets_hold(
    enricher: Enricher,
    published: Callable[..., CloudEvent],
    title: str,
    text: str,
    hint: str | None,
) -> None:
    event = published("https://example.org/fuzz", title, text, hint=hint)
    if not title.strip() and not text.strip():  # nothing to enrich: the core's clear error
        with pytest.raises(EnrichError, match="no title, summary or text"):
            enricher.enrich(event)
        return
    out = enricher.enrich(event)
    data = out.data
    assert isinstance(data, ArticleEnriched)
    full = data.analysed_text
    for entity in data.entities:
        assert entity.mentions
        for m in entity.mentions:
            assert 0 <= m.start < m.end <= len(full)
            assert full[m.start : m.end] == m.surface
    previous = 0
    for sentence in data.sentences:
        assert previous <= sentence.start <= sentence.end <= len(full)
        previous = sentence.start
    again = decode_event(out.to_json())
    assert isinstance(again, CloudEvent) and again.data == data
