"""``tocsin poll`` and ``tocsin sources list|import``: the poller from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.output import Format, render
from services.eventlog import local_file
from services.runtime.service import ServiceContext
from services.runtime.settings import ConfigError, Settings, config_path

if TYPE_CHECKING:
    from services.poller.config import SourceConfig

sources_app = typer.Typer(
    help="Configured sources: list with health, import OPML, discover a site's feeds.",
    no_args_is_help=True,
)
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _load(config: Path | None, log: str | None) -> tuple[Settings, list[SourceConfig]]:
    from services.poller.config import SourceConfigError, sources_from_settings

    cfg = settings(config, log)
    try:
        return cfg, sources_from_settings(cfg.section("sources"), config_path(config))
    except SourceConfigError as exc:
        raise ConfigError(str(exc)) from exc


def poll(
    source_ids: Annotated[
        list[str] | None, typer.Argument(help="Source ids to poll (default: every enabled source).")
    ] = None,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Poll every source (or the named ones) once, now; append what is new; print a line each."""
    from services.poller.config import SourceConfigError, sources_from_settings
    from services.poller.runner import PollerService

    cfg = settings(config, log)
    try:
        sources = sources_from_settings(cfg.section("sources"), config_path(config))
    except SourceConfigError as exc:
        raise ConfigError(str(exc)) from exc
    known = {s.id: s for s in sources}
    if source_ids:
        unknown = [i for i in source_ids if i not in known]
        if unknown:
            typer.echo(
                f"unknown source id(s): {', '.join(unknown)}; configured: {', '.join(sorted(known))}",
                err=True,
            )
            raise typer.Exit(2)
        chosen = [known[i] for i in source_ids]
    else:
        chosen = [s for s in sources if s.enabled]
    with event_log(cfg) as elog:
        service = PollerService(ServiceContext(settings=cfg, log=elog), chosen)
        reports = asyncio.run(service.poll_once(chosen, force=bool(source_ids)))
    for report in reports:
        typer.echo(report.line())
    if any(r.failed for r in reports):
        raise typer.Exit(1)


@sources_app.command("list")
def list_sources(
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: FormatOption = Format.TABLE,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show (0 = all).")] = 0,
) -> None:
    """Configured sources with their health from the log: last poll, status, new items, last
    error, the last poll's warning (a feed that moved, a page read for its feed), and the
    WebSub subscription of a feed that names a hub (push)."""
    from datetime import UTC, datetime

    from schemas import PollStatus, PushState
    from services.poller.state import HealthBook, rebuild_health
    from services.runtime.bootstrap import topic

    cfg, sources = _load(config, log)
    book = HealthBook()  # no log yet (before the first run): every source "never polled"
    path = local_file(cfg.log)
    if path is None or path.exists():
        with event_log(cfg) as elog:
            book = rebuild_health(elog, topic(cfg, "sources.polled"))
    now = datetime.now(UTC)
    rows = []
    for s in sources:
        h = book.by_source.get(s.id)
        push = book.push.get(s.id)
        if push is None:
            pushed = None
        elif push.state is PushState.ACTIVE and push.expires_at is not None:
            until = push.expires_at.isoformat(timespec="seconds")
            pushed = f"active until {until}" if push.expires_at > now else f"expired {until}"
        else:
            pushed = push.state.value + (f": {push.problem}" if push.problem else "")
        err = h.last_error if h else None
        rows.append(
            {
                "id": s.id,
                "kind": s.kind,
                "url": s.shown_url,
                "schedule": s.cron or f"every {s.interval_s:g}s",
                "enabled": s.enabled,
                "last_poll": h.last.polled_at.isoformat(timespec="seconds") if h else None,
                "status": h.last.status.value if h else "never polled",
                "http": h.last.http_status if h else None,
                "new_items": h.last.new_articles if h else None,
                "last_error": f"{err.error_class}: {err.error_message}" if err else None,
                "warning": (
                    h.last.error_message
                    if h and h.last.status not in (PollStatus.ERROR, PollStatus.DISABLED)
                    else None
                ),
                "push": pushed,
            }
        )
    if limit:
        rows = rows[:limit]
    columns = [
        "id",
        "kind",
        "status",
        "http",
        "last_poll",
        "new_items",
        "last_error",
        "warning",
        "push",
        "schedule",
        "enabled",
        "url",
    ]
    render(rows, columns, fmt)


@sources_app.command("discover")
def discover(
    url: Annotated[str, typer.Argument(help="A feed's URL, or a site's (its page's feeds).")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """The feed at URL, or the feeds its page advertises: items, newest, latest title, and
    the WebSub hub that pushes its new items (`push`; see `websub:` in the configuration).

    For adding a source: the URL to put in `sources:` is the one listed first. Nothing is
    published; the environment's proxy is used as the poller would."""
    from services.poller.errors import PollError
    from services.poller.fetch import Fetcher
    from services.poller.probe import probe
    from services.runtime.redact import shown_url

    async def run() -> list[dict[str, object]]:
        fetcher = Fetcher()
        try:
            offers = await probe(url, fetcher)
        finally:
            await fetcher.aclose()
        return [
            {
                "url": o.url,
                "advertised": o.advertised,
                "items": o.items,
                "newest": o.newest.isoformat(timespec="minutes") if o.newest else None,
                "language": o.language,
                "latest_title": o.latest_title[:100],
                "push": shown_url(o.hub) if o.hub else None,
                "error": o.error,
            }
            for o in offers
        ]

    try:
        rows = asyncio.run(run())
    except PollError as exc:
        typer.echo(f"{url}: {exc.error_class}: {exc}", err=True)
        raise typer.Exit(1) from None
    columns = ["url", "items", "newest", "language", "latest_title", "advertised", "push", "error"]
    render(rows, columns, fmt)


@sources_app.command("import")
def import_opml(
    file: Annotated[
        Path, typer.Argument(help="An OPML file (feed reader export).", exists=True, dir_okay=False)
    ],
    write: Annotated[
        Path | None,
        typer.Option("--write", help="Write the YAML to this file instead of printing it."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Turn an OPML file into ``sources:`` entries to add to the config."""
    from services.poller.config import SourceConfigError
    from services.poller.opml import read_opml

    cfg = settings(config, None)
    existing = [str(s.get("id")) for s in cfg.section("sources") if isinstance(s, dict)]
    try:
        result = read_opml(file, existing)
    except SourceConfigError as exc:
        raise ConfigError(str(exc)) from exc
    for line in result.skipped:
        typer.echo(f"skipped {line}", err=True)
    text = result.to_yaml()
    if write is None:
        typer.echo(text, nl=False)
    else:
        if write.exists():
            typer.echo(f"{write} exists: not overwritten", err=True)
            raise typer.Exit(2)
        write.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(result.sources)} source(s) to {write}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``poll`` and ``sources`` to the root app (one line in app.py)."""
    app.command("poll")(poll)
    app.add_typer(sources_app, name="sources")
