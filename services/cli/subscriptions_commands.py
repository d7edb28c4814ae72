"""``tocsin subscriptions``: the subscriptions in force, and a test message through one.

Why a test message: a Telegram bot that is not in its chat, a revoked Slack hook or a
mistyped SMTP login shows up only when the first real alert fails to arrive. ``test`` sends
one message, marked as a test, through the channel as the notifier would (the same sender,
the same check of internal hosts for a subscription made through the API) and says what
the receiver answered. Nothing is recorded on the log: a test is not a delivery.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.output import Format, render
from services.eventlog import local_file
from services.runtime.durations import format_duration
from services.runtime.settings import ConfigError, Settings

if TYPE_CHECKING:
    from schemas import AlertRaised
    from services.alerting.subscriptions import Subscription
    from services.notifier.book import SubscriptionBook

app = typer.Typer(
    help="Subscriptions: list those in force, send a test message through one.",
    no_args_is_help=True,
)
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _book(cfg: Settings) -> tuple[SubscriptionBook, list[str]]:
    """The config file's subscriptions and the API's (folded from the log as the notifier
    folds them), and what the events it refused said."""
    from services.notifier.book import SubscriptionBook, configured
    from services.notifier.runner import read_all
    from services.runtime.bootstrap import topic

    book = SubscriptionBook(configured(cfg))
    refused: list[str] = []
    path = local_file(cfg.log)
    if path is None or path.exists():
        with event_log(cfg) as elog:
            refused = book.fold(read_all(elog, topic(cfg, "subscriptions")))
    return book, refused


def _match(sub: Subscription) -> str:
    m = sub.match
    parts = [f"severity>={m.min_severity.value}"]
    for name, values in (("rules", m.rules), ("countries", m.countries), ("entities", m.entities)):
        if values:
            parts.append(f"{name}={','.join(values)}")
    parts += [f"{k}={v}" for k, v in sorted(m.labels.items())]
    if m.max_age is not None:
        parts.append(f"max_age={format_duration(m.max_age)}")
    return " ".join(parts)


@app.command("list")
def list_subscriptions(
    config: ConfigOption = None, log: LogOption = None, fmt: FormatOption = Format.TABLE
) -> None:
    """The subscriptions in force: the config file's and those made through the API."""
    from services.notifier.channels.guard import destination

    book, refused = _book(settings(config, log))
    rows = []
    for sub in book.all():
        mode = sub.mode if isinstance(sub.mode, str) else "digest"
        rows.append(
            {
                "id": sub.id,
                "origin": "file" if sub.id in book.configured else "api",
                "kind": sub.kind,
                "to": destination(sub.channel)[1] if sub.pushed else "(pulled from the API)",
                "match": _match(sub),
                "mode": mode,
                "updates": sub.updates,
                "enabled": sub.enabled,
            }
        )
    render(rows, ["id", "origin", "kind", "to", "match", "mode", "updates", "enabled"], fmt)
    for line in refused:
        typer.echo(f"refused: {line}", err=True)


def sample_alert() -> AlertRaised:
    """The alert a test message carries: marked as a test in its title and description."""
    from schemas import AlertArticle, AlertRaised, Severity

    now = datetime.now(UTC)
    return AlertRaised(
        alert_id="alr_test",
        rule_id="tocsin-test",
        rule_version="test",
        ruleset_version="test",
        severity=Severity.LOW,
        title="Tocsin test message: this channel works",
        description="Sent by `tocsin subscriptions test`; no rule fired.",
        key="test",
        articles=(
            AlertArticle(article_id="art_test", title="Test", source_id="tocsin", published_at=now),
        ),
        first_seen=now,
        last_seen=now,
        source_count=1,
    )


@app.command("test")
def send_test(
    subscription_id: Annotated[str, typer.Argument(help="The subscription's id.")],
    config: ConfigOption = None,
    log: LogOption = None,
) -> None:
    """Send a test message through a subscription's channel; exit 1 if it did not arrive."""
    from services.notifier.book import delivery_guard
    from services.notifier.channels import DeliveryError, Outgoing

    cfg = settings(config, log)
    book, _ = _book(cfg)
    sub = book.get(subscription_id)
    if sub is None:
        raise ConfigError(f"no subscription {subscription_id!r} in the config file or on the log")
    if not sub.pushed:
        raise ConfigError(f"subscription {sub.id} is a {sub.kind} channel: the API serves it")
    channel = book.sender(sub, delivery_guard(cfg))
    message = Outgoing(sub, (sample_alert(),), False, f"test-{uuid.uuid4().hex}")
    try:
        status = channel.send(message)
    except DeliveryError as exc:
        typer.echo(f"{sub.id}: the test message failed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        channel.close()
    answer = f" ({status})" if status is not None else ""
    typer.echo(f"{sub.id}: test message sent through {sub.kind}{answer}")
