"""JSON Lines archives: one article per line, in the shared corpus's news format.

``{"id", "title", "body", "published", "source", "lang", "label", "extra"}`` where
``extra`` may hold ``url``, ``guid``, ``author``/``authors`` and ``description``. A line
that is not a JSON object is skipped and counted (the rest of the archive still counts).
"""

from __future__ import annotations

import json
from typing import Any

from services.poller.errors import EmptyDocument, ParseError
from services.poller.fetch import Document
from services.poller.parsers import Parsed, RawItem, http_url
from services.poller.parsers.charsets import decoded
from services.poller.parsers.dates import text_date
from services.poller.parsers.html import author_names, html_to_text, tidy

_MAX_TEXT = 200_000
_MAX_WARNINGS = 5


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _authors(extra: dict[str, Any]) -> tuple[str, ...]:
    raw = extra.get("authors", extra.get("author"))
    if isinstance(raw, str):
        return author_names(raw.split(","))
    return author_names(raw) if isinstance(raw, list) else ()


def parse_jsonl(doc: Document) -> Parsed:
    if not doc.body.strip():
        raise EmptyDocument("the archive is empty")
    parsed = Parsed()
    text, problem = decoded(doc.body, doc.charset)
    if problem:
        parsed.warnings.append(problem)
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            record = exc
        if not isinstance(record, dict):
            parsed.skipped += 1
            if len(parsed.warnings) < _MAX_WARNINGS:
                parsed.warnings.append(f"line {number}: not a JSON object, skipped")
            continue
        raw_extra = record.get("extra")
        extra: dict[str, Any] = raw_extra if isinstance(raw_extra, dict) else {}
        url = http_url(_str(extra.get("url")))
        guid = _str(extra.get("guid")).strip() or (str(record["id"]) if record.get("id") else None)
        if url is None and guid is None:
            parsed.skipped += 1
            continue
        parsed.items.append(
            RawItem(
                url=url,
                guid=guid,
                title=tidy(_str(record.get("title")))[:2000],
                summary=html_to_text(_str(extra.get("description")))[:20_000],
                text=tidy(_str(record.get("body")))[:_MAX_TEXT],
                authors=_authors(extra),
                published=text_date(record.get("published")),
                language=_str(record.get("lang")) or None,
            )
        )
    if not parsed.items and parsed.skipped:
        raise ParseError(f"no readable record in the archive ({parsed.skipped} line(s) skipped)")
    return parsed
