"""Options every command shares, and the one place that turns them into settings and a log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.eventlog import EventLog
from services.runtime.bootstrap import open_event_log
from services.runtime.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML config file (default: $TOCSIN_CONFIG, else ./tocsin.yaml when present).",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]
LogOption = Annotated[
    str | None,
    typer.Option(
        "--log",
        help="Event log URL, e.g. sqlite:///./data/tocsin.db or kafka://host:9092 (default: $TOCSIN_LOG, the config, then sqlite:///./data/tocsin.db).",
        show_default=False,
    ),
]


def settings(config: Path | None, log: str | None) -> Settings:
    return load_settings(config, log=log)


def event_log(cfg: Settings) -> EventLog:
    return open_event_log(cfg)
