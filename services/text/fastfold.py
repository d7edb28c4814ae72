"""``normalise`` for hot paths: the same result, one vectorised table lookup per character.

Why: ``str.translate`` with the folding table costs about 70 ns per character on non-ASCII
text (every character that the table does not change is a failed dict lookup inside
CPython), about 180 us for a 2,500-character Russian article. The rules service folds
every article that a term condition may concern. Here the text is encoded as UTF-16, its
code units are looked up in a 64k-entry array (numpy) and decoded back: about 10 us.
ASCII text takes ``str.lower`` and the few replacements that the table adds to it.

The result equals ``normalise(text)`` for every text (tests/unit/text/test_fastfold.py):
the characters that do not fold to exactly one BMP character (combining marks, zero-width
spaces, ligatures, a few CJK compatibility ideographs) are folded by ``normalise`` one by
one, the rest of the text still by the table. Astral characters fold to themselves, so
their surrogate pairs pass through unchanged; texts holding them take ``normalise``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from services.text.normalise import Normalised, _tables, normalise, splice

__all__ = ["normalise_fast"]

_SLOW = 0xFFFF  # marks code units whose folding needs ``normalise`` (U+FFFF itself included)


@cache
def _lookup() -> tuple[npt.NDArray[np.uint16], tuple[tuple[str, str], ...] | None]:
    """The per-code-unit table, and the replacements that make ``str.lower`` fold ASCII
    (``None`` if ASCII cannot be folded that way: then ``normalise`` handles ASCII too)."""
    table, irregular, _ = _tables()
    lut = np.arange(0x10000, dtype=np.uint16)
    for code, folded in table.items():
        value = ord(folded)
        lut[code] = value if value < _SLOW and not 0xD800 <= value < 0xE000 else _SLOW
    for ch in irregular:
        if ord(ch) < 0x10000:
            lut[ord(ch)] = _SLOW
    lut[_SLOW] = _SLOW
    replacements: list[tuple[str, str]] = []
    ascii_ok = True
    for code in range(128):
        ch = chr(code)
        folded = table.get(code, ch)
        if ch in irregular or len(folded) != 1 or not folded.isascii():
            ascii_ok = False
        elif folded != ch.lower():
            # only safe for characters without case: nothing else lowers to them
            ascii_ok = ascii_ok and ch.lower() == ch == ch.upper()
            replacements.append((ch, folded))
    if any(new == old for _, new in replacements for old, _ in replacements):
        ascii_ok = False  # a replacement would feed another
    return lut, (tuple(replacements) if ascii_ok else None)


def normalise_fast(text: str) -> Normalised:
    """Exactly ``normalise(text)``, faster on long texts."""
    lut, ascii_replacements = _lookup()
    if text.isascii() and ascii_replacements is not None:
        folded = text.lower()
        for old, new in ascii_replacements:
            if old in folded:
                folded = folded.replace(old, new)
        return Normalised(text, folded)
    try:
        units = np.frombuffer(text.encode("utf-16-le"), dtype=np.uint16)
    except UnicodeEncodeError:  # a lone surrogate
        return normalise(text)
    out = lut.take(units)
    if out.size and int(out.max()) == _SLOW:
        if out.size != len(text):  # astral characters: code units are not characters
            return normalise(text)
        # the table's output, except where it cannot fold (a zero-width space in a long
        # article): those characters are folded by ``normalise``'s rules, one by one
        folded = out.tobytes().decode("utf-16-le")
        return splice(text, folded, np.flatnonzero(out == _SLOW).tolist())
    return Normalised(text, out.tobytes().decode("utf-16-le"))
