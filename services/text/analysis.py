"""``analyse()``: language, sentences, entities, countries and tags of one article.

How a text is read:

1. the analysed text is the title, a blank line, and the body (the offsets of every
   mention index it, as ``ArticleEnriched.analysed_text`` says);
2. it is folded (``normalise``) and scanned once by the automaton holding every alias,
   ignored phrase, tag keyword and context cue (``matcher``);
   a name in Latin script in another language than English counts only in texts of that
   language (``_only_in``: German "Island" is not Iceland in English);
3. entity hits and ignored phrases compete for the text: the longest wins ("South Ossetia"
   over "Ossetia", "New Mexico" hides "Mexico");
4. a name shared by several entries ("Georgia": the country and the US state) goes to the
   entry with the most support in the article: its cues (Tbilisi, Caucasus / Atlanta,
   governor) and the other entities that share its countries; ties go to ``priority``;
5. countries are those named, plus those of the places and persons mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from services.text.fastfold import normalise_fast
from services.text.gazetteer import Alias, Entry, Gazetteer, default_gazetteer
from services.text.inflection import expand, script_language
from services.text.language import Language, detect_language
from services.text.matcher import (
    CASE_CAPITALISED,
    CASE_INSENSITIVE,
    CASE_UPPER,
    GUARD_ACRONYM,
    GUARD_NONE,
    GUARD_PERSON_NAME,
    GUARD_SURNAME,
    GUARD_WORD,
    Hit,
    Matcher,
    Ref,
    spelt_out,
)
from services.text.normalise import Normalised, fold
from services.text.sentences import sentence_index, split_sentences
from services.text.spans import keep_longest

__all__ = [
    "Analyser",
    "Analysis",
    "EntityHit",
    "Mention",
    "TagMatch",
    "analyse",
    "compose_text",
    "default_analyser",
]

ENTITY = 0
IGNORE = 1
TAG = 2
CUE = 3

_CASES = {"insensitive": CASE_INSENSITIVE, "capitalised": CASE_CAPITALISED, "upper": CASE_UPPER}
_GUARDS = {
    "none": GUARD_NONE,
    "person-name": GUARD_PERSON_NAME,
    "surname": GUARD_SURNAME,
    "acronym": GUARD_ACRONYM,
    "word": GUARD_WORD,
}


@dataclass(frozen=True, slots=True)
class Mention:
    """One occurrence: offsets into the analysed text, sentence index, surface, form."""

    start: int
    end: int
    sentence: int
    surface: str
    form: str = "name"


@dataclass(frozen=True, slots=True)
class EntityHit:
    """An entity found in the text with all its mentions, in text order."""

    id: str
    kind: str
    name: str
    countries: tuple[str, ...]
    mentions: tuple[Mention, ...]


@dataclass(frozen=True, slots=True)
class TagMatch:
    """A tag set by the text, with the surface forms of the keywords that set it."""

    id: str
    terms: tuple[str, ...]
    mentions: tuple[Mention, ...] = ()


@dataclass(frozen=True)
class Analysis:
    """What ``analyse`` found. ``norm`` keeps the folded text for term matching."""

    text: str
    language: Language
    sentences: tuple[tuple[int, int], ...]
    entities: tuple[EntityHit, ...]
    countries: tuple[str, ...]
    tags: tuple[TagMatch, ...]
    norm: Normalised

    def sentence_of(self, offset: int) -> int:
        """Index of the sentence holding ``offset`` of the analysed text."""
        return sentence_index(self._starts, offset)

    @property
    def _starts(self) -> list[int]:
        return [start for start, _ in self.sentences]

    def entity(self, entity_id: str) -> EntityHit | None:
        for hit in self.entities:
            if hit.id == entity_id:
                return hit
        return None

    @property
    def entity_ids(self) -> frozenset[str]:
        return frozenset(hit.id for hit in self.entities)


def compose_text(title: str, text: str) -> str:
    """The analysed text: title, blank line, body (either may be empty)."""
    title = title.strip()
    text = text.strip()
    if title and text:
        return f"{title}\n\n{text}"
    return title or text


class Analyser:
    """A gazetteer compiled into one automaton, ready to analyse texts (thread-safe)."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        matcher = Matcher()
        for index, entry in enumerate(gazetteer.entries):
            given = frozenset(fold(a.text.split()[0])[:4] for a in entry.aliases if " " in a.text)
            for alias in entry.aliases:
                names: frozenset[str] = frozenset()
                if alias.guard == "surname":
                    names = given
                elif alias.guard in ("acronym", "word"):
                    names = spelt_out((a.text for a in entry.aliases), alias.text)
                ref = Ref(
                    ENTITY,
                    index,
                    alias.form,
                    _CASES[alias.case],
                    _GUARDS[alias.guard],
                    _only_in(alias),
                    names,
                )
                matcher.add(expand(alias.text, alias.lang, alias.form, syncope=False), ref)
            for cue in entry.cues:
                cue_lang = script_language(cue)
                matcher.add(expand(cue, cue_lang, "adjective", syncope=False), Ref(CUE, index))
        for lang, phrase in gazetteer.ignore:
            matcher.add(expand(phrase, lang), Ref(IGNORE, -1))
        for index, tag in enumerate(gazetteer.tags):
            for lang, keyword in tag.keywords:
                form = "name" if lang in {"ru", "uk", "hy", "az", "tr", "kk", "ka"} else "term"
                matcher.add(expand(keyword, lang, form), Ref(TAG, index))
        self.matcher = matcher.build()
        self._countries = [set(entry.countries) for entry in gazetteer.entries]

    @property
    def pattern_count(self) -> int:
        """Number of distinct keys in the automaton."""
        return len(self.matcher)

    def analyse(self, title: str, text: str = "", language_hint: str | None = None) -> Analysis:
        """Analyse one article; offsets index ``compose_text(title, text)``."""
        full = compose_text(title, text)
        norm = normalise_fast(full)  # exactly ``normalise``, ten times faster
        sentences = tuple(split_sentences(full))
        starts = [start for start, _ in sentences]
        language = detect_language(full, language_hint)
        hits = self.matcher.scan(norm)
        named: list[Hit] = []
        cues: list[Hit] = []
        tags: list[Hit] = []
        for hit in hits:
            kind = hit.ref.kind
            if kind in (ENTITY, IGNORE):
                if hit.ref.lang is None or _counts_in(hit.ref.lang, language.code):
                    named.append(hit)
            elif kind == TAG:
                tags.append(hit)
            else:
                cues.append(hit)
        groups = _longest(named)
        chosen = self._resolve(groups, cues, starts)
        entities = self._entities(chosen, full, starts)
        countries = tuple(dict.fromkeys(code for e in entities for code in e.countries))
        return Analysis(
            text=full,
            language=language,
            sentences=sentences,
            entities=entities,
            countries=countries,
            tags=self._tags(tags, full, starts),
            norm=norm,
        )

    # ------------------------------------------------------------------ internals

    def _resolve(self, groups: list[list[Hit]], cues: list[Hit], starts: list[int]) -> list[Hit]:
        """One hit per span: the only sense, or the best-supported one."""
        chosen: list[Hit] = []
        ambiguous: list[list[Hit]] = []
        for group in groups:
            senses = {hit.ref.target for hit in group}
            if len(senses) == 1:
                chosen.append(group[0])
            else:
                ambiguous.append(group)
        if not ambiguous:
            return chosen
        entries = self.gazetteer.entries
        known = {hit.ref.target for hit in chosen}
        for group in ambiguous:
            sentence = sentence_index(starts, group[0].start)
            best: tuple[int, int, int] | None = None
            best_hit = group[0]
            for hit in dict((h.ref.target, h) for h in group).values():
                target = hit.ref.target
                score = 0
                for cue in cues:
                    if cue.ref.target == target:
                        same = sentence_index(starts, cue.start) == sentence
                        score += 2 if same else 1
                mine = self._countries[target]
                for other in known:
                    if other != target and mine & self._countries[other]:
                        score += 1
                rank = (score, entries[target].priority, -target)
                if best is None or rank > best:
                    best, best_hit = rank, hit
            chosen.append(best_hit)
        chosen.sort(key=lambda h: h.start)
        return chosen

    def _entities(
        self, chosen: Sequence[Hit], full: str, starts: list[int]
    ) -> tuple[EntityHit, ...]:
        by_entity: dict[int, list[Mention]] = {}
        for hit in chosen:
            mention = Mention(
                hit.start,
                hit.end,
                sentence_index(starts, hit.start),
                full[hit.start : hit.end],
                "adjective" if hit.ref.form == "adjective" else "name",
            )
            by_entity.setdefault(hit.ref.target, []).append(mention)
        out = []
        for target, mentions in by_entity.items():
            entry: Entry = self.gazetteer.entries[target]
            out.append(
                EntityHit(entry.id, entry.kind, entry.name, entry.countries, tuple(mentions))
            )
        return tuple(out)

    def _tags(self, hits: Sequence[Hit], full: str, starts: list[int]) -> tuple[TagMatch, ...]:
        by_tag: dict[int, list[Mention]] = {}
        seen: set[tuple[int, int, int]] = set()
        for hit in hits:
            key = (hit.ref.target, hit.start, hit.end)
            if key in seen:
                continue
            seen.add(key)
            mention = Mention(
                hit.start, hit.end, sentence_index(starts, hit.start), full[hit.start : hit.end]
            )
            by_tag.setdefault(hit.ref.target, []).append(mention)
        tags = self.gazetteer.tags
        out = []
        for target in sorted(by_tag):
            mentions = by_tag[target]
            terms = tuple(dict.fromkeys(m.surface for m in mentions))
            out.append(TagMatch(tags[target].id, terms, tuple(mentions)))
        return tuple(out)


