"""``tocsin serve NAME``: run one service alone against the configured log."""

from __future__ import annotations

import logging
import os
import threading
from typing import Annotated

import typer

from services.cli.common import ConfigOption, LogOption, announce_dashboard, event_log, settings
from services.eventlog.options import redact
from services.registry import SERVICES, service_factory
from services.runtime.service import ServiceContext
from services.runtime.shutdown import install_signal_handlers

log = logging.getLogger(__name__)


def serve(
    name: Annotated[
        str,
        typer.Argument(help=f"The service to run: {', '.join(sorted(SERVICES)) or 'none yet'}."),
    ],
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit once there is nothing left to do.")
    ] = False,
    supervised: Annotated[
        bool,
        typer.Option(
            "--supervised",
            hidden=True,
            help="Stop when standard input closes (tocsin run --processes: the supervisor ended).",
        ),
    ] = False,
    config: ConfigOption = None,
    log_url: LogOption = None,
) -> None:
    """Run one service in this process until Ctrl-C / SIGTERM (or until idle)."""
    if name not in SERVICES:
        known = ", ".join(sorted(SERVICES)) or "none yet"
        typer.echo(f"unknown service {name!r}; known: {known}", err=True)
        raise typer.Exit(2)
    cfg = settings(config, log_url)
    stop = threading.Event()
    install_signal_handlers(stop)
    if supervised:
        _stop_when_stdin_closes(name, stop)
    with event_log(cfg, wait=stop) as elog:
        service = service_factory(name)(ServiceContext(settings=cfg, log=elog, stop=stop))
        typer.echo(f"tocsin: {name} running on {redact(cfg.log)} (Ctrl-C to stop)", err=True)
        if until_idle:
            service.run_until_idle()
        else:
            announce_dashboard([service], stop)
            service.run()
    typer.echo(f"tocsin: {name} stopped", err=True)


def _stop_when_stdin_closes(name: str, stop: threading.Event) -> None:
    """The supervisor holds the other end of standard input and never writes to it: end of
    file means it is gone, and this service stops as on SIGTERM (``services.cli.supervisor``)."""

    def watch() -> None:
        # the raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered
        # reader's lock aborts the interpreter's shutdown
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        if not stop.is_set():
            log.warning("%s: the supervising tocsin run is gone; stopping", name)
            stop.set()

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
