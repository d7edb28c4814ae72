"""OPML import: feed subscriptions exported by a reader -> ``sources:`` entries.

Every ``<outline xmlUrl=...>`` becomes a ``feed`` source; the titles of the outlines that
enclose it become a ``category`` label. Ids are slugs of the title (or host), made unique
against each other and against the ids already configured. Outlines that would not load
(a URL that is not http(s), or not a URL at all) are reported and left out, never written.
The XML parser resolves no external entities and fetches nothing (an OPML file is outside
input).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
import yaml

from services.poller.config import SourceConfigError, load_sources, normalise_language


@dataclass
class OpmlImport:
    sources: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            {"sources": self.sources}, sort_keys=False, allow_unicode=True, default_flow_style=False
        )


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-")


def read_opml(path: Path, existing_ids: Iterable[str] = ()) -> OpmlImport:
    """Parse an OPML file; raise ``SourceConfigError`` when it is not OPML at all."""
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False
    )
    try:
        root = lxml.etree.parse(str(path), parser).getroot()
    except (OSError, lxml.etree.XMLSyntaxError) as exc:
        raise SourceConfigError(f"{path}: not a readable OPML file: {exc}") from exc
    if root.tag.lower() != "opml":
        raise SourceConfigError(f"{path}: the root element is <{root.tag}>, not <opml>")
    taken = set(existing_ids)
    result = OpmlImport()
    body = root.find("body")
    if body is None:
        return result
    for outline, parents in _walk(body, ()):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        title = (outline.get("title") or outline.get("text") or "").strip()
        where = f"{path}:{getattr(outline, 'sourceline', None)}: {title or url}"
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError as exc:  # "http://[::1": one bad outline, not the whole file
            result.skipped.append(f"{where}: not a valid URL ({exc}): {url!r}")
            continue
        if parts.scheme.lower() not in ("http", "https"):
            result.skipped.append(f"{where}: not an http(s) URL: {url!r}")
            continue
        base = _slug(title) or _slug(host) or "feed"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        entry: dict[str, Any] = {"id": ident, "kind": "feed", "url": url}
        if title:
            entry["title"] = title
        if parents:
            entry["labels"] = {"category": " / ".join(parents)}
        language = normalise_language(outline.get("language"))
        if language:
            entry["language"] = language
        try:  # the output must load: what would not is reported, never written
            load_sources([entry])
        except SourceConfigError as exc:
            problem = str(exc).splitlines()[-1].strip()  # "sources[0] (id 'x'): url: ..."
            result.skipped.append(f"{where}: {problem.partition('): ')[2] or problem}")
            continue
        taken.add(ident)
        result.sources.append(entry)
    return result


def _walk(node: Any, parents: tuple[str, ...]) -> Iterable[tuple[Any, tuple[str, ...]]]:
    for child in node:
        if not isinstance(child.tag, str) or child.tag.lower() != "outline":
            continue
        yield child, parents
        name = (child.get("title") or child.get("text") or "").strip()
        if len(child):
            yield from _walk(
                child, (*parents, name) if name and not child.get("xmlUrl") else parents
            )
