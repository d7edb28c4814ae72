"""``tocsin alerts ...`` against a real SQLite log: list/show with filters and formats,
ack/assign/comment/resolve append lifecycle events, a new revision reopens a resolved alert."""

from __future__ import annotations

import csv
import io
import json

from notifier_support import alert
from service_helpers import append_alerts
from typer.testing import CliRunner

from schemas import Severity
from services.cli.app import app
from services.eventlog import EventLog
from services.notifier.runner import read_all

runner = CliRunner()


def cli(log_url: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--log", log_url], env={"USER": "anna"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_filters_formats_and_the_lifecycle(elog: EventLog, log_url: str) -> None:
    hostile = alert(1, title="<b>[red]Shelling[/red]</b>")
    low = alert(2, rule="protest-watch", severity=Severity.LOW)
    append_alerts(elog, [hostile, low])

    rows = json.loads(cli(log_url, "alerts", "list", "--format", "json"))
    assert {r["alert_id"] for r in rows} == {hostile.alert_id, low.alert_id}
    assert all(r["status"] == "open" for r in rows)
    only_high = json.loads(cli(log_url, "alerts", "list", "--severity", "high", "-f", "json"))
    assert [r["alert_id"] for r in only_high] == [hostile.alert_id]
    by_rule = cli(log_url, "alerts", "list", "--rule", "protest-watch", "-f", "jsonl")
    assert [json.loads(x)["alert_id"] for x in by_rule.splitlines()] == [low.alert_id]
    assert cli(log_url, "alerts", "list", "--since", "2099-01-01", "-f", "jsonl") == ""
    table = cli(log_url, "alerts", "list")
    assert "[red]Shelling[/red]" in table, "rich markup in a title is shown, not interpreted"

    cli(log_url, "alerts", "ack", hostile.alert_id[:12])
    cli(log_url, "alerts", "assign", hostile.alert_id, "davit", "--by", "lead")
    cli(log_url, "alerts", "comment", hostile.alert_id, "two sources confirm")
    shown = json.loads(cli(log_url, "alerts", "show", hostile.alert_id, "-f", "json"))[0]
    assert shown["status"] == "acknowledged" and shown["assignee"] == "davit"
    assert shown["acknowledged_by"] == "anna"
    assert [h["by"] for h in shown["history"]] == ["anna", "lead", "anna"]

    cli(log_url, "alerts", "resolve", hostile.alert_id, "--resolution", "briefed")
    resolved = cli(log_url, "alerts", "list", "--status", "resolved", "-f", "csv")
    parsed = list(csv.DictReader(io.StringIO(resolved)))
    assert [r["alert_id"] for r in parsed] == [hostile.alert_id]
    lifecycle = list(read_all(elog, "alerts.lifecycle"))
    assert [e.type.split(".")[2] for e in lifecycle] == [
        "acknowledged",
        "assigned",
        "commented",
        "resolved",
    ]

    # New articles on the story: revision 1 of the same alert reopens it.
    from datetime import timedelta

    from notifier_support import raised_event

    from services.eventlog.codec import encode

    update = raised_event(alert(1, revision=1, title="<b>[red]Shelling[/red]</b>"))
    later = update.model_copy(update={"time": update.time + timedelta(days=400)})
    elog.append([encode(later, topic="alerts.raised", key=hostile.alert_id)])
    shown = json.loads(cli(log_url, "alerts", "show", hostile.alert_id, "-f", "json"))[0]
    assert shown["status"] == "open" and shown["reopened"] == 1 and shown["revision"] == 1


def test_unknown_alert_is_a_clear_error(elog: EventLog, log_url: str) -> None:
    result = runner.invoke(app, ["alerts", "ack", "alr_nope", "--log", log_url])
    assert result.exit_code == 2
    assert "no alert 'alr_nope'" in result.output


def test_terminal_controls_in_titles_and_comments_are_shown_not_obeyed(
    elog: EventLog, log_url: str
) -> None:
    # Cursor up and erase the line (hides the row above), a window title, 8-bit CSI.
    hostile = alert(1, title="Shelling\x1b[1A\x1b[2K\x1b]0;owned\x07 \x9b31m")
    append_alerts(elog, [hostile])
    cli(log_url, "alerts", "comment", hostile.alert_id, "seen\r\x1b[2Kall clear")

    listed = cli(log_url, "alerts", "list")
    shown = cli(log_url, "alerts", "show", hostile.alert_id)
    for table in (listed, shown):
        assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in table)
    assert "Shelling\\x1b[1A\\x1b[2K\\x1b]0;owned\\x07" in listed.replace("\n", "")
    assert "seen\\x0d\\x1b[2Kallclear" in "".join(shown.split())
    # The data formats keep the value as it is.
    rows = json.loads(cli(log_url, "alerts", "list", "-f", "json"))
    assert rows[0]["title"] == hostile.title
