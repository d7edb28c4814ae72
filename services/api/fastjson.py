"""JSON responses for the hot list endpoints: rendered with orjson (several times faster
than the standard library on these row dicts) and sent as they are, with no response-model
re-validation (the rows are plain dicts the queries built; ``PageOut`` documents them).
Alert pages skip the dicts too: SQLite renders each row as JSON and the texts are joined.

``PageCache`` keeps the rendered first page of the unfiltered lists (the dashboard's and
most clients' default request) until the read model moves: its stamp is the projection's
position (the sum of ``tracking.next_offset``, written in the same transaction as the rows),
so a page is never older than the data it was read from.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from fastapi.responses import JSONResponse, Response

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps the API up
    orjson = None  # type: ignore[assignment]

MEDIA_TYPE = "application/json"


def dumps(content: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(content)
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


def page_response(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    return Response(dumps({"items": items, "next_cursor": next_cursor}), media_type=MEDIA_TYPE)


def json_page_response(items: list[str], next_cursor: str | None) -> Response:
    """A page whose items are JSON texts already (SQLite built them): joined, not parsed."""
    body = '{"items":[' + ",".join(items) + '],"next_cursor":' + json.dumps(next_cursor) + "}"
    return Response(body.encode(), media_type=MEDIA_TYPE)


def position(conn: sqlite3.Connection) -> int:
    """How far the projection got: changes whenever it commits a batch."""
    row = conn.execute("SELECT coalesce(sum(next_offset), -1), count(*) FROM tracking").fetchone()
    return int(row[0]) * 1_000 + int(row[1])


class PageCache:
    """Rendered pages by key, each valid for one read-model position. Small and bounded:
    only unfiltered first pages are put here (one per list and page size)."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._pages: dict[tuple[Any, ...], tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], stamp: int) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
        return found[1] if found is not None and found[0] == stamp else None

    def put(self, key: tuple[Any, ...], stamp: int, body: bytes) -> None:
        with self._lock:
            if key not in self._pages and len(self._pages) >= self.max_entries:
                self._pages.pop(next(iter(self._pages)))
            self._pages[key] = (stamp, body)
