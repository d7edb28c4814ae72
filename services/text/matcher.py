"""One Aho-Corasick automaton over every folded pattern, and the checks around a hit.

Why one automaton: a scan costs the length of the text plus the hits, whatever the number
of aliases, so the gazetteer can grow (users' entries, 50,000 padding aliases in the
bench) without slowing the enricher. Every pattern (entity aliases, ignored phrases, tag
keywords, context cues, users' terms) is a key; a key maps to the references that use it.

Why the automaton is cut by script: pyahocorasick finds a node's child by a linear search,
and the root of an automaton holding Latin, Cyrillic, Armenian, Arabic and Chinese keys has
hundreds of children, visited at almost every character of the text. The keys are
therefore split into one automaton per script block (ASCII, Cyrillic, Armenian, Arabic
and the rest) by their first non-ASCII character. A key can only occur in a text that
holds that character's block, so a text is scanned by the ASCII automaton and by those of
the blocks it contains: an English article (ASCII once folded) by one small automaton.
The cost per character still does not grow with the number of keys.

A raw automaton hit becomes a ``Hit`` only when:

- it starts a word (the folded character before it is not a letter or digit), except for
  patterns in scripts written without spaces (Chinese, Japanese);
- what follows it up to the end of the word is one of the pattern's allowed tails
  (``services.text.inflection``), so "Iran" does not match inside "Iranian" and "Oman" is
  never read in "woman";
- its surface in the original text obeys the alias's case rule ("US" but not "us").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from services.text.inflection import Pattern
from services.text.normalise import Normalised, fold

__all__ = [
    "CASE_CAPITALISED",
    "CASE_INSENSITIVE",
    "CASE_UPPER",
    "GUARD_ACRONYM",
    "GUARD_NONE",
    "GUARD_PERSON_NAME",
    "GUARD_SURNAME",
    "GUARD_WORD",
    "Hit",
    "Matcher",
    "Ref",
    "spelt_out",
]

CASE_INSENSITIVE = 0
CASE_CAPITALISED = 1
CASE_UPPER = 2
GUARD_NONE = 0
#: A name that may be part of a person's name ("Michael Jordan", "Chad Smith").
GUARD_PERSON_NAME = 1
#: A person's surname alone, which another given name makes someone else ("Elchin Aliyev").
GUARD_SURNAME = 2
#: An organisation's acronym, which a text may give to something else: "International
#: Cricket Council (ICC)", "SCO Group", "CIS Cup".
GUARD_ACRONYM = 3
#: An acronym that is also a common word ("WHO", "PACE"): ``GUARD_ACRONYM``, and in a line
#: written all in capitals ("THOSE WHO FLED") it counts only if the text names its entity
#: elsewhere too.
GUARD_WORD = 4

_WORD_TAIL = re.compile(r"[^\W_]*")

#: Script blocks with an automaton of their own (besides ASCII and "the rest").
_BLOCKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cyrillic", re.compile("[\u0400-\u052f]")),
    ("armenian", re.compile("[\u0530-\u058f\ufb13-\ufb17]")),
    ("arabic", re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")),
)
_OTHER = "other"
_ASCII = "ascii"


def _first_non_ascii(key: str) -> str | None:
    for ch in key:
        if not ch.isascii():
            return ch
    return None


def _block_of(ch: str | None) -> str:
    """The automaton a key goes to: that of its first non-ASCII character's block."""
    if ch is None:
        return _ASCII
    for name, pattern in _BLOCKS:
        if pattern.match(ch):
            return name
    return _OTHER


def _unbounded(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0x0E00 <= code <= 0x0E7F  # Thai
    )


