"""``tocsin projections rebuild|status``: the read models the API serves, made from the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from services.cli.common import ConfigOption, LogOption, event_log, require_log, settings
from services.cli.output import Format, render
from services.projections.loop import all_topics
from services.projections.rebuild import rebuild
from services.projections.settings import read_model_path
from services.projections.store import ReadModel

app = typer.Typer(
    help="Read models: rebuild them from the log, see their state.", no_args_is_help=True
)

ReadModelOption = Annotated[
    Path | None,
    typer.Option(
        "--read-model",
        help="Read-model file (default: the api.read_model setting, ./data/read.db).",
        dir_okay=False,
        show_default=False,
    ),
]


@app.command("rebuild")
def rebuild_command(
    read_model: ReadModelOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Drop the read model and make it again from every topic of the log (stop the api first)."""
    cfg = settings(config, log)
    path = read_model_path(cfg, read_model)
    with event_log(cfg, existing=True) as elog:
        if quiet:
            result = rebuild(elog, all_topics(cfg), path)
        else:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            ) as bar:
                task = bar.add_task("replaying", total=None)
                result = rebuild(
                    elog,
                    all_topics(cfg),
                    path,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    typer.echo(
        json.dumps(
            {
                "read_model": str(path),
                "records": result.records,
                "applied": result.applied,
                "undecodable": result.undecodable,
                "seconds": round(result.seconds, 2),
                "rows": result.counts,
            }
        )
    )


@app.command("status")
def status_command(
    read_model: ReadModelOption = None,
    config: ConfigOption = None,
    log: LogOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TABLE,
) -> None:
    """Rows per view, and how far the read model is behind the log, per topic."""
    cfg = settings(config, log)
    path = read_model_path(cfg, read_model)
    require_log(cfg)  # before the read model, which opening creates too
    with ReadModel(path) as store, event_log(cfg) as elog:
        counts = store.counts()
        ends = elog.end_offsets(all_topics(cfg))
        behind: dict[str, int] = {}
        for tp, end in ends.items():
            behind[tp.topic] = behind.get(tp.topic, 0) + max(0, end - store.tracking.get(tp, 0))
    render(
        [{"view": k, "rows": v} for k, v in counts.items()], ["view", "rows"], fmt, title=str(path)
    )
    render([{"topic": k, "behind": v} for k, v in sorted(behind.items())], ["topic", "behind"], fmt)
