"""``tocsin subscriptions list`` and ``test``: what is in force, from the file and from the
API's events on the log, and a test message through a channel to a real receiver on
127.0.0.1, with nothing recorded on the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from notifier_support import T0, Receiver
from typer.testing import CliRunner

from schemas import SubscriptionCreated, new_event
from services.cli.app import app
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.notifier.runner import read_all
from services.runtime.settings import ConfigError

TOKEN = "123456789:AAE-tElEgRaMbOtToKeN"
runner = CliRunner()


def through_the_api(elog: EventLog, ident: str, definition: dict[str, Any]) -> None:
    payload = SubscriptionCreated(subscription_id=ident, definition=definition, by="ana", at=T0)
    event = new_event(payload, id=f"sub-{ident}", source="/tocsin/api", subject=ident, time=T0)
    elog.append([encode(event, topic="subscriptions", key=ident)])


def config(tmp_path: Path, log_url: str, subscriptions: list[dict[str, Any]]) -> Path:
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump({"log": log_url, "subscriptions": subscriptions}))
    return path


def tocsin(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_the_list_shows_the_files_and_the_apis_subscriptions_and_no_credential(
    elog: EventLog, log_url: str, tmp_path: Path
) -> None:
    cfg = config(
        tmp_path,
        log_url,
        [{"id": "desk", "channel": {"kind": "webhook", "url": "https://hooks.example/x?k=1"}}],
    )
    telegram = {"kind": "telegram", "token": TOKEN, "chat_id": "-100123"}
    match = {"countries": ["AM", "AZ"], "max_age": "36h"}
    through_the_api(elog, "tg", {"channel": telegram, "match": match})
    through_the_api(elog, "broken", {"channel": {"kind": "fax"}})
    result = tocsin("subscriptions", "list", "--config", str(cfg), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["id"], r["origin"], r["kind"], r["to"]) for r in rows] == [
        ("desk", "file", "webhook", "https://hooks.example"),
        ("tg", "api", "telegram", "https://api.telegram.org"),
    ]
    assert rows[1]["match"] == "severity>=low countries=AM,AZ max_age=36h"
    assert "refused: " in result.stderr and "broken" in result.stderr
    assert TOKEN not in result.output


def test_a_test_message_reaches_the_receiver_and_nothing_is_recorded(
    elog: EventLog, log_url: str, tmp_path: Path, receivers: list[Receiver]
) -> None:
    ok, gone = Receiver(), Receiver(script=[404])
    receivers += [ok, gone]
    cfg = config(
        tmp_path,
        log_url,
        [
            {"id": "ok", "channel": {"kind": "webhook", "url": ok.url}},
            {"id": "gone", "channel": {"kind": "webhook", "url": gone.url}},
        ],
    )
    result = tocsin("subscriptions", "test", "ok", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: test message sent through webhook (200)"
    (got,) = ok.received
    (sent,) = got.json()["alerts"]
    assert sent["title"] == "Tocsin test message: this channel works"
    failed = tocsin("subscriptions", "test", "gone", "--config", str(cfg))
    assert failed.exit_code == 1
    origin = gone.url.removesuffix("/hook")
    assert f"gone: the test message failed: webhook {origin}: HTTP 404 busy" in failed.stderr
    assert list(read_all(elog, "alerts.delivered", timeout_s=5)) == []


def test_a_test_through_the_api_meets_the_same_guard_as_a_delivery(
    elog: EventLog, log_url: str, tmp_path: Path, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    through_the_api(elog, "inside", {"channel": {"kind": "webhook", "url": r.url}})
    cfg = config(tmp_path, log_url, [])
    result = tocsin("subscriptions", "test", "inside", "--config", str(cfg))
    assert result.exit_code == 1 and "an internal address" in result.stderr
    assert r.received == []
    unknown = tocsin("subscriptions", "test", "nobody", "--config", str(cfg))
    assert isinstance(unknown.exception, ConfigError)
    assert "no subscription 'nobody'" in str(unknown.exception)
