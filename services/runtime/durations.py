"""Durations as analysts write them in rule and subscription files: "30m", "6h", "7d", "2w".

One type for every file that holds such a field, so that they read, write and document
durations alike (``Duration``: parsed from the text, written back as the shortest text,
described to editors by the JSON Schema).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "format_duration", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"30m"``, ``"6h"``, ``"7d"``, ``"2w"`` (or seconds as a number)."""
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return timedelta(seconds=value)
        if isinstance(value, str):
            match = _DURATION.match(value)
            if match and int(match.group(1)) > 0:
                return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:  # past timedelta's 999,999,999 days: a ValueError, not a crash
        raise ValueError(f"not a duration: {value!r} is too long") from None
    raise ValueError(f"not a duration: {value!r}; write a number and a unit, e.g. 30m, 6h, 7d")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\s*\d+\s*[smhdw]\s*$", "examples": ["30m", "6h", "7d"]}
    ),
]
