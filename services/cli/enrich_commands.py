"""``tocsin enrich [FILE|-]``: what the enricher sees in a text, without touching the log.

Analysts use it to see why a name was or was not recognised: every entity with its kind and
each mention (surface, offsets, sentence, name or adjective), the countries, the tags with
the words that set them, and the language. The input is plain text, or a JSON article
object (``title``, ``text`` / ``body`` / ``summary``, ``language_hint`` / ``lang``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from services.cli.common import ConfigOption
from services.cli.output import Format, render
from services.runtime.settings import load_settings

if TYPE_CHECKING:
    from services.text import Analysis

# The enricher (NumPy, the gazetteer) is imported by the command: every ``tocsin`` command,
# ``serve`` of the other services included, loads this module.

__all__ = ["enrich", "read_article"]

MAX_INPUT_BYTES = 20_000_000


def read_article(raw: str) -> tuple[str, str, str | None]:
    """``(title, text, language hint)`` from plain text or a JSON article object."""
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None  # plain text that happens to start with a brace
        if isinstance(data, dict):
            return _from_object(data)
    return "", raw, None


def _from_object(data: dict[str, Any]) -> tuple[str, str, str | None]:
    def text_of(*names: str) -> str:
        for name in names:
            value = data.get(name)
            if isinstance(value, str) and value.strip():
                return value
        return ""

    title = text_of("title")
    body = text_of("text", "body", "summary")
    if not title and not body:
        raise typer.BadParameter("the JSON object has no 'title', 'text', 'body' or 'summary'")
    hint = text_of("language_hint", "lang", "language") or None
    return title, body, hint


def _read_input(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        path = Path(source)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > MAX_INPUT_BYTES:
        raise typer.BadParameter(f"{source}: larger than {MAX_INPUT_BYTES:,} bytes")
    return data.decode("utf-8", errors="replace")


def as_dict(analysis: Analysis, version: str) -> dict[str, Any]:
    """The enrichment as plain data (the ``--format json`` output)."""
    return {
        "enricher_version": version,
        "language": {
            "code": analysis.language.code,
            "confidence": round(analysis.language.confidence, 4),
            "hint": analysis.language.hint,
        },
        "countries": list(analysis.countries),
        "entities": [
            {
                "id": e.id,
                "kind": e.kind,
                "name": e.name,
                "countries": list(e.countries),
                "mentions": [
                    {
                        "surface": m.surface,
                        "start": m.start,
                        "end": m.end,
                        "sentence": m.sentence,
                        "form": m.form,
                    }
                    for m in e.mentions
                ],
            }
            for e in analysis.entities
        ],
        "tags": [{"id": t.id, "terms": list(t.terms)} for t in analysis.tags],
        "sentences": len(analysis.sentences),
    }


def _print_table(result: dict[str, Any]) -> None:
    console = Console(soft_wrap=False)
    language = result["language"]
    hint = f" (hint {language['hint']})" if language["hint"] else ""
    console.print(
        escape(
            f"language: {language['code']} {language['confidence']:.2f}{hint}; "
            f"sentences: {result['sentences']}; enricher {result['enricher_version']}"
        )
    )
    console.print(escape(f"countries: {', '.join(result['countries']) or '-'}"))
    rows = [
        {
            "id": e["id"],
            "kind": e["kind"],
            "name": e["name"],
            "mentions": "; ".join(
                f"{m['surface']} [{m['start']}:{m['end']}] s{m['sentence']}"
                + (" adj" if m["form"] == "adjective" else "")
                for m in e["mentions"]
            ),
        }
        for e in result["entities"]
    ]
    render(rows, ["id", "kind", "name", "mentions"], Format.TABLE, title="entities")
    tags = [{"tag": t["id"], "terms": ", ".join(t["terms"])} for t in result["tags"]]
    render(tags, ["tag", "terms"], Format.TABLE, title="tags")


def enrich(
    source: Annotated[
        str, typer.Argument(help="A text file, a JSON article object, or - for stdin.")
    ] = "-",
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table (default) or json.")
    ] = Format.TABLE,
    gazetteer: Annotated[
        list[Path] | None,
        typer.Option("--gazetteer", "-g", help="An extra gazetteer YAML file (repeatable)."),
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", help="A taxonomy YAML file replacing the bundled one."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show the language, entities, countries and tags the enricher finds in a text."""
    if fmt not in (Format.TABLE, Format.JSON):
        raise typer.BadParameter("--format must be table or json")
    load_settings(config)  # a broken config file is reported here as everywhere else
    from services.enricher.settings import EnricherSettings, build_enricher
    from services.text import DataFileError

    try:
        enricher = build_enricher(
            EnricherSettings(gazetteer=tuple(gazetteer or ()), taxonomy=taxonomy)
        )
    except DataFileError as exc:
        typer.echo(f"tocsin: gazetteer error: {exc}", err=True)
        raise typer.Exit(2) from exc
    title, text, hint = read_article(_read_input(source))
    if not title.strip() and not text.strip():
        typer.echo("tocsin: nothing to enrich (empty input)", err=True)
        raise typer.Exit(2)
    result = as_dict(enricher.analyser.analyse(title, text, hint), enricher.version)
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_table(result)
