"""Matching users' terms (rule conditions, ``tocsin rules match``) against analysed text.

Why here and not in the rules service: a rule's term must be read exactly as the enricher
reads names (same folding, same whole-word checks, same inflection), or a rule would miss
"Арменией" that the enricher found. A ``TermMatcher`` compiles a rule's terms into one
automaton once; ``find`` then costs one scan of the already folded text.

Term syntax:

- ``shelling``: whole word, case and diacritics ignored, with the inflection of its
  language (given, or guessed from the script: Cyrillic is read as Russian);
- ``sanction*``: a prefix, any word ending;
- ``=Georgia``: exact word, no inflection;
- several words ("border clash") match as a phrase.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.text.analysis import Analysis
from services.text.inflection import Pattern, expand, script_language
from services.text.matcher import Hit, Matcher, Ref
from services.text.normalise import normalise
from services.text.sentences import sentence_index, split_sentences
from services.text.spans import keep_longest

__all__ = ["TermHit", "TermMatcher", "match_terms", "term_patterns"]


@dataclass(frozen=True, slots=True)
class TermHit:
    """One occurrence of a user's term: offsets into the analysed text, its sentence, its
    surface form."""

    term: str
    start: int
    end: int
    sentence: int
    surface: str


def term_patterns(term: str, lang: str | None = None) -> list[Pattern]:
    """The automaton keys of one term, as ``TermMatcher`` reads it (for callers that put
    many terms in one ``Matcher``, such as a rule set's terms)."""
    term_lang = lang or script_language(term)
    return expand(term, term_lang, "name" if term_lang != "en" else "term")


class TermMatcher:
    """Compiled terms. Build once per rule, call ``find`` per article."""

    def __init__(self, terms: Iterable[str], lang: str | None = None) -> None:
        self.terms: tuple[str, ...] = tuple(dict.fromkeys(t.strip() for t in terms if t.strip()))
        matcher = Matcher()
        for index, term in enumerate(self.terms):
            matcher.add(term_patterns(term, lang), Ref(0, index))
        self._matcher = matcher.build()

    def find(self, analysis: Analysis) -> list[TermHit]:
        """Every whole-word occurrence of the terms in ``analysis.text``, in text order.

        Overlapping occurrences keep the longest ("South Ossetia" over "Ossetia").
        """
        starts = [start for start, _ in analysis.sentences]
        return self._collect(analysis.norm.original, self._matcher.scan(analysis.norm), starts)

    def find_text(self, text: str) -> list[TermHit]:
        """As ``find``, for a plain text that was not analysed (sentences split here)."""
        starts = [start for start, _ in split_sentences(text)]
        return self._collect(text, self._matcher.scan(normalise(text)), starts)

    def _collect(self, text: str, hits: Sequence[Hit], starts: list[int]) -> list[TermHit]:
        return [
            TermHit(
                self.terms[hit.ref.target],
                hit.start,
                hit.end,
                sentence_index(starts, hit.start),
                text[hit.start : hit.end],
            )
            for hit in keep_longest(hits, _span)
        ]

    def matched_terms(self, analysis: Analysis) -> frozenset[str]:
        """The terms that occur at least once (for all / any / none conditions)."""
        return frozenset(hit.term for hit in self.find(analysis))


def _span(hit: Hit) -> tuple[int, int]:
    return hit.start, hit.end


def match_terms(analysis: Analysis, terms: Iterable[str], lang: str | None = None) -> list[TermHit]:
    """One-off convenience: compile ``terms`` and find them in ``analysis``."""
    return TermMatcher(terms, lang).find(analysis)