@dataclass(frozen=True, slots=True)
class Ref:
    """What a pattern stands for. ``kind`` and ``target`` are the caller's (e.g. an entity
    index); ``form`` is "name" or "adjective"; ``case`` one of the ``CASE_*`` rules;
    ``guard`` one of the ``GUARD_*`` rules; ``lang`` the only text language the pattern
    counts in (None: any), which the caller checks."""

    kind: int
    target: int
    form: str = "name"
    case: int = CASE_INSENSITIVE
    guard: int = GUARD_NONE
    lang: str | None = None
    #: for ``GUARD_SURNAME``: the first four letters of the person's given names, folded
    #: (a misspelt or inflected one still counts); for ``GUARD_ACRONYM``: the entity's
    #: names spelt out (``spelt_out``)
    names: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Hit:
    """A checked match. ``start``/``end`` index the original text, ``nstart``/``nend`` the
    folded one; ``end`` includes the inflection tail."""

    start: int
    end: int
    nstart: int
    nend: int
    ref: Ref


_Value = tuple[int, bool, tuple[tuple[frozenset[str] | None, Ref], ...]]


class Matcher:
    """Collect patterns with ``add``, call ``build`` once, then ``scan`` texts."""

    def __init__(self) -> None:
        self._patterns: dict[str, list[tuple[frozenset[str] | None, Ref]]] = {}
        self._ascii: ahocorasick.Automaton | None = None
        # (characters one of which a text must hold, automaton) per non-ASCII block
        self._gated: list[tuple[re.Pattern[str], ahocorasick.Automaton]] = []

    def add(self, patterns: Iterable[Pattern], ref: Ref) -> None:
        for pattern in patterns:
            key = pattern.key.strip()
            if key:
                self._patterns.setdefault(key, []).append((pattern.tails, ref))

    def __len__(self) -> int:
        return len(self._patterns)

    def build(self) -> Matcher:
        automata: dict[str, ahocorasick.Automaton] = {}
        gates: dict[str, set[str]] = {}
        for key, refs in self._patterns.items():
            value: _Value = (len(key), _unbounded(key[0]), tuple(dict.fromkeys(refs)))
            first = _first_non_ascii(key)
            block = _block_of(first)
            if block not in automata:
                automata[block] = ahocorasick.Automaton()
            automata[block].add_word(key, value)
            if first is not None:
                gates.setdefault(block, set()).add(first)
        for automaton in automata.values():
            automaton.make_automaton()
        self._ascii = automata.pop(_ASCII, None)
        self._gated = [
            (re.compile("[" + "".join(re.escape(c) for c in sorted(gates[name])) + "]"), automaton)
            for name, automaton in automata.items()
        ]
        return self

    def _automata_for(self, text: str) -> list[ahocorasick.Automaton]:
        chosen = [] if self._ascii is None else [self._ascii]
        if text.isascii():
            return chosen
        for gate, automaton in self._gated:
            if gate.search(text) is not None:
                chosen.append(automaton)
        return chosen

    def scan(self, norm: Normalised) -> list[Hit]:
        """Every checked hit in ``norm``, overlapping ones included, in text order.

        A surname after a capitalised word that is not a title is someone else's
        ("Gerhard Stoltenberg"), unless that word is itself a name found here ("В Москве
        Путин"); an acronym spelt out as another name or naming a company is another body's
        ("International Cricket Council (ICC)", "SCO Group"). One sense per text: the
        alias's other uses in that text are then someone else's too ("Stoltenberg said",
        "IBM and SCO"), unless the text also names the alias's entity in full.
        """
        automata = self._automata_for(norm.text)
        if not automata:
            return []
        # A text without a single capital (some archives are lower-cased whole) says
        # nothing about proper nouns: "capitalised" cannot hold in it, so it is not asked.
        # Acronyms stay upper case only: "us" is a word in any text.
        caseless = norm.original.islower()
        doubtful: list[tuple[Hit, int]] = []
        others: set[Ref] = set()
        shouted: list[Hit] = []
        hits = [
            hit
            for automaton in automata
            for hit in self._scan(automaton, norm, caseless, (doubtful, others, shouted))
        ]
        if doubtful:
            ends = {h.end for h in hits}
            others.update(hit.ref for hit, word_end in doubtful if word_end not in ends)
            hits += [hit for hit, word_end in doubtful if word_end in ends]
        if others:
            named = {(h.ref.kind, h.ref.target) for h in hits if h.ref.guard not in _SENSES}
            hits = [h for h in hits if h.ref not in others or (h.ref.kind, h.ref.target) in named]
        if shouted:  # counted when the entity is named elsewhere in the text
            named = {(h.ref.kind, h.ref.target) for h in hits}
            hits += [h for h in shouted if (h.ref.kind, h.ref.target) in named]
        if len(automata) > 1 or doubtful or shouted:
            hits.sort(key=lambda h: (h.nstart, h.nend))
        return hits

    def _scan(
        self,
        automaton: ahocorasick.Automaton,
        norm: Normalised,
        caseless: bool,
        pending: Pending,
    ) -> list[Hit]:
        text = norm.text
        original = norm.original
        identity = norm.starts is None
        tail_match = _WORD_TAIL.match
        hits: list[Hit] = []
        for last, (length, unbounded, refs) in automaton.iter(text):
            nstart = last + 1 - length
            if nstart > 0 and not unbounded and text[nstart - 1].isalnum():
                continue
            key_end = last + 1
            tail_end = key_end
            if not unbounded:
                found = tail_match(text, key_end)
                tail_end = found.end() if found else key_end
            tail = text[key_end:tail_end]
            for tails, ref in refs:
                if tails is None or tail in tails:
                    nend = tail_end
                elif unbounded:
                    nend = key_end
                else:
                    continue
                start, end = (nstart, nend) if identity else norm.span(nstart, nend)
                if ref.case and not _case_ok(original[start:end], ref.case, caseless):
                    continue
                if _stock_symbol(original, start, end):
                    continue
                hit = Hit(start, end, nstart, nend, ref)
                if not ref.guard or _guard_passes(original, hit, pending):
                    hits.append(hit)
        return hits


