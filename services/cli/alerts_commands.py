"""``tocsin alerts list|show|ack|assign|comment|resolve``: alerts and what analysts do with them.

State is folded from ``alerts.raised`` and ``alerts.lifecycle`` (services/notifier/lifecycle.py);
ack / assign / comment / resolve append a lifecycle event with who (``--by``, default $USER)
and when. Titles and comments come from outside: the table output escapes them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from schemas import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertResolved,
    Payload,
    Severity,
)
from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.output import Format, render
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.notifier.lifecycle import AlertView, current_user, fold, lifecycle_event
from services.notifier.runner import read_all
from services.runtime.bootstrap import topic
from services.runtime.settings import Settings

app = typer.Typer(
    help="List alerts, show one, acknowledge, assign, comment, resolve.", no_args_is_help=True
)

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who does it (default: $USER).")]
COLUMNS = [
    "alert_id",
    "raised_at",
    "severity",
    "rule",
    "status",
    "assignee",
    "revision",
    "sources",
    "title",
]
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC if it has no zone) or a duration ago: 30m, 24h, 7d."""
    found = _RELATIVE.match(value.strip())
    if found:
        delta = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: use an ISO time (2026-03-01T12:00) or 30m / 24h / 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _views(cfg: Settings, elog: EventLog) -> dict[str, AlertView]:
    events = [
        *read_all(elog, topic(cfg, "alerts.raised")),
        *read_all(elog, topic(cfg, "alerts.lifecycle")),
    ]
    return fold(events)


def _find(views: dict[str, AlertView], ident: str) -> AlertView:
    if ident in views:
        return views[ident]
    matches = [v for k, v in views.items() if k.startswith(ident)] if len(ident) >= 8 else []
    if len(matches) == 1:
        return matches[0]
    typer.echo(
        f"tocsin: no alert {ident!r}" if not matches else f"tocsin: {ident!r} is ambiguous",
        err=True,
    )
    raise typer.Exit(2)


@app.command("list")
def list_command(
    since: Annotated[
        str | None, typer.Option(help="Raised at or after: ISO time or 24h / 7d.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Raised before: ISO time or a duration ago.")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only these rules (repeatable).")
    ] = None,
    severity: Annotated[Severity | None, typer.Option(help="At or above this severity.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="open, acknowledged or resolved (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most N alerts, newest first (0 = all).")] = 50,
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Alerts, newest first, with their status."""
    for s in status or ():
        if s not in ("open", "acknowledged", "resolved"):
            raise typer.BadParameter(f"unknown status {s!r}", param_hint="--status")
    start = parse_time(since) if since else None
    end = parse_time(until) if until else None
    cfg = settings(config, log)
    with event_log(cfg, existing=True) as elog:
        views = list(_views(cfg, elog).values())
    rows = [
        v
        for v in views
        if (start is None or v.raised_at >= start)
        and (end is None or v.raised_at < end)
        and (not rule or v.alert.rule_id in rule)
        and (severity is None or v.alert.severity.rank >= severity.rank)
        and (not status or v.status in status)
    ]
    rows.sort(key=lambda v: v.raised_at, reverse=True)
    if limit:
        rows = rows[:limit]
    render([v.row() for v in rows], COLUMNS, fmt)


@app.command("show")
def show_command(
    alert_id: Annotated[
        str, typer.Argument(help="The alert id (or a unique prefix of 8+ characters).")
    ],
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """One alert: its details, articles, evidence and history."""
    cfg = settings(config, log)
    with event_log(cfg, existing=True) as elog:
        view = _find(_views(cfg, elog), alert_id)
    if fmt is not Format.TABLE:
        doc: dict[str, Any] = {
            **view.row(),
            "acknowledged_by": view.acknowledged_by,
            "resolved_by": view.resolved_by,
            "reopened": view.reopened,
            "alert": view.alert.model_dump(mode="json"),
            "history": view.history,
        }
        render([doc], list(doc), fmt)
        return
    render([view.row()], COLUMNS, fmt, title="alert")
    render(
        [
            {"title": a.title, "source": a.source_id, "url": a.url or ""}
            for a in view.alert.articles
        ],
        ["title", "source", "url"],
        fmt,
        title="articles",
    )
    render(
        [
            {"condition": e.condition, "surface": e.surface, "snippet": e.snippet}
            for e in view.alert.evidence
        ],
        ["condition", "surface", "snippet"],
        fmt,
        title="evidence",
    )
    render(
        [{"at": h["at"], "by": h.get("by", ""), "what": h["what"]} for h in view.history],
        ["at", "by", "what"],
        fmt,
        title="history",
    )


def _append(config: Any, log: Any, alert_id: str, make: Any) -> None:
    cfg = settings(config, log)
    with event_log(cfg, existing=True) as elog:
        view = _find(_views(cfg, elog), alert_id)
        payload: Payload = make(view.alert.alert_id, datetime.now(UTC))
        event = lifecycle_event(payload)
        elog.append([encode(event, topic=topic(cfg, "alerts.lifecycle"), key=view.alert.alert_id)])
    typer.echo(json.dumps({"alert_id": view.alert.alert_id, "event": event.type, "id": event.id}))


AlertArg = Annotated[
    str, typer.Argument(help="The alert id (or a unique prefix of 8+ characters).")
]


@app.command("ack")
def ack_command(
    alert_id: AlertArg,
    note: Annotated[str, typer.Option(help="A short note.")] = "",
    by: ByOption = None,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Acknowledge an alert."""
    who = by or current_user()
    _append(
        config, log, alert_id, lambda a, at: AlertAcknowledged(alert_id=a, by=who, at=at, note=note)
    )


@app.command("assign")
def assign_command(
    alert_id: AlertArg,
    assignee: Annotated[str, typer.Argument(help="Who takes it.")],
    by: ByOption = None,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Assign an alert to someone."""
    who = by or current_user()
    _append(
        config,
        log,
        alert_id,
        lambda a, at: AlertAssigned(alert_id=a, by=who, at=at, assignee=assignee),
    )


@app.command("comment")
def comment_command(
    alert_id: AlertArg,
    text: Annotated[str, typer.Argument(help="The comment.")],
    by: ByOption = None,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Comment on an alert."""
    who = by or current_user()
    _append(
        config, log, alert_id, lambda a, at: AlertCommented(alert_id=a, by=who, at=at, comment=text)
    )


@app.command("resolve")
def resolve_command(
    alert_id: AlertArg,
    resolution: Annotated[str, typer.Option(help="How it was resolved.")] = "",
    by: ByOption = None,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Resolve an alert (new articles on its story reopen it)."""
    who = by or current_user()
    _append(
        config,
        log,
        alert_id,
        lambda a, at: AlertResolved(alert_id=a, by=who, at=at, resolution=resolution),
    )
