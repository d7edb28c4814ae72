"""One enriched article as the conditions read it, with the costly parts computed lazily.

Why lazy: most articles match no rule's anchors, and the evaluation of those must cost a few
microseconds (``bench/rules.py``). Paragraphs, word offsets, tag positions and term hits are
computed on first use only, and term hits only when a candidate rule has terms.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from schemas.articles import ArticleEnriched, MentionedEntity
from services.text import Analysis, Language, TermMatcher, fold, normalise

__all__ = ["ArticleView", "Occurrence", "TermBank"]

_WORD = re.compile(r"\w+")
#: A blank line; a line break before an indented line; a line break after the end of a
#: sentence (feeds and pages often put one paragraph per line, wires wrap lines by width).
_PARAGRAPH_BREAK = re.compile(
    r"\n[ \t]*\n|\n(?=[ \t]{2,}\S)|(?<=[.!?\u2026\"\u201d\u00bb])[ \t]*\n"
)
_SNIPPET = 80


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a condition matched: offsets into the analysed text and the surface form."""

    start: int
    end: int
    surface: str


TermKey = tuple[str | None, str]


class TermBank:
    """Every term of a rule set, compiled into as few ``TermMatcher`` automata as possible.

    A ``TermMatcher`` keeps the longest of overlapping hits, so "Ossetia" and "South Ossetia"
    in one automaton would hide each other; terms whose words could overlap go to separate
    matchers (usually there is one).
    """

    def __init__(self, keys: Iterable[TermKey]) -> None:
        groups: list[tuple[str | None, list[str], list[tuple[str, ...]]]] = []
        for lang, term in dict.fromkeys(keys):
            words = tuple(_stem(w) for w in fold(term).split())
            for group_lang, terms, stems in groups:
                if group_lang == lang and not any(_overlaps(words, s) for s in stems):
                    terms.append(term)
                    stems.append(words)
                    break
            else:
                groups.append((lang, [term], [words]))
        self.matchers = [(lang, TermMatcher(terms, lang)) for lang, terms, _ in groups]

    def __bool__(self) -> bool:
        return bool(self.matchers)

    def scan(
        self, text: str, sentences: tuple[tuple[int, int], ...] = ()
    ) -> dict[TermKey, list[Occurrence]]:
        out: dict[TermKey, list[Occurrence]] = {}
        analysis = _analysis(text, sentences)
        for lang, matcher in self.matchers:
            hits = matcher.find(analysis) if analysis is not None else matcher.find_text(text)
            for hit in hits:
                out.setdefault((lang, hit.term), []).append(
                    Occurrence(hit.start, hit.end, hit.surface)
                )
        return out


def _analysis(text: str, sentences: tuple[tuple[int, int], ...]) -> Analysis | None:
    """The enricher's sentences with a fresh folding: what ``TermMatcher.find`` reads.

    Why not ``find_text``: it splits sentences again, which costs as much as the scan, and
    the event already has them. Should ``Analysis`` change shape, ``find_text`` still works.
    """
    try:
        return Analysis(
            text=text,
            language=Language("und", 0.0),
            sentences=sentences,
            entities=(),
            countries=(),
            tags=(),
            norm=normalise(text),
        )
    except TypeError:  # pragma: no cover - a future Analysis with other fields
        return None