#: what a scan leaves to decide once every hit is known: surnames after a given name
#: (with the given name's end), the aliases given to another body, word-like acronyms in
#: lines of capitals
Pending = tuple[list[tuple[Hit, int]], set[Ref], list[Hit]]


def _guard_passes(original: str, hit: Hit, pending: Pending) -> bool:
    """Whether a guarded hit counts now. A surname after a given name, and a word-like
    acronym in a line of capitals, wait in ``pending`` until every hit is known; an
    acronym given to another body puts its alias in ``pending``'s others."""
    doubtful, others, shouted = pending
    ref = hit.ref
    if ref.guard == GUARD_SURNAME:
        word_end = _given_name_before(original, hit.start, ref.names)
        if word_end is None:
            return True
        doubtful.append((hit, word_end))
        return False
    if ref.guard in (GUARD_ACRONYM, GUARD_WORD):
        if _given_to_another(original, hit.start, hit.end, ref.names):
            others.add(ref)
            return False
        if ref.guard == GUARD_WORD and _shouted(original, hit.start, hit.end):
            shouted.append(hit)
            return False
        return True
    return not _reads_as_person(original, hit.start, hit.end)


def _shouted(original: str, start: int, end: int) -> bool:
    """Whether the hit is in a line written all in capitals with other words in it
    ("THOSE WHO FLED THE BORDER"), where case cannot tell an acronym from a word."""
    line_start = original.rfind("\n", 0, start) + 1
    line_end = original.find("\n", end)
    line = original[line_start : len(original) if line_end < 0 else line_end]
    if any(c.islower() for c in line):
        return False
    rest = line[: start - line_start] + " " + line[end - line_start :]
    return any(sum(1 for c in word if c.isalpha()) >= 2 for word in rest.split())


def _stock_symbol(original: str, start: int, end: int) -> bool:
    """Whether the hit is a stock symbol or an exchange's suffix to one: "Union Carbide
    <UK>", "Concord Fabrics <CIS>", "<ICC.O>", "Sons of Gwalia Ltd. (SGW.AU)"."""
    before = original[start - 1 : start]
    if before == "<":
        return _SYMBOL_END.match(original, end) is not None
    return (
        before == "."
        and original[end : end + 1] == ")"
        and start > 1
        and original[start - 2].isalnum()
    )


