"""``tocsin log``: look at the event log itself (topics, records, offsets and lag)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from schemas import TOPICS
from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.output import Format, render
from services.eventlog import EventLog, PoisonRecordError, Record, TopicPartition
from services.eventlog.codec import decode
from services.runtime.bootstrap import topic as full_topic

app = typer.Typer(
    help="Inspect the event log: topics, records, offsets, consumer lag.", no_args_is_help=True
)

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


@app.command("topics")
def topics_command(
    config: ConfigOption = None, log: LogOption = None, fmt: FormatOption = Format.TABLE
) -> None:
    """List the topics with their partitions and record counts."""
    cfg = settings(config, log)
    with event_log(cfg) as elog:
        ends = elog.end_offsets()
        rows = []
        for name, partitions in sorted(elog.list_topics().items()):
            base = name.removeprefix(cfg.topic_prefix)
            spec = TOPICS.get(base)
            rows.append(
                {
                    "topic": name,
                    "partitions": partitions,
                    "records": sum(n for tp, n in ends.items() if tp.topic == name),
                    "key": spec.key if spec else "",
                    "description": spec.description if spec else "",
                }
            )
    render(rows, ["topic", "partitions", "records", "key", "description"], fmt)


@app.command("stats")
def stats_command(
    config: ConfigOption = None, log: LogOption = None, fmt: FormatOption = Format.TABLE
) -> None:
    """End offset per topic and partition; committed offset and lag per consumer group."""
    cfg = settings(config, log)
    with event_log(cfg, existing=True) as elog:
        ends = elog.end_offsets()
        partition_rows = [
            {"topic": tp.topic, "partition": tp.partition, "end_offset": end}
            for tp, end in sorted(ends.items())
        ]
        group_rows = []
        for group in elog.groups():
            committed = elog.committed(group)
            for topic in sorted({tp.topic for tp in committed}):
                tps = sorted(tp for tp in ends if tp.topic == topic)
                for tp in tps:
                    group_rows.append(
                        {
                            "group": group,
                            "topic": topic,
                            "partition": tp.partition,
                            "committed": committed.get(tp),
                            "end_offset": ends[tp],
                            "lag": max(0, ends[tp] - committed.get(tp, 0)),
                        }
                    )
    if fmt is Format.TABLE:
        typer.echo(f"event log: {_safe_url(cfg.log)}")
        render(partition_rows, ["topic", "partition", "end_offset"], fmt, title="topics")
        if group_rows:
            render(
                group_rows,
                ["group", "topic", "partition", "committed", "end_offset", "lag"],
                fmt,
                title="consumer groups",
            )
        else:
            typer.echo("no consumer group has committed yet")
    else:
        rows = [{"kind": "partition", **r} for r in partition_rows] + [
            {"kind": "group", **r} for r in group_rows
        ]
        columns = ["kind", "group", "topic", "partition", "committed", "end_offset", "lag"]
        render(rows, columns, fmt)


@app.command("tail")
def tail_command(
    topic: Annotated[
        str,
        typer.Argument(help="Topic: a Tocsin base name (articles.published ...) or a full name."),
    ],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at offset 0, not the end.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Records to show (0 = all).")
    ] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep printing new records until Ctrl-C.")
    ] = False,
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Show the last records of a topic (or the first, with --from-beginning), decoded."""
    cfg = settings(config, log)
    name = full_topic(cfg, topic) if topic in TOPICS else topic
    with event_log(cfg, existing=True) as elog:
        records = _read(elog, name, from_beginning=from_beginning, limit=limit)
        _show(records, fmt)
        if follow:
            _follow(elog, name, fmt)


def _read(elog: EventLog, name: str, *, from_beginning: bool, limit: int) -> list[Record]:
    ends = elog.end_offsets([name])
    with elog.consumer([name], group=None) as reader:
        for tp, end in ends.items():
            start = 0 if from_beginning or limit == 0 else max(0, end - limit)
            reader.seek(tp, start)
        wanted = sum(end - reader.position(tp) for tp, end in ends.items())
        records: list[Record] = []
        deadline = time.monotonic() + 10
        while len(records) < wanted and time.monotonic() < deadline:
            records += [
                r for r in reader.poll(max_records=1000, timeout_s=0.2) if r.offset < ends[r.tp]
            ]
    if from_beginning:
        records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
        return records[:limit] if limit else records
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    return records[-limit:] if limit else records


def _follow(elog: EventLog, name: str, fmt: Format) -> None:
    with elog.consumer([name], group=None, reset="latest") as reader:
        try:
            while True:
                batch = reader.poll(max_records=500, timeout_s=1.0)
                if batch:
                    _show(batch, Format.JSONL if fmt is Format.JSON else fmt)
        except KeyboardInterrupt:
            return


def _row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat(
            timespec="seconds"
        ),
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
    }
    try:
        event = decode(record)
    except PoisonRecordError as exc:
        row.update(type="(not a Tocsin event)", id="", subject="", error=str(exc))
        return row
    row.update(
        type=event.type,
        id=event.id,
        subject=event.subject or "",
        event=event.model_dump(mode="json"),
    )
    return row


def _show(records: list[Record], fmt: Format) -> None:
    rows = [_row(r) for r in records]
    if fmt is Format.TABLE:
        render(rows, ["time", "partition", "offset", "type", "id", "subject"], fmt)
    else:
        render(
            rows,
            ["time", "partition", "offset", "key", "type", "id", "subject", "event", "error"],
            fmt,
        )


def _safe_url(url: str) -> str:
    from services.eventlog.options import redact

    return redact(url)


__all__ = ["TopicPartition", "app"]
