"""Parsers, one per source kind: bytes of a fetched document -> raw items.

A parser knows nothing of events, ids or the log: it returns ``RawItem`` values (what the
document says, HTML already reduced to text) and ``core`` turns them into events. A parser
raises ``ParseError`` (or a subclass) when the document is not of its kind at all; a
document it can partly read yields what it could, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawItem:
    url: str | None
    guid: str | None
    title: str = ""
    summary: str = ""
    text: str = ""
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    language: str | None = None


@dataclass(slots=True)
class Parsed:
    items: list[RawItem] = field(default_factory=list)
    language: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