#: the end of a symbol in angle brackets: ">", or an exchange's suffix and ">" (".O>")
_SYMBOL_END = re.compile(r"(?:\.[A-Z]{1,4})?>")


def _case_ok(surface: str, rule: int, caseless: bool) -> bool:
    if rule == CASE_UPPER:
        letters = [c for c in surface if c.isalpha()]
        return all(c.isupper() for c in letters)
    return caseless or surface[:1].isupper()


_NEXT_NAME = re.compile(r" ([A-ZА-ЯЁ][a-zа-яё]+)\b")
_PREV_NAME = re.compile(r"([A-ZА-ЯЁ][a-zа-яё]+) $")
_SENTENCE_OPENERS = frozenset(".!?:;\"'«“(\n")
_NOT_NAMES = frozenset(
    {
        "The",
        "In",
        "From",
        "To",
        "Of",
        "And",
        "For",
        "With",
        "By",
        "At",
        "On",
        "As",
        "King",
        "Queen",
        "Prince",
        "Kingdom",
        "Republic",
        "Visit",
        "Neighbouring",
        "Neighboring",
        "Northern",
        "Southern",
        "Eastern",
        "Western",
        "Central",
        "Says",
    }
)


#: Words that come before a surname without being a given name: titles, ranks, offices.
_TITLES = frozenset(
    {
        "President",
        "Prime",
        "Minister",
        "Premier",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "General",
        "Gen",
        "Colonel",
        "Marshal",
        "Deputy",
        "Speaker",
        "Chairman",
        "Senator",
        "Ambassador",
        "Foreign",
        "Defence",
        "Defense",
        "Leader",
        "Sheikh",
        "Emir",
        "Президент",
        "Премьер",
        "Министр",
        "Глава",
        "Лидер",
        "Спикер",
        "Посол",
        "Господин",
        "Генерал",
    }
)


def _given_name_before(original: str, start: int, given: frozenset[str]) -> int | None:
    """Where the given name before a surname ends, if one is there: a capitalised word,
    mid-sentence, that is not a title nor one of the person's own given names, however
    spelt ("Volodmyr Zelensky"; their full name is a longer alias, which wins). Not at the
    start of a sentence ("Then Putin said"), nor in a line written in title case ("A
    Defiant Putin Says...")."""
    before = _PREV_NAME.search(original, max(0, start - 40), start)
    if before is None or before.group(1) in _TITLES or before.group(1) in _NOT_NAMES:
        return None
    if fold(before.group(1))[:4] in given:
        return None
    # a text wrapped at a fixed width ("Finance Minister\nGerhard Stoltenberg") goes on
    # mid-sentence after one line break
    if not _mid_sentence(original, before.start(1), line_breaks=1):
        return None
    return None if _title_case(original, start) else before.end(1)


def _mid_sentence(original: str, at: int, line_breaks: int = 0) -> bool:
    """Whether the word at ``at`` is inside a sentence: back over the spaces before it (and
    up to ``line_breaks`` line breaks), something other than a sentence opener comes."""
    spaces = " \t\r\n" if line_breaks else " \t"
    pos, breaks = at - 1, 0
    while pos >= 0 and original[pos] in spaces:
        breaks += original[pos] == "\n"
        if breaks > line_breaks:
            break
        pos -= 1
    return pos >= 0 and original[pos] not in _SENTENCE_OPENERS


def _title_case(original: str, at: int) -> bool:
    """Whether the line holding ``at`` is a headline written in title case: at most 300
    characters, and no word of four letters or more starts in lower case ("A Defiant Putin
    Says Russia Will..."). Only that far is searched for the line's ends: a longer line is
    no headline, and reading it whole for each of its names would cost its length squared.
    """
    first = original.rfind("\n", max(0, at - _HEADLINE), at) + 1
    if first == 0 and at > _HEADLINE:
        return False
    last = original.find("\n", at, at + _HEADLINE)
    if last < 0:
        if len(original) - at > _HEADLINE:
            return False
        last = len(original)
    line = original[first:last]
    return len(line) <= _HEADLINE and not any(len(w) >= 4 and w[0].islower() for w in line.split())


