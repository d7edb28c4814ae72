"""One enriched article as the conditions read it, with the costly parts computed lazily.

Why lazy: most articles match no rule's anchors, and the evaluation of those must cost a few
microseconds (``bench/rules.py``). Paragraphs, word bounds, tag positions and term hits are
computed on first use only, and term hits only when a candidate rule has terms (asked by
substring first: ``has_term``).

Why per-article memos: at 10,000 rules many candidates read the same entities, terms and
units. Everything computed here (an entity's mentions, the units of a scope, an entry's
occurrences inside a region, a scoped condition's unit) is computed once per article and
read by every rule (``conditions``, ``evaluate``).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from schemas.articles import ArticleEnriched, MentionedEntity
from services.text.fastfold import normalise_fast
from services.text.matcher import Matcher, Ref
from services.text.normalise import Normalised
from services.text.spans import keep_longest
from services.text.terms import term_patterns

__all__ = [
    "ArticleView",
    "Occurrence",
    "OccurrenceEntry",
    "TermBank",
    "longest_first",
    "occurrence_entry",
]

_WORD = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w").match
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
#: occurrences (in their own order), with their starts and ends in start order
OccurrenceEntry = tuple[list[Occurrence], list[int], list[int]]


def occurrence_entry(every: list[Occurrence]) -> OccurrenceEntry:
    """``every`` with its starts and ends sorted by start (for bisection)."""
    starts = [o.start for o in every]
    ends = [o.end for o in every]
    ordered = sorted(starts)
    if ordered != starts:  # rare: the order of a stable sort by start
        order = sorted(range(len(every)), key=starts.__getitem__)
        ends = [ends[i] for i in order]
        starts = ordered
    return every, starts, ends


class TermBank:
    """Every term of a rule set in ONE automaton, scanned once per article.

    The keys are ``services.text``'s (``term_patterns``: the same folding, whole-word
    checks and inflection as ``TermMatcher``), so a term is found exactly where a
    ``TermMatcher`` of its condition would find it. The scan keeps every raw hit,
    overlapping ones included; each condition then keeps the longest of its own
    overlapping hits (``longest_first``), as its own ``TermMatcher`` would, so terms of
    other rules never hide each other ("Ossetia" in one rule, "South Ossetia" in another).
    """

    def __init__(self, keys: Iterable[TermKey]) -> None:
        self.keys: tuple[TermKey, ...] = tuple(dict.fromkeys(keys))
        matcher = Matcher()
        #: term anchor (``w:lang:term``) -> the automaton keys of the term: one of them is
        #: in the folded text wherever the term is (``has_term``'s cheap test)
        self.literals: dict[str, tuple[str, ...]] = {}
        for index, (lang, term) in enumerate(self.keys):
            patterns = term_patterns(term, lang)
            matcher.add(patterns, Ref(0, index))
            literals = {p.key.strip() for p in patterns} - {""}
            self.literals[term_anchor((lang, term))] = tuple(sorted(literals))
        self._matcher = matcher.build()

    def __bool__(self) -> bool:
        return bool(self.keys)

    def scan(self, text: str | Normalised) -> dict[TermKey, list[tuple[int, int]]]:
        """Raw hits per term: ``(start, end)`` into the text, in text order."""
        out: dict[TermKey, list[tuple[int, int]]] = {}
        keys = self.keys
        norm = normalise_fast(text) if isinstance(text, str) else text
        for hit in self._matcher.scan(norm):
            out.setdefault(keys[hit.ref.target], []).append((hit.start, hit.end))
        return out


def longest_first(text: str, spans: Iterable[tuple[int, int]]) -> list[Occurrence]:
    """Overlapping hits keep the longest, then the first (``TermMatcher``'s rule); in text
    order."""
    return [Occurrence(s, e, text[s:e]) for s, e in keep_longest(spans)]


class ArticleView:
    """An ``ArticleEnriched`` prepared for evaluation (built once per article, read by every
    rule). Besides the article, it holds the per-article memos through which rules share
    their work (see ``conditions.Node.key``): they live as long as the view."""

    __slots__ = (
        "_bounds",
        "_folded",
        "_mentions",
        "_paragraph_starts",
        "_paragraphs",
        "_sentence_starts",
        "_sentences_ordered",
        "_tag_hits",
        "_term_keys",
        "_term_probes",
        "_term_spans",
        "_terms",
        "_title_end",
        "_word_starts",
        "_words",
        "article",
        "cache",
        "conjunctions",
        "entities",
        "event",
        "inside",
        "keys",
        "node_keys",
        "reach",
        "text",
        "unit_memo",
        "units",
        "whole",
    )

    def __init__(self, event: ArticleEnriched, terms: TermBank | None = None) -> None:
        self.event = event
        self.article = event.article
        self.text = event.analysed_text
        #: the region of the whole text
        self.whole = (0, len(self.text))
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
        self._term_spans: dict[TermKey, list[tuple[int, int]]] | None = None
        self._term_keys: frozenset[str] | None = None
        self._folded: Normalised | None = None
        self._term_probes: dict[str, bool] = {}
        self._tag_hits: dict[str, list[Occurrence]] = {}
        self._sentence_starts: list[int] | None = None
        self._sentences_ordered: bool | None = None
        self._paragraphs: list[tuple[int, int]] | None = None
        self._paragraph_starts: list[int] = []
        self._words: list[tuple[int, int]] | None = None
        self._word_starts: list[int] | None = None
        self._title_end: int | None = None
        self._mentions: dict[tuple[str | tuple[str, ...], str], OccurrenceEntry] = {}
        #: per-article memo of the conditions' occurrences (leaf id -> occurrences, with
        #: their starts and ends in start order)
        self.cache: dict[int, OccurrenceEntry] = {}
        #: per-article memo of the scopes' units, their starts and ends (``unit_bounds``)
        self._bounds: dict[str | int, tuple[list[int], list[int]] | None] = {}
        #: per-article memo of where an entry's occurrences reach in a scope (``conditions``)
        self.reach: dict[tuple[int, str | int, tuple[int, int]], tuple[list[int], list[int]]] = {}
        #: per-article memo of the scopes' units: (scope, offset) -> (start, end)
        self.unit_memo: dict[tuple[str | int, int], tuple[int, int]] = {}
        #: per-article memo of the occurrences inside a region: (id of the entry, region)
        self.inside: dict[tuple[int, tuple[int, int]], list[Occurrence]] = {}
        #: per-article memo of ``all`` of leaves: (scope, region, ids of the entries) -> the
        #: occurrences of each inside the unit where they hold together, or None
        self.conjunctions: dict[tuple[object, ...], tuple[list[Occurrence], ...] | None] = {}
        #: per-article memo of the combinators' keys (node id -> ``Node.key``)
        self.node_keys: dict[int, Hashable] = {}
        #: per-article memo of scoped conditions: (node key, region) -> the unit that holds
        self.units: dict[tuple[Hashable, tuple[int, int]], tuple[int, int] | None] = {}

    # -- terms and tags --------------------------------------------------------------------

    def folded(self) -> Normalised:
        """The text folded as ``services.text`` folds it (once per article)."""
        if self._folded is None:
            self._folded = normalise_fast(self.text)
        return self._folded

    def term_spans(self) -> dict[TermKey, list[tuple[int, int]]]:
        """The rule set's terms found in the text (one fold, one scan, per article)."""
        if self._term_spans is None:
            self._term_spans = self._terms.scan(self.folded()) if self._terms else {}
        return self._term_spans

    def term_keys(self) -> frozenset[str]:
        """The anchors (``w:lang:term``) of the rule set's terms found in the text."""
        if self._term_keys is None:
            self._term_keys = frozenset(term_anchor(k) for k in self.term_spans())
        return self._term_keys

    def has_term(self, anchor: str) -> bool:
        """Whether the term of ``anchor`` is in the text: ``anchor in term_keys()``.

        Why not always the scan: most articles that name a rule's entity lack its terms,
        and a term can only be where one of its automaton keys is a substring of the folded
        text. A few substring searches (C speed) settle that; the scan runs only when one
        succeeds (or once ``term_keys`` is known anyway).
        """
        if self._term_keys is not None:
            return anchor in self._term_keys
        known = self._term_probes.get(anchor)
        if known is None:
            literals = self._terms.literals.get(anchor, ()) if self._terms else ()
            text = self.folded().text
            known = any(literal in text for literal in literals) and anchor in self.term_keys()
            self._term_probes[anchor] = known
        return known

    def mentions(self, entity_id: str, form: str = "any") -> OccurrenceEntry:
        """An entity's mentions (of a form, or "any"), built once per article: one entry
        for every leaf of every rule that reads it (``conditions.Entities``)."""
        key = (entity_id, form)
        found = self._mentions.get(key)
        if found is None:
            entity = self.entities.get(entity_id)
            found = occurrence_entry(
                []
                if entity is None
                else [
                    Occurrence(m.start, m.end, m.surface)
                    for m in entity.mentions
                    if form in ("any", m.form)
                ]
            )
            self._mentions[key] = found
        return found

    def mentions_of(self, entity_ids: tuple[str, ...], form: str = "any") -> OccurrenceEntry:
        """The mentions of several entities (in that order), built once per article."""
        key = (entity_ids, form)
        found = self._mentions.get(key)
        if found is None:
            every = [o for i in entity_ids for o in self.mentions(i, form)[0]]
            found = self._mentions[key] = occurrence_entry(every)
        return found

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

    @property
    def sentences_ordered(self) -> bool:
        """Whether the sentences' starts and ends both never decrease (as the enricher
        writes them), so that the sentence of an offset grows with the offset."""
        if self._sentences_ordered is None:
            spans = self.event.sentences
            self._sentences_ordered = all(
                a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(spans)
            )
        return self._sentences_ordered

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
            self._paragraph_starts = [s for s, _ in spans]
        index = bisect.bisect_right(self._paragraph_starts, offset) - 1
        return self._paragraphs[max(0, index)]

    def unit_bounds(self, scope: str | int) -> tuple[list[int], list[int]] | None:
        """The starts and ends of a scope's units, both never decreasing, computed once per
        article and shared by every rule: sentences (one unit, the text, when there are
        none), paragraphs, or words (``scope`` an int: windows of that many words, which
        start at a word and end at the end of the N-th word after it).

        The unit of an offset is the last one starting at or before it (else the first), as
        ``sentence_span``, ``paragraph_span`` and ``word_window`` find it. ``None`` when
        that does not hold: sentences out of order, a text without words.
        """
        key = "words" if isinstance(scope, int) else scope
        if key in self._bounds:
            return self._bounds[key]
        bounds: tuple[list[int], list[int]] | None
        if key == "sentence":
            spans = self.event.sentences
            if not spans:
                bounds = [0], [len(self.text)]
            elif self.sentences_ordered:
                bounds = [s.start for s in spans], [s.end for s in spans]
            else:
                bounds = None
        elif key == "paragraph":
            self.paragraph_span(0)
            assert self._paragraphs is not None
            bounds = self._paragraph_starts, [end for _, end in self._paragraphs]
        else:
            bounds = word_bounds(self.text)
        self._bounds[key] = bounds
        return bounds

    def word_window(self, offset: int, words: int) -> tuple[int, int]:
        """From the word at ``offset`` (the last word starting at or before it, else the
        first word) to the end of the ``words``-th word after it.

        Found around ``offset`` (a few regex steps), not by splitting the whole text.
        """
        text = self.text
        start = _word_start_at_or_before(text, offset)
        if start is None:  # no word starts at or before offset (or a very long walk)
            return self._word_window_by_list(offset, words)
        last_end = start
        for count, match in enumerate(_WORD.finditer(text, start)):
            last_end = match.end()
            if count == words:
                break
        return start, last_end

    def _word_window_by_list(self, offset: int, words: int) -> tuple[int, int]:
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


_WALK = 64


def _word_start_at_or_before(text: str, offset: int) -> int | None:
    """The start of the last ``\\w+`` word that starts at or before ``offset``; ``None``
    when there is none, or when finding it would take more than ``_WALK`` steps."""
    i = min(offset, len(text))
    steps = 0
    if i < len(text) and _WORD_CHAR(text, i):
        while i > 0 and _WORD_CHAR(text, i - 1):
            i -= 1
            steps += 1
            if steps > _WALK:
                return None
        return i
    i -= 1  # back over the gap to the end of the previous word
    while i >= 0 and not _WORD_CHAR(text, i):
        i -= 1
        steps += 1
        if steps > _WALK:
            return None
    if i < 0:
        return None
    while i > 0 and _WORD_CHAR(text, i - 1):
        i -= 1
        steps += 1
        if steps > _WALK:
            return None
    return i


@cache
def _word_table() -> npt.NDArray[np.bool_]:
    """Whether each BMP character is ``\\w`` (as ``re`` reads it): built once, from ``re``."""
    word = re.compile(r"\w").match
    return np.array([word(chr(c)) is not None for c in range(0x10000)], dtype=np.bool_)


def word_bounds(text: str) -> tuple[list[int], list[int]] | None:
    """The starts and ends of the ``\\w+`` words of ``text`` (``None`` without words).

    Why not ``re.finditer``: a match object per word makes it four to five times slower
    (about 90 us against 20 us for a 2,000-character article on the bench machine); here,
    one table lookup per character in numpy, then the edges between word and non-word."""
    table = _word_table()
    try:
        if text.isascii():
            flags = table[:128].take(np.frombuffer(text.encode("ascii"), dtype=np.uint8))
        else:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            if int(codes.max()) > 0xFFFF:
                raise ValueError("astral characters")
            flags = table.take(codes)
    except (UnicodeEncodeError, ValueError):  # lone surrogates, astral characters: re itself
        spans = [m.span() for m in _WORD.finditer(text)]
        return ([s for s, _ in spans], [e for _, e in spans]) if spans else None
    if not flags.size:
        return None
    edges: list[int] = (np.flatnonzero(flags[1:] != flags[:-1]) + 1).tolist()
    if flags[0]:
        edges.insert(0, 0)
    if flags[-1]:
        edges.append(len(text))
    return (edges[0::2], edges[1::2]) if edges else None


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
