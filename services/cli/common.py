"""Options every command shares, and the one place that turns them into settings and a log."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from services.eventlog import EventLog, local_file
from services.runtime.bootstrap import open_event_log
from services.runtime.service import Service
from services.runtime.settings import ConfigError, Settings, load_settings

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


def require_log(cfg: Settings) -> None:
    """Commands that read or act on history refuse a SQLite log that is not there, where
    opening would create an empty one: run in the wrong folder, ``tocsin alerts list`` said
    there were no alerts and left a ``data/`` folder behind."""
    path = local_file(cfg.log)
    if path is not None and not path.exists():
        raise ConfigError(
            f"no event log at {path}: nothing has run with this configuration here "
            "(tocsin run creates it); give --log, --config or TOCSIN_LOG for an existing one"
        )


def event_log(
    cfg: Settings, *, wait: threading.Event | None = None, existing: bool = False
) -> EventLog:
    """The configured log. Long-running commands (run, serve) pass their stop event as
    ``wait``: they wait for an unreachable broker (``runtime.startup_wait_s``, or until
    stopped), reporting each attempt; one-shot commands fail at once.

    ``existing``: a command that reads or acts on history (``require_log``)."""
    if existing:
        require_log(cfg)
    if wait is None:
        return open_event_log(cfg)
    return open_event_log(
        cfg,
        wait_s=cfg.runtime.startup_wait_s,
        on_wait=lambda line: typer.echo(f"tocsin: waiting for the event log: {line}", err=True),
        stop=wait,
    )


def announce_dashboard(services: Iterable[Service], stop: threading.Event) -> None:
    """Print where the dashboard listens once the API service is up (a background thread:
    the services are running)."""

    def wait(service: Service, ready: threading.Event) -> None:
        while not ready.wait(0.1):
            if stop.is_set():
                return
        token_file = getattr(service, "token_file", None)
        how = f" (sign in with the token in {token_file})" if token_file else ""
        typer.echo(f"tocsin: dashboard on {getattr(service, 'url', '?')}{how}", err=True)

    for service in services:
        ready = getattr(service, "listening", None)
        if isinstance(ready, threading.Event):
            threading.Thread(target=wait, args=(service, ready), daemon=True).start()
