"""The root ``tocsin`` app: sub-commands are registered here, errors are reported here.

Expected failures (bad configuration, an unreachable broker, an unknown topic) print one
clear line and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from services.cli import (
    alerts_commands,
    enrich_commands,
    log_commands,
    poller_commands,
    projections_commands,
    reenrich_commands,
    replay_commands,
    rules_commands,
    run_commands,
    schema_commands,
    serve_commands,
    subscriptions_commands,
)
from services.eventlog import EventLogError, RetryableError
from services.runtime.logs import configure_logging
from services.runtime.settings import ConfigError

app = typer.Typer(
    name="tocsin",
    help="Tocsin: event-sourced monitoring of regional security news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(log_commands.app, name="log")
app.add_typer(alerts_commands.app, name="alerts")
app.add_typer(schema_commands.app, name="schemas")
app.add_typer(rules_commands.app, name="rules")
app.add_typer(projections_commands.app, name="projections")
app.add_typer(subscriptions_commands.app, name="subscriptions")
app.command("run")(run_commands.run)
app.command("serve")(serve_commands.serve)
poller_commands.register(app)
app.command("enrich")(enrich_commands.enrich)
app.command("replay")(replay_commands.replay)
app.command("reenrich")(reenrich_commands.reenrich)


def main() -> None:
    configure_logging()
    try:
        app()
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    except RetryableError as exc:
        _fail(f"event log unavailable: {exc}")
    except EventLogError as exc:
        _fail(f"event log error: {exc}")


def _fail(message: str) -> None:
    sys.stderr.write(f"tocsin: {message}\n")
    raise SystemExit(2)
