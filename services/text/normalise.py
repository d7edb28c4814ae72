"""Text normalisation for matching, with a map back to the original offsets.

Matching happens on a folded copy of the text (case folded, diacritics stripped, ``ё`` read
as ``е``, apostrophes, dashes and spaces unified) so that "Əliyev" finds "Aliyev" and
"Арменией" finds "Армения". Mentions must still point into the *original* text, so the
normaliser keeps, for every folded character, the index of the original character it came
from.

Why a per-character table: almost every character folds to exactly one character, so the
folded text has the same length as the original and the offset map is the identity. That
case runs as one ``str.translate`` call (C speed). Texts holding one of the few
characters that fold to zero or several characters (combining marks, soft hyphens,
zero-width spaces, ``ß``, ligatures, Armenian ``և``) also build an explicit map; the
stretches between those characters are still translated in one call each.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

__all__ = ["Normalised", "fold", "is_word_char", "normalise"]

# Characters whose folding is decided by hand, before the generic rule.
_SPECIAL: dict[str, str] = {
    # Azerbaijani / Turkish letters without a decomposition.
    "ə": "a",
    "Ə": "a",
    "ı": "i",
    "ł": "l",
    "Ł": "l",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "Đ": "d",
    "ħ": "h",
    # Apostrophes and quotes that stand for an apostrophe.
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "\u02b9": "'",
    "`": "'",
    "\u00b4": "'",
    "\u2032": "'",
    # Dashes and hyphens.
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u058a": "-",
    # Ellipsis: one character, so offsets stay aligned.
    "\u2026": ".",
    # Persian and Arabic variants of the same letters.
    "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
    "\u0649": "\u06cc",  # ALEF MAKSURA -> FARSI YEH
    "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
    "\u0629": "\u0647",  # TEH MARBUTA -> HEH
    # Armenian ligature "ev" is written both as one letter and as two.
    "\u0587": "\u0565\u0582",
}

# Zero-width and invisible characters that are dropped.
_DROP = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff\u0640")

# Blocks worth a table entry; CJK ideographs and Hangul fold to themselves.
_RANGES = ((0x0000, 0x3400), (0xA000, 0xAC00), (0xF900, 0x10000))


def _fold_one(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if ch in _DROP:
        return ""
    category = unicodedata.category(ch)
    if category.startswith("Z") or ch in "\t\n\r\x0b\x0c":
        return " "
    if category == "Mn":
        return ""
    if not category.startswith(("L", "N")):
        return ch
    out: list[str] = []
    for c in ch.casefold():
        if 0x0400 <= ord(c) <= 0x052F:
            # Cyrillic: fold case only (keep й, ї, ў...), but read ё as е.
            out.append("е" if c == "ё" else c)
            continue
        for d in unicodedata.normalize("NFKD", c):
            if not unicodedata.combining(d):
                out.append(_SPECIAL.get(d, d))
    folded = "".join(out)
    return folded if folded else ch.casefold()


@cache
def _tables() -> tuple[dict[int, str], frozenset[str], re.Pattern[str]]:
    table: dict[int, str] = {}
    irregular: set[str] = set()
    for lo, hi in _RANGES:
        for code in range(lo, hi):
            if 0xD800 <= code <= 0xDFFF:
                continue
            ch = chr(code)
            folded = _fold_one(ch)
            if len(folded) == 1:
                if folded != ch:
                    table[code] = folded
            else:
                irregular.add(ch)
    pattern = re.compile("[" + "".join(re.escape(c) for c in sorted(irregular)) + "]")
    return table, frozenset(irregular), pattern


def fold(text: str) -> str:
    """Fold ``text`` for matching, without keeping offsets (for patterns and aliases)."""
    table, _, pattern = _tables()
    if pattern.search(text) is None:
        return text.translate(table)
    return "".join(_fold_char(ch, table) for ch in text)


def _fold_char(ch: str, table: dict[int, str]) -> str:
    folded = table.get(ord(ch))
    if folded is not None:
        return folded
    if ch in _tables()[1]:
        return _fold_one(ch)
    return ch


@dataclass(frozen=True, slots=True)
class Normalised:
    """A folded text and the way back to the original.

    ``starts`` is ``None`` when folding kept every character one for one (the map is the
    identity); otherwise ``starts[i]`` is the original index of folded character ``i``.
    """

    original: str
    text: str
    starts: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the folded span ``[start, end)``."""
        if self.starts is None:
            return start, end
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        o_start = self.starts[start]
        o_end = self.starts[end - 1] + 1
        # Keep combining marks (dropped by folding) that belong to the last letter.
        original = self.original
        while o_end < len(original) and unicodedata.category(original[o_end]) == "Mn":
            o_end += 1
        return o_start, o_end


def normalise(text: str) -> Normalised:
    """Fold ``text`` and keep the map back to its original offsets."""
    table, _, pattern = _tables()
    if pattern.search(text) is None:
        return Normalised(text, text.translate(table))
    # The stretches between irregular characters fold one for one (``str.translate``);
    # only the irregular characters themselves are folded one by one.
    pieces: list[str] = []
    starts: list[int] = []
    done = 0
    for found in pattern.finditer(text):
        index = found.start()
        if index > done:
            pieces.append(text[done:index].translate(table))
            starts.extend(range(done, index))
        folded = _fold_one(text[index])
        pieces.append(folded)
        starts.extend([index] * len(folded))
        done = index + 1
    pieces.append(text[done:].translate(table))
    starts.extend(range(done, len(text)))
    return Normalised(text, "".join(pieces), tuple(starts))


def is_word_char(ch: str) -> bool:
    """Whether ``ch`` (a folded character) belongs to a word, for whole-word checks."""
    return ch.isalnum()