def _only_in(alias: Alias) -> str | None:
    """The language an alias counts in, when it must not count in others: a name in Latin
    script in a language other than English. Where English writes a name the same way, the
    English alias counts (with its own case rule and guard).

    Why: such exonyms are often words, names or acronyms of English and its neighbours. In
    19,901 English articles of the corpus, Azerbaijani "Aİ" (the EU) matched "AI" 239
    times, German "Island" (Iceland) 104, French "Suisse", "Maurice" and "Chili" (Credit
    Suisse, Maurice Winspear, the Red Hot Chili Peppers), Turkish "ABD" and "FAS"... Names
    in other scripts (ОДКБ in an English text) stand out as names and count everywhere.
    """
    return None if alias.lang == "en" or not _LATIN.fullmatch(alias.text) else alias.lang


def _counts_in(only: str, code: str) -> bool:
    """Whether an alias of language ``only`` counts in a text in ``code`` ("und": any)."""
    return code in (only, "und") or _KINDRED.get(only, only) == _KINDRED.get(code, code)


# Languages close enough for the detector to take one for the other on a short text: an
# exonym of one counts in the other (py3langid reads short Uzbek texts as Turkish or
# Azerbaijani).
_KINDRED = {"tr": "az", "uz": "az"}
_LATIN = re.compile(r"[\u0000-\u024f\u1e00-\u1eff\u2000-\u206f]+")


def _longest(hits: list[Hit]) -> list[list[Hit]]:
    """Non-overlapping groups of hits, longest spans first; ignored phrases dropped.

    A group holds the hits that share one span (several senses of one name).
    """
    if not hits:
        return []
    spans: dict[tuple[int, int], list[Hit]] = {}
    for hit in hits:
        spans.setdefault((hit.nstart, hit.nend), []).append(hit)
    groups = ([h for h in spans[span] if h.ref.kind == ENTITY] for span in keep_longest(spans))
    return [group for group in groups if group]


@cache
def default_analyser() -> Analyser:
    """The analyser over the bundled gazetteer, built once per process."""
    return Analyser(default_gazetteer())


def analyse(title: str, text: str = "", language_hint: str | None = None) -> Analysis:
    """Analyse one article with the bundled gazetteer (see ``Analyser.analyse``)."""
    return default_analyser().analyse(title, text, language_hint)
