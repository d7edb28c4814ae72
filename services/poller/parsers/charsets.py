"""Feeds in a legacy charset of a non-Latin script that they do not declare, found and
read again.

Why: many Russian-language sites of the region still serve windows-1251 or KOI8-R, and
some declare UTF-8 or nothing at all. feedparser then tries UTF-8, fails, and falls back to
windows-1252 with a bozo warning: "Россия и Армения" became "Ðîññèÿ è Àðìåíèÿ", in which
the gazetteer finds nothing and no rule can fire.

The sign is unmistakable: read as windows-1252, the letters of such a script (Cyrillic,
Greek, Hebrew, Arabic, Thai) come out as words made only of letters from À to ÿ, which
Latin languages almost never write (French and German text has a few accented letters
among plain ones). When most of the non-ASCII words look like that, charset_normalizer
chooses among those scripts' charsets only: asked to choose among all charsets, it reads
French windows-1252 as windows-1257 and Turkish as windows-1250 (measured), so it is
never asked about a Latin text. Asked about Cyrillic charsets alone, it read feedparser's
own windows-1255 (Hebrew) test feed as KOI8-R: hence the other scripts.

Also here: a charset name that Python does not know ("utf8mb4") read as UTF-8, with a
warning, instead of failing the document (``decoded``).
"""

from __future__ import annotations

import codecs
import re

__all__ = [
    "NON_LATIN",
    "as_utf8",
    "declared_charset",
    "decoded",
    "known",
    "undeclared_charset",
]

#: The single-byte charsets of non-Latin scripts: the Cyrillic ones the region's sites use
#: (DOS cp866 aside), then Greek, Hebrew, Arabic and Thai; by their Python codec names, with
#: the names the web gives them.
NON_LATIN = {
    "cp1251": "windows-1251",
    "koi8_r": "KOI8-R",
    "koi8_u": "KOI8-U",
    "iso8859_5": "ISO-8859-5",
    "mac_cyrillic": "mac-cyrillic",
    "cp1253": "windows-1253",
    "iso8859_7": "ISO-8859-7",
    "cp1255": "windows-1255",
    "iso8859_8": "ISO-8859-8",
    "cp1256": "windows-1256",
    "tis_620": "TIS-620",
}
#: A word with a letter outside ASCII, and one of letters from À to ÿ only (as windows-1252
#: reads a Cyrillic word written in windows-1251 or KOI8-R).
_NON_ASCII_WORD = re.compile(r"\w*[^\x00-\x7f]\w*")
_LATIN1_WORD = re.compile(r"[\u00c0-\u00ff]{2,}")
_LETTER_BYTES = bytes(range(0xC0, 0x100))
_ENCODING_DECLARED = re.compile(rb"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["']([^"']*)["']""")
#: At least this many such words, and this share of the non-ASCII words
_AT_LEAST = 3
_SHARE = 0.6
#: Enough text for the decision, and a bound on its cost
_SAMPLE = 64_000


def undeclared_charset(body: bytes) -> str | None:
    """The charset of a non-Latin script that ``body`` is written in (as the web names it)
    when its windows-1252 reading has the sign described above, else ``None``."""
    sample = body[:_SAMPLE]
    letters = len(sample) - len(sample.translate(None, _LETTER_BYTES))
    if letters < max(2 * _AT_LEAST, len(sample) // 50):
        return None  # few bytes that windows-1252 reads as À to ÿ: English, or French
    latin = sample.decode("windows-1252", errors="replace")
    words = _NON_ASCII_WORD.findall(latin)
    misread = sum(1 for w in words if _LATIN1_WORD.fullmatch(w))
    if misread < _AT_LEAST or misread < _SHARE * len(words):
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(NON_LATIN)).best()
    return None if best is None else NON_LATIN.get(str(best.encoding))


def as_utf8(body: bytes, charset: str) -> bytes:
    """The document in UTF-8, its XML declaration without the encoding it got wrong."""
    text = body.decode(charset, errors="replace").encode("utf-8")
    return _ENCODING_DECLARED.sub(rb"\1", text, count=1)


def declared_charset(body: bytes, http_charset: str | None) -> str | None:
    """The charset the response declares: its HTTP one, else its XML declaration's."""
    if http_charset:
        return http_charset
    declared = _ENCODING_DECLARED.match(body[:200])
    return declared.group(2).decode("ascii", errors="replace") if declared else None


def known(charset: str) -> bool:
    """Whether Python has a codec of that name."""
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def decoded(body: bytes, charset: str | None) -> tuple[str, str | None]:
    """``body`` as text in its HTTP charset, else UTF-8 (what JSON is, by RFC 8259), with a
    warning when the charset named is one Python does not know: a server's typo
    ("utf8mb4", "bogus") must not cost the document."""
    if charset and not known(charset):
        text = body.decode("utf-8", errors="replace")
        return text, f"unknown charset {charset[:40]!r} in the response: read as UTF-8"
    return body.decode(charset or "utf-8", errors="replace"), None
