"""Item dates that feedparser misreads or cannot read, read again with dateparser.

Why: feedparser reads RFC 822 and W3C dates, and Korean, Greek and Hungarian ones. The
region's publishers also write dates in their own language ("Вс, 29 ноя 2026 10:00:00
+0300", "29 noyabr 2026 10:00", "29 նոյեմբերի 2026"), day first with dots ("29.11.2026
10:00"), with a short offset ("+04", "GMT+4"), and with zone names that feedparser does not
know and reads as UTC without a word: "10:00 MSK" became 10:00 UTC, three hours late. An
item without a date is dated when it was fetched, so a new source's backlog all looked like
news of the moment; an item whose zone was misread fell in the future and was dated at its
fetch as well (``core.article_from_item`` refuses dates in the future).

dateparser knows those languages' month and day names and the zones' abbreviations (AMT is
Armenia's, +4). It is asked only when feedparser found no date, or found one in a zone it
does not know; relative dates ("yesterday") are refused, since a feed's date is a moment.
"""

from __future__ import annotations

import calendar
import re
import threading
import time
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache
from typing import Any

# feedparser's own date parser, the one it applies to RSS and Atom dates (every format it
# knows); not exported at the top level since feedparser 6, where it lives here.
from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.datetimes.rfc822 import timezone_names

__all__ = ["feed_date", "in_zone", "reread", "text_date"]

#: The languages whose month and day names are tried (dateparser has no Tajik or Turkmen).
LANGUAGES = ("en", "ru", "uk", "be", "hy", "az", "ka", "kk", "ky", "uz", "tr", "ro")
#: A zone written as a name at the end ("... 10:00:00 MSK"): feedparser's RFC 822 reading
#: takes a name it does not know for UTC.
_ZONE_NAME = re.compile(r"\s([A-Za-z]{2,5})\s*$")
#: The names it reads right (UTC as its default, +0000)
_KNOWN_ZONES = frozenset(timezone_names) | {"utc"}
#: Day and month both 12 or less, separated by slashes: 11/12 is November 12 in one country
#: and December 11 in the next, so such a date is not guessed.
_AMBIGUOUS = re.compile(r"^\D*(0?[1-9]|1[0-2])/(0?[1-9]|1[0-2])/\d")
_LONGEST = 100
#: Earlier is a placeholder, not a date (``_plausible``)
_EARLIEST_YEAR = 1900
#: A date that names its zone: "Z", an offset after the time or GMT ("+0400", "+04:00",
#: "+4", "GMT+4"), a zone's name ("MSK", "(AZT)", but not "AM" or "PM"), or a Unix time
_ZONE_GIVEN = re.compile(
    r"\dZ$"
    r"|(?:\d\d(?::\d\d){1,2}(?:[.,]\d+)?\s*|GMT\s*|UTC\s*)[+-]\d{1,2}(?::?\d{2})?$"
    r"|\b(?!(?:AM|PM|am|pm)\b)[A-Za-z]{1,5}$"
    r"|\([A-Za-z]{2,5}\)$"
    r"|^\d{9,}$"
)
#: The poller parses large documents in threads (``parsing.ParsePool``)
_ONE_AT_A_TIME = threading.Lock()


def feed_date(raw: object, parsed: Any) -> datetime | None:
    """The moment of one feedparser date field (``raw``: the text, ``parsed``: feedparser's
    UTC time tuple or ``None``), read again where feedparser failed or misread the zone.
    Naive (the wall time as written) when the text gives no zone: the source's timezone
    places it (``core.article_from_item``; UTC by default, as feedparser reads it)."""
    moment = None
    if isinstance(raw, str) and raw.strip() and (not parsed or _zone_misread(raw)):
        moment = reread(raw)
    if moment is None:
        moment = _plausible(_from_tuple(parsed))
    return _as_written(moment, raw)


def _as_written(moment: datetime | None, raw: object) -> datetime | None:
    """``moment`` (read as UTC) as the naive wall time of its text when that names no zone."""
    if moment is None or not isinstance(raw, str) or _ZONE_GIVEN.search(raw.strip()):
        return moment
    return moment.replace(tzinfo=None)


def text_date(value: object) -> datetime | None:
    """A date given as text alone (a JSON Feed's, a JSONL record's): RFC 3339 as those
    formats want, else as an RSS date (``feed_date`` over feedparser's reading)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return feed_date(value, feedparser_date(value))
    return _plausible(when)


def _zone_misread(raw: str) -> bool:
    name = _ZONE_NAME.search(raw)
    return name is not None and name.group(1).lower() not in _KNOWN_ZONES


def _from_tuple(parsed: Any) -> datetime | None:
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


@lru_cache(maxsize=4096)
def reread(raw: str) -> datetime | None:
    """A date written in one of ``LANGUAGES`` (with its zone, else UTC), in UTC; ``None``
    for a text that is no full date (day, month and year), a relative one, an ambiguous
    one or a placeholder. Cached: a feed repeats its items' dates on every poll."""
    text = " ".join(raw.split())
    if not text or len(text) > _LONGEST or _AMBIGUOUS.match(text):
        return None
    parser = _parser()
    try:
        with _ONE_AT_A_TIME:  # dateparser is not thread-safe (its issue 441); dates are few
            found = parser.get_date_data(text).date_obj
    except Exception:  # dateparser's own failure on one odd date: the item stays undated
        return None
    if not isinstance(found, datetime):
        return None
    return _plausible(found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC))


def in_zone(moment: datetime | None, zone: tzinfo | None) -> datetime | None:
    """A parsed date in UTC: a naive one (no zone written) read in ``zone``, else UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    return moment.astimezone(UTC)


def _plausible(moment: datetime | None) -> datetime | None:
    """``None`` for a placeholder: a year before 1900 ("0001-01-01T00:00:00Z", .NET's
    DateTime.MinValue) put the article in year 1, alone in every rule's window and last in
    every list; undated, it is dated at its fetch."""
    return None if moment is None or moment.year < _EARLIEST_YEAR else moment


@cache
def _parser() -> Any:
    """Built on first use: dateparser and its language data cost about 0.1 s to load, and
    most feeds never need them."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(LANGUAGES),
        settings={
            "DATE_ORDER": "DMY",
            "PARSERS": ["timestamp", "absolute-time"],
            "REQUIRE_PARTS": ["day", "month", "year"],
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TIMEZONE": "UTC",
            "TO_TIMEZONE": "UTC",
        },
    )
