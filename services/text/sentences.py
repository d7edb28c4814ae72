"""Sentence segmentation that keeps character offsets.

Why rules and not a model: rules need sentence indices as evidence ("same sentence"), and a
few regular expressions with an abbreviation list are fast, predictable and good enough for
news prose in English and Russian. A sentence ends at ``.``, ``!``, ``?``, ``…``, the
Armenian full stop ``։`` or a CJK stop, when whitespace and a non-lower-case character
follow; a blank line always ends one (so a title is its own sentence). A period does not
end a sentence after a known abbreviation ("Mr.", "Gen.", "т.е.", "г."), an initial ("V.
Putin", "В. Путин") or a dotted acronym ("U.S.") unless a common sentence opener follows
("... in the U.S. The talks ...").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

__all__ = ["sentence_index", "split_sentences"]

_ABBREVIATIONS = frozenset(
    {
        # English titles, ranks and Latin
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cpt",
        "sgt",
        "adm",
        "cmdr",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "pres",
        "amb",
        "fr",
        "no",
        "nos",
        "vs",
        "v",
        "etc",
        "approx",
        "est",
        "dept",
        "univ",
        "inc",
        "corp",
        "ltd",
        "co",
        "bros",
        "mt",
        "ft",
        "ave",
        "blvd",
        "rd",
        "fig",
        "vol",
        "pp",
        "p",
        "cf",
        "al",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "u.s.a",
        # Russian
        "г",
        "гг",
        "ул",
        "д",
        "кв",
        "обл",
        "р-н",
        "пр",
        "просп",
        "им",
        "т",
        "т.е",
        "т.д",
        "т.п",
        "т.к",
        "др",
        "см",
        "тыс",
        "млн",
        "млрд",
        "трлн",
        "руб",
        "долл",
        "ген",
        "проф",
        "акад",
        "зам",
        "пред",
        "стр",
        "рис",
        "ч",
        "мин",
        "сек",
        "н.э",
        "с",
        "ст",
        "англ",
        "рус",
        "груз",
        "арм",
        "азерб",
        "ок",
        "г-н",
        "г-жа",
    }
)
_OPENERS = frozenset(
    {
        "The",
        "A",
        "An",
        "He",
        "She",
        "It",
        "They",
        "We",
        "I",
        "In",
        "On",
        "At",
        "But",
        "And",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "His",
        "Her",
        "Its",
        "Their",
        "However",
        "Meanwhile",
        "After",
        "Before",
        "When",
        "While",
        "According",
        "As",
        "Он",
        "Она",
        "Они",
        "Это",
        "В",
        "На",
        "По",
        "Но",
        "При",
        "Как",
    }
)

_END = re.compile(r"[.!?\u2026\u0589\u3002\uff01\uff1f]+[\"'\u00bb\u201d\u2019)\]]*(?=\s|$)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_NEXT_WORD = re.compile(r"\s*([\"'\u00ab\u201c(\[]?)(\w*)")


_WORD_BEFORE = re.compile(r"[^\W_][\w.\-]*\Z|\Z")


def _word_before(text: str, stop: int) -> str:
    """The word (with inner dots: "U.S") that ends right before the period at ``stop``
    (at most 30 characters back; one regex search instead of a loop in Python)."""
    found = _WORD_BEFORE.search(text, max(0, stop - 30), stop)
    return found.group(0).lstrip(".-") if found else ""


def _is_boundary(text: str, match: re.Match[str], text_end: int) -> bool:  # noqa: PLR0911
    token = match.group(0)
    if token[0] == "\n":
        return True
    end = match.end()
    if end >= text_end:
        return True
    after = _NEXT_WORD.match(text, end)
    assert after is not None
    next_word = after.group(2)
    if next_word[:1].islower():
        return False
    if token[0] != "." or len(token.rstrip("\"'\u00bb\u201d\u2019)]")) > 1:
        return True
    if "\n\n" in text[end : after.start(2)]:
        return True
    word = _word_before(text, match.start())
    if not word or not word[-1].isalpha():
        return True
    lowered = word.lower()
    if "." in word and all(len(part) <= 2 for part in word.split(".")):
        # a dotted acronym ("U.S") or abbreviation ("т.е"): ends a sentence only before a
        # common sentence opener
        return next_word in _OPENERS
    if lowered in _ABBREVIATIONS:
        if lowered in {"etc", "inc", "ltd", "corp", "co"}:
            return next_word in _OPENERS
        return False
    return not (len(word) == 1 and word.isupper())


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text``, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    text_end = len(text.rstrip())
    matches = list(_END.finditer(text))
    if "\n" in text:
        matches.extend(_BLANK_LINE.finditer(text))
        matches.sort(key=lambda m: m.start())
    for match in matches:
        if match.start() < start:
            continue
        if not _is_boundary(text, match, text_end):
            continue
        end = match.end() if not match.group(0).startswith("\n") else match.start()
        _append(text, start, end, spans)
        start = match.end()
    _append(text, start, len(text), spans)
    return spans


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def sentence_index(starts: Sequence[int], offset: int) -> int:
    """Index of the sentence holding ``offset``, given the sentences' start offsets."""
    return max(0, bisect_right(starts, offset) - 1)