def _stem(word: str) -> str:
    return word.strip("=*")[:4]


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some word of ``a`` could match where some word of ``b`` does (cheap, cautious)."""
    return any(x.startswith(y) or y.startswith(x) for x in a for y in b)


class ArticleView:
    """An ``ArticleEnriched`` prepared for evaluation (built once per article, read by every rule)."""

    def __init__(self, event: ArticleEnriched, terms: TermBank | None = None) -> None:
        self.event = event
        self.article = event.article
        self.text = event.analysed_text
        self._terms = terms
        self.entities: dict[str, MentionedEntity] = {}
        keys = set()
        for entity in event.entities:
            self.entities[entity.id] = entity
            keys.add("e:" + entity.id)
            keys.add("k:" + entity.kind)
            for code in entity.countries:
                keys.add("c:" + code)
        for tag in event.tags:
            keys.add("t:" + tag.id)
        self.keys = frozenset(keys)
        self._term_hits: dict[TermKey, list[Occurrence]] | None = None
        self._term_keys: frozenset[str] | None = None
        self._tag_hits: dict[str, list[Occurrence]] = {}
        self._sentence_starts: list[int] | None = None
        self._paragraphs: list[tuple[int, int]] | None = None
        self._words: list[tuple[int, int]] | None = None
        self._word_starts: list[int] | None = None
        self._title_end: int | None = None
        #: per-article memo of the conditions' occurrences (leaf id -> occurrences)
        self.cache: dict[int, list[Occurrence]] = {}

    # -- terms and tags --------------------------------------------------------------------

    def term_hits(self) -> dict[TermKey, list[Occurrence]]:
        if self._term_hits is None:
            sentences = tuple((s.start, s.end) for s in self.event.sentences)
            self._term_hits = self._terms.scan(self.text, sentences) if self._terms else {}
        return self._term_hits

    def term_keys(self) -> frozenset[str]:
        if self._term_keys is None:
            self._term_keys = frozenset(term_anchor(k) for k in self.term_hits())
        return self._term_keys

    def tag_occurrences(self, tag_id: str) -> list[Occurrence]:
        """Where a tag's keywords stand (the event keeps only their surface forms)."""
        found = self._tag_hits.get(tag_id)
        if found is not None:
            return found
        out: list[Occurrence] = []
        for tag in self.event.tags:
            if tag.id == tag_id:
                for surface in tag.terms:
                    out.extend(_find_word(self.text, surface))
                out.sort(key=lambda o: o.start)
                if not out:  # set by the enricher, not found again: count it, place it nowhere
                    out.append(Occurrence(0, 0, tag.terms[0] if tag.terms else tag_id))
        self._tag_hits[tag_id] = out
        return out

    # -- spans -----------------------------------------------------------------------------

    @property
    def title_end(self) -> int:
        if self._title_end is None:
            title = self.article.title.strip()
            self._title_end = len(title) if title and self.text.startswith(title) else 0
        return self._title_end

    def sentence_of(self, offset: int) -> int:
        if self._sentence_starts is None:
            self._sentence_starts = [s.start for s in self.event.sentences]
        return max(0, bisect.bisect_right(self._sentence_starts, offset) - 1)

    def sentence_span(self, offset: int) -> tuple[int, int]:
        if not self.event.sentences:
            return 0, len(self.text)
        span = self.event.sentences[self.sentence_of(offset)]
        return span.start, span.end

    def paragraph_span(self, offset: int) -> tuple[int, int]:
        if self._paragraphs is None:
            spans, start = [], 0
            for match in _PARAGRAPH_BREAK.finditer(self.text):
                spans.append((start, match.start()))
                start = match.end()
            spans.append((start, len(self.text)))
            self._paragraphs = spans
        index = bisect.bisect_right([s for s, _ in self._paragraphs], offset) - 1
        return self._paragraphs[max(0, index)]

    def word_window(self, offset: int, words: int) -> tuple[int, int]:
        """From the word at ``offset`` to the end of the ``words``-th word after it."""
        if self._words is None:
            self._words = [m.span() for m in _WORD.finditer(self.text)]
            self._word_starts = [s for s, _ in self._words]
        assert self._word_starts is not None
        if not self._words:
            return offset, offset
        index = max(0, bisect.bisect_right(self._word_starts, offset) - 1)
        last = min(len(self._words) - 1, index + words)
        return self._words[index][0], self._words[last][1]

    def snippet(self, start: int, end: int, span: tuple[int, int] | None = None) -> str:
        """The text around a match (or the whole ``span``, capped), on one line."""
        if span is not None and span[1] - span[0] <= 3 * _SNIPPET:
            lo, hi = span
        else:
            lo, hi = max(0, start - _SNIPPET), min(len(self.text), end + _SNIPPET)
        return " ".join(self.text[lo:hi].split())


def term_anchor(key: TermKey) -> str:
    return f"w:{key[0] or ''}:{key[1]}"


def _find_word(text: str, surface: str) -> list[Occurrence]:
    out: list[Occurrence] = []
    if not surface:
        return out
    start = text.find(surface)
    while start >= 0:
        end = start + len(surface)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            out.append(Occurrence(start, end, surface))
        start = text.find(surface, end)
    return out


Locator = Callable[[ArticleView], list[Occurrence]]