_HEADLINE = 300


def _reads_as_person(original: str, start: int, end: int) -> bool:
    """Whether a name reads as part of a person's name: "Michael Jordan", "Chad Smith".

    A capitalised word right after it (a surname), or right before it in mid-sentence (a
    first name). Titles and prepositions do not count ("Georgia President Zourabichvili"),
    nor does a line written in title case, where every word has its capital ("Russia Warns
    Georgia Over Protests").
    """
    after = _NEXT_NAME.match(original, end)
    if after is not None and after.group(1) not in _NOT_NAMES and after.group(1) not in _TITLES:
        return not _title_case(original, start)
    window_start = max(0, start - 40)
    before = _PREV_NAME.search(original, window_start, start)
    if before is None or before.group(1) in _NOT_NAMES:
        return False
    return _mid_sentence(original, before.start(1)) and not _title_case(original, start)


#: Guards under which an alias may have another sense in a text, and so does not name its
#: entity for sure.
_SENSES = (GUARD_SURNAME, GUARD_ACRONYM, GUARD_WORD)

#: Words that make an acronym before them part of a company's or a competition's name
#: ("SCO Group", "CIS Cup", "ICC Champions Trophy").
_DESIGNATORS = frozenset(
    form
    for word in (
        *("Group", "Inc", "Corp", "Corporation", "Co", "Ltd", "Limited", "LLC", "Plc"),
        *("Holdings", "AG", "GmbH"),
        # not "Open" nor "League": "NATO Open Door policy", "a UN League of Nations"
        *("Cup", "Trophy", "Champions", "Championship", "Championships"),
    )
    for form in (word, word.upper())
)
#: the word after an acronym, not one that goes on ("UN Co-ordinator", "UN Group of Experts")
_NEXT_WORD = re.compile(r"[ \n]([A-Za-z]+)(?![\w-])(?! of\b)")
#: the words before "(": capitalised ones and the small words between them
_WORDS_BEFORE = re.compile(r"[^\W\d_][\w'’-]*|\S")
_CONNECTORS = frozenset(
    {"of", "the", "and", "for", "on", "in", "&", "de", "des", "du", "la", "le", "et", "der", "für"}
)


def spelt_out(names: Iterable[str], acronym: str) -> frozenset[str]:
    """How ``names`` spell ``acronym`` out: per name of enough capitalised words, the first
    four letters of its last ones, as many as the acronym has letters ("orga petr expo
    coun"), so that "Organisation" and "Organization" agree."""
    letters = sum(1 for c in acronym if c.isalpha())
    out = set()
    for name in names:
        words = [w for w in _WORDS_BEFORE.findall(name) if w[:1].isupper()]
        if len(words) >= letters and " " in name.strip():
            out.add(_spelling(words[len(words) - letters :]))
    return frozenset(out)


def _spelling(words: list[str]) -> str:
    return " ".join(fold(w.replace("-", ""))[:4] for w in words)


def _given_to_another(original: str, start: int, end: int, names: frozenset[str]) -> bool:
    """Whether this use of an acronym is another body's: a company's or a cup's ("SCO
    Group", "CIS Cup"), or spelt out before it in brackets as a name that is not one of
    the entity's ("the International Cricket Council (ICC)"). Initials that do not spell
    it are no definition ("Cynthia Ozick (US)")."""
    after = _NEXT_WORD.match(original, end)
    if after is not None and after.group(1) in _DESIGNATORS:
        return True
    if not (original[start - 1 : start] == "(" and original[end : end + 1] == ")"):
        return False
    letters = [c for c in original[start:end] if c.isalpha()]
    words: list[str] = []
    for token in reversed(_WORDS_BEFORE.findall(original, max(0, start - 200), start - 1)):
        if token[:1].isupper():
            words.append(token)
            if len(words) == len(letters):
                break
        elif token not in _CONNECTORS:
            break
    if len(words) < len(letters) or [w[0].upper() for w in reversed(words)] != [
        c.upper() for c in letters
    ]:
        return False
    return _spelling(words[::-1]) not in names
