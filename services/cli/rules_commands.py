"""``tocsin rules check | match | test``: the analyst's tools for writing and trying rules.

- ``check FILE...`` validates rule files and prints every problem as ``file:line: field: message``;
- ``match [--rules FILE] [TEXT_FILE|-]`` enriches one text (``services.text``) and shows which
  rules fire, with their evidence, and which come close (what held, what failed);
- ``test FILE --since --until`` backtests a rule file over the stored enriched history,
  with windows and suppression as live, against the alerts raised in that period. It only
  reads the log.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schemas import ArticleEnriched, ArticlePublished
from schemas.ids import article_id, content_hash
from services.cli.common import ConfigOption, LogOption, require_log, settings
from services.cli.output import Format, render
from services.rules.loader import RuleSet, RulesetError, load_rules
from services.runtime.bootstrap import topic
from services.runtime.settings import ConfigError

if TYPE_CHECKING:
    from services.rules.evaluate import Explanation

# The engine (datasketch, SciPy) and the text analysis (NumPy) are imported by the commands
# that use them: every ``tocsin`` command, ``serve`` of the other services included, loads
# this module.

__all__ = ["app"]

app = typer.Typer(help="Check, try and backtest rule files.", no_args_is_help=True)

MAX_INPUT_BYTES = 20_000_000
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


@app.command("check")
def check_command(
    files: Annotated[list[Path], typer.Argument(help="Rule files (YAML).", show_default=False)],
) -> None:
    """Validate rule files; print each problem with its file, line and field. Exit 1 on any."""
    failed = False
    for path in files:
        try:
            ruleset = load_rules([str(path)])
        except RulesetError as exc:
            failed = True
            for error in exc.errors:
                typer.echo(str(error))
            continue
        typer.echo(f"{path}: ok, {len(ruleset.rules)} rule(s), version {ruleset.version}")
    if failed:
        raise typer.Exit(1)


def _load(rules: list[Path] | None) -> RuleSet:
    specs = [str(p) for p in rules] if rules else ["default"]
    try:
        return load_rules(specs)
    except RulesetError as exc:
        raise ConfigError(f"invalid rule file(s):\n{exc}") from exc


def read_text(source: str) -> tuple[str, str, str | None]:
    """(title, text, language hint) from a file or stdin: plain text (first line = title
    when more follow) or a JSON object with title / text / body / summary / lang."""
    if source == "-":
        raw = sys.stdin.read(MAX_INPUT_BYTES)
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise typer.BadParameter(f"{path} is larger than {MAX_INPUT_BYTES} bytes")
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise typer.BadParameter(f"{path} is not UTF-8 text") from exc
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            data: Any = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            body = next(
                (data[k] for k in ("text", "body", "summary") if isinstance(data.get(k), str)), ""
            )
            lang = data.get("lang") or data.get("language_hint")
            return str(data.get("title") or ""), body, lang if isinstance(lang, str) else None
    head, _, rest = stripped.partition("\n")
    return (head.strip(), rest.strip(), None) if rest.strip() else ("", stripped, None)


def enrich_text(title: str, text: str, hint: str | None = None) -> ArticleEnriched:
    """One text as the rules see it: ``services.text.analyse`` into an ``ArticleEnriched``."""
    now = datetime.now(UTC)
    ident = article_id(guid=content_hash(title, text), source_id="cli")
    article = ArticlePublished(
        article_id=ident,
        title=title,
        text=text,
        published_at=now,
        fetched_at=now,
        source_id="cli",
        language_hint=hint,
        content_hash=content_hash(title, text),
    )
    from services.text import analyse, enriched_fields

    fields = enriched_fields(analyse(title, text, hint))
    return ArticleEnriched(article=article, enricher_version="cli", **fields)


@app.command("match")
def match_command(
    source: Annotated[str, typer.Argument(help="Text file, or - for stdin.")] = "-",
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", "-r", help="Rule file (repeatable; default: the bundled pack)."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Enrich one text and show which rules fire (with evidence) and which come close."""
    ruleset = _load(rules)
    title, text, hint = read_text(source)
    if not (title or text).strip():
        raise typer.BadParameter("the text is empty")
    from services.rules.engine import Engine

    event = enrich_text(title, text, hint)
    engine = Engine(ruleset)
    explained = engine.evaluator.explain(event)
    alerts = {a.rule_id: a for a in engine.process(event)}
    rows = [_row(x, alerts) for x in explained if x.fired or any(ok for _, ok in x.conditions)]
    rows.sort(key=lambda r: (r["status"] != "fires", r["rule"]))
    if fmt is Format.TABLE:
        if not rows:
            typer.echo("no rule fires or comes close")
            return
        for row in rows:  # one line per matched form on screen; the full objects in json
            row["evidence"] = sorted({f"{e['surface']}@{e['start']}" for e in row["evidence"]})
        render(rows, ["rule", "status", "held", "failed", "evidence"], fmt, title=title or None)
    else:
        render(rows, ["rule", "status", "held", "failed", "evidence"], fmt)


def _row(x: Explanation, alerts: dict[str, Any]) -> dict[str, Any]:
    held = [label for label, ok in x.conditions if ok]
    failed = [label for label, ok in x.conditions if not ok]
    if not x.filters_ok:
        failed.append(f"filter: {x.filter_problem}")
    status = "fires" if x.fired else "close"
    alert = alerts.get(x.rule.id)
    if alert is not None:
        evidence = [
            {
                "condition": e.condition,
                "surface": e.surface,
                "start": e.start,
                "end": e.end,
                "sentence": e.sentence,
                "snippet": e.snippet,
            }
            for e in alert.evidence
        ]
    else:
        evidence = [
            {"condition": f.label, "surface": o.surface, "start": o.start, "end": o.end}
            for f in x.found
            for o in f.occurrences[:3]
        ]
    return {
        "rule": x.rule.id,
        "status": status,
        "held": held,
        "failed": failed,
        "evidence": evidence,
    }


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("test")
def test_command(
    file: Annotated[Path, typer.Argument(help="Rule file to backtest.")],
    since: Annotated[str, typer.Option("--since", help="Start (ISO date or time, UTC).")],
    until: Annotated[str, typer.Option("--until", help="End, exclusive (ISO date or time).")],
    examples: Annotated[int, typer.Option("--examples", min=0, help="Examples per rule.")] = 3,
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Backtest a rule file over the stored enriched history (reads only)."""
    start, end = _date(since), _date(until)
    if end <= start:
        raise typer.BadParameter("--until must be after --since")
    ruleset = _load([file])
    cfg = settings(config, log)
    from services.eventlog import open_log
    from services.rules.backtest import backtest

    require_log(cfg)
    with open_log(cfg.log, **cfg.log_options()) as elog:
        reports, articles = backtest(
            elog,
            ruleset,
            enriched_topic=topic(cfg, "articles.enriched"),
            alerts_topic=topic(cfg, "alerts.raised"),
            since=start,
            until=end,
        )
    rows = [r.row(examples) for r in reports]
    columns = [
        "rule",
        "version",
        "would_fire",
        "fired_live",
        "same",
        "only_backtest",
        "only_live",
        "examples",
    ]
    if fmt is Format.TABLE:
        typer.echo(f"{articles} article(s) evaluated from {start.isoformat()} to {end.isoformat()}")
        for row in rows:
            shown: list[dict[str, Any]] = row["examples"]  # type: ignore[assignment]
            row["examples"] = "; ".join(str(e["title"]) for e in shown)
    render(rows, columns, fmt)
