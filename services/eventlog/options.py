"""Backend options from a URL's query string and keyword arguments, validated in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from services.eventlog.errors import FatalError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def merged_options(
    url: str, kwargs: Mapping[str, object], known: Mapping[str, type]
) -> dict[str, Any]:
    """Query-string options overridden by keyword ones, each converted to its declared type.

    Unknown names are refused with the list of known ones: a typo must not pass silently.
    """
    raw: dict[str, object] = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    raw.update({k: v for k, v in kwargs.items() if v is not None})
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise FatalError(
            f"unknown event log option(s) {', '.join(unknown)} for {redact(url)}; "
            f"known: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = known[name]
        try:
            out[name] = _convert(value, kind)
        except ValueError as exc:
            raise FatalError(f"event log option {name}={value!r}: {exc}") from None
    return out


def _convert(value: object, kind: type) -> object:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip().lower()
    if kind is bool:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected true or false")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return str(value)


def redact(url: str) -> str:
    """The URL without its query string or credentials, safe to put in a message or a log line."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}"
