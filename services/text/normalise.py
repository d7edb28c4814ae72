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
zero-width spaces, ``ß``, ligatures, Armenian ``և``) are still translated by stretches,
then those characters are folded one by one and an explicit map is built (``splice``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

__all__ = ["Normalised", "fold", "is_word_char", "normalise", "splice"]

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
    "\u02bb": "'",  # the Uzbek letters oʻ and gʻ, also written o‘, o' ("Oʻzbekiston")
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
    # The stretches between irregular characters are translated one call each (an ASCII
    # stretch keeps str.translate's ASCII fast path, which one zero-width space in the
    # whole text would lose: 150 against 520 us for a 5,400-character article), the
    # irregular characters kept as they are; ``splice`` then folds those.
    positions = [m.start() for m in pattern.finditer(text)]
    folded = "".join(
        text[start:end].translate(table) + text[end : end + 1]
        for start, end in zip(
            [0, *(p + 1 for p in positions)], [*positions, len(text)], strict=True
        )
    )
    return splice(text, folded, positions)


def splice(text: str, folded: str, positions: Iterable[int]) -> Normalised:
    """``folded`` (one character for each of ``text``'s, right except at ``positions``) with
    the characters at ``positions`` folded one by one, and the map back to ``text`` when a
    fold dropped or split one. Shared by ``normalise`` and ``fastfold``."""
    table = _tables()[0]
    pieces: list[str] = []
    starts: list[int] = []
    one_for_one = True
    done = 0
    for index in positions:
        if index > done:
            pieces.append(folded[done:index])
            starts.extend(range(done, index))
        piece = _fold_char(text[index], table)
        one_for_one = one_for_one and len(piece) == 1
        pieces.append(piece)
        starts.extend([index] * len(piece))
        done = index + 1
    pieces.append(folded[done:])
    if one_for_one:  # e.g. U+FFFF in fastfold: no character dropped or split, no map
        return Normalised(text, "".join(pieces))
    starts.extend(range(done, len(text)))
    return Normalised(text, "".join(pieces), tuple(starts))


def is_word_char(ch: str) -> bool:
    """Whether ``ch`` (a folded character) belongs to a word, for whole-word checks."""
    return ch.isalnum()
