"""``tocsin run``: every service in one process against one log (the one-machine mode).

Each service runs in its own thread with its own consumer(s); they share the opened log
(the SQLite backend is thread-safe, and each consumer has its own connection). A status
line every ``--status-every`` seconds shows what flowed and the lag per consumer group.

``--until-idle`` polls every source once, then runs the consumers in pipeline order
(enricher, rules, notifier, the read side) as batch jobs, pass after pass, until a whole
pass appends nothing new: every consumer has caught up. Tests, benchmarks and cron jobs
use it.

``--processes`` runs each service in a child process of its own instead of a thread
(``supervisor``): the same command, console and Ctrl-C, on as many cores as the services
can use.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from services.cli import supervisor
from services.cli.common import ConfigOption, LogOption, announce_dashboard, event_log, settings
from services.eventlog import EventLog
from services.eventlog.options import redact
from services.registry import SERVICES, service_factory
from services.runtime.service import Service, ServiceContext
from services.runtime.settings import Settings
from services.runtime.shutdown import install_signal_handlers

log = logging.getLogger(__name__)

#: The order data flows in; services not (yet) registered are skipped.
PIPELINE = ("poller", "enricher", "rules", "notifier", "api")


def pipeline() -> list[str]:
    return [name for name in PIPELINE if name in SERVICES] + sorted(set(SERVICES) - set(PIPELINE))


def run(
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle", help="Exit once every source was polled and every consumer caught up."
        ),
    ] = False,
    status_every: Annotated[
        float, typer.Option("--status-every", min=0, help="Seconds between status lines (0: none).")
    ] = 10.0,
    processes: Annotated[
        bool,
        typer.Option(
            "--processes",
            help="Run each service in a process of its own (uses several cores), until Ctrl-C.",
        ),
    ] = False,
    config: ConfigOption = None,
    log_url: LogOption = None,
) -> None:
    """Run every service in this process until Ctrl-C (or until idle)."""
    if processes and until_idle:
        raise typer.BadParameter(
            "--until-idle runs the services in this process, pass after pass; "
            "--processes is for running until stopped",
            param_hint="--processes",
        )
    cfg = settings(config, log_url)
    stop = threading.Event()
    install_signal_handlers(stop)
    names = pipeline()
    if processes:
        _run_processes(cfg, names, config, log_url, stop, status_every)
        return
    with event_log(cfg, wait=stop) as elog:
        context = ServiceContext(settings=cfg, log=elog, stop=stop, shared_process=True)
        services = [service_factory(name)(context) for name in names]
        typer.echo(f"tocsin: {', '.join(names)} on {redact(cfg.log)}", err=True)
        if until_idle:
            passes = _run_until_idle(elog, services, stop)
            typer.echo(f"tocsin: idle after {passes} pass(es)", err=True)
        else:
            _run_forever(elog, services, stop, status_every)
        typer.echo(_status(elog), err=True)


def _run_processes(
    cfg: Settings,
    names: list[str],
    config: Path | None,
    log_url: str | None,
    stop: threading.Event,
    every: float,
) -> None:
    # opened here first: it waits for the log and creates its topics once, before the
    # services start; then it serves the status lines
    with event_log(cfg, wait=stop) as elog:
        if stop.is_set():
            return
        children = supervisor.start(names, config, log_url)
        pids = ", ".join(f"{c.name} {c.process.pid}" for c in children)
        typer.echo(f"tocsin: {len(children)} processes ({pids}) on {redact(cfg.log)}", err=True)
        next_status = time.monotonic() + every

        def status() -> None:
            nonlocal next_status
            if every and time.monotonic() >= next_status:
                typer.echo(_status(elog), err=True)
                next_status = time.monotonic() + every

        died = supervisor.supervise(children, stop, tick=status)
        typer.echo(_status(elog), err=True)
    if died is not None:
        typer.echo(
            f"tocsin: service {died.name} exited with status {died.process.returncode}; "
            "the others were stopped",
            err=True,
        )
        raise typer.Exit(1)


def _run_until_idle(elog: EventLog, services: list[Service], stop: threading.Event) -> int:
    """The poller polls every source once; the consumers then run in pipeline order, pass
    after pass, until a whole pass appends nothing (every consumer has caught up)."""
    producers = [s for s in services if s.name == "poller"]
    consumers = [s for s in services if s.name != "poller"]
    for service in producers:
        service.run_until_idle()
    passes = 0
    while not stop.is_set():
        before = sum(elog.end_offsets().values())
        for service in consumers:
            if stop.is_set():
                break
            service.run_until_idle()
        passes += 1
        if sum(elog.end_offsets().values()) == before:
            break
    return passes


def _run_forever(
    elog: EventLog, services: list[Service], stop: threading.Event, every: float
) -> None:
    failures: list[BaseException] = []

    def guarded(service: Service) -> None:
        try:
            service.run()
        except BaseException as exc:  # one service dying stops the process, loudly
            log.exception("service %s stopped with an error", service.name)
            failures.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=guarded, args=(s,), name=s.name, daemon=True) for s in services
    ]
    for t in threads:
        t.start()
    announce_dashboard(services, stop)
    next_status = time.monotonic() + every
    while not stop.wait(0.2):
        if every and time.monotonic() >= next_status:
            typer.echo(_status(elog), err=True)
            next_status = time.monotonic() + every
    for t in threads:
        t.join(timeout=30)
    if failures:
        raise failures[0]


def _status(elog: EventLog) -> str:
    ends = elog.end_offsets()
    per_topic: dict[str, int] = {}
    for tp, end in ends.items():
        per_topic[tp.topic] = per_topic.get(tp.topic, 0) + end
    flow = ", ".join(f"{name} {count}" for name, count in sorted(per_topic.items()) if count)
    lags = []
    for group in elog.groups():
        lag = sum(elog.lag(group).values())
        lags.append(f"{group} {lag}")
    return f"tocsin: records: {flow or 'none yet'}; lag: {', '.join(lags) or 'no groups'}"
