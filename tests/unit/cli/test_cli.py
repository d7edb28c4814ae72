"""The ``tocsin`` command as a user runs it: a real process, a real log in a temp folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import PollStatus, SourcePolled, new_event
from services.eventlog import Message, open_log
from services.eventlog.codec import encode

TOCSIN = shutil.which("tocsin", path=str(Path(sys.executable).parent)) or "tocsin"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    full_env.update(env or {})
    return subprocess.run(
        [TOCSIN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        check=False,
    )


def test_log_stats_on_a_fresh_default_log(tmp_path: Path) -> None:
    assert run("log", "topics", cwd=tmp_path).returncode == 0  # creates the log and topics
    assert (tmp_path / "data" / "tocsin.db").is_file(), "the default log lives under ./data"
    result = run("log", "stats", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "event log: sqlite:///./data/tocsin.db" in result.stdout
    assert "articles.published" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["alerts", "list"],
        ["alerts", "show", "alert-1"],
        ["alerts", "ack", "alert-1"],
        ["log", "stats"],
        ["log", "tail", "articles.published"],
        ["projections", "status"],
        ["projections", "rebuild", "--quiet"],
        ["replay", "--since", "2026-01-01", "--until", "2026-02-01", "--rules", "RULES"],
        ["reenrich"],
        ["rules", "test", "RULES", "--since", "2026-01-01", "--until", "2026-02-01"],
    ],
)
def test_commands_on_history_refuse_a_log_that_is_not_there(
    command: list[str], tmp_path: Path
) -> None:
    """Run in the wrong folder, they used to create an empty log there and report nothing
    (no alerts, no lag) as if all were well."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: r\n    title: r\n    when: {entity: country:AM}\n")
    result = run(*(str(rules) if a == "RULES" else a for a in command), cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.endswith(
        "tocsin: configuration error: no event log at data/tocsin.db: nothing has run with "
        "this configuration here (tocsin run creates it); give --log, --config or TOCSIN_LOG "
        "for an existing one\n"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["rules.yaml"]


def test_sources_list_before_the_first_run_shows_every_source_never_polled(
    tmp_path: Path,
) -> None:
    result = run("sources", "list", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and {r["status"] for r in rows} == {"never polled"}
    assert not (tmp_path / "data").exists()


def test_log_stats_json_shows_groups_and_lag(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    assert run("log", "topics", "--log", url, cwd=tmp_path).returncode == 0  # creates the topics
    with open_log(url) as log:
        log.append([Message("sources.polled", b"x", key=b"k%d" % i) for i in range(5)])
        with log.consumer(["sources.polled"], group="health") as c:
            records = c.poll(max_records=2, timeout_s=1)
            c.commit({records[0].tp: records[0].offset + 1})
    result = run("log", "stats", "--log", url, "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    groups = [r for r in rows if r["kind"] == "group"]
    assert {r["group"] for r in groups} == {"health"}
    assert sum(r["lag"] for r in groups) == 4
    partitions = [r for r in rows if r["kind"] == "partition" and r["topic"] == "sources.polled"]
    assert sum(r["end_offset"] for r in partitions) == 5


def test_log_tail_decodes_events_and_flags_bad_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    run("log", "topics", "--log", url, cwd=tmp_path)
    payload = SourcePolled(
        source_id="warsaw-institute",
        url="https://example.org/feed/",
        polled_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=PollStatus.OK,
        latency_ms=12.0,
    )
    event = new_event(payload, id="poll-1", source="/test", subject="warsaw-institute")
    with open_log(url) as log:
        log.append([encode(event, topic="sources.polled", key="warsaw-institute")])
        later = int(event.time.timestamp() * 1000) + 60_000  # surely the last record
        log.append([Message("sources.polled", b"[not an event]", key=b"zzz", timestamp_ms=later)])
    result = run("log", "tail", "sources.polled", "--log", url, "--format", "jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    good = next(r for r in rows if r["id"] == "poll-1")
    assert good["type"] == "tocsin.source.polled.v1"
    assert good["event"]["data"]["source_id"] == "warsaw-institute"
    bad = next(r for r in rows if r["key"] == "zzz")
    assert bad["type"] == "(not a Tocsin event)" and "not a valid Tocsin event" in bad["error"]
    table = run("log", "tail", "sources.polled", "--log", url, "--limit", "1", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "(not a Tocsin event)" in table.stdout, "--limit 1 shows the last record"
    assert "poll-1" not in table.stdout


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "tocsin.yaml").write_text("log: ftp://nowhere\n", encoding="utf-8")
    result = run("log", "stats", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown event log URL 'ftp://nowhere'" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "tocsin.yaml").write_text(
        "log: sqlite:///./x.db\nkafka: {acks: maybe}\n", encoding="utf-8"
    )
    result = run("log", "stats", cwd=tmp_path)
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "kafka.acks" in result.stderr


def test_unreachable_kafka_fails_fast_with_the_address(tmp_path: Path) -> None:
    result = run(
        "log",
        "stats",
        "--log",
        "kafka://127.0.0.1:1",
        cwd=tmp_path,
        env={
            "TOCSIN_KAFKA__BOOTSTRAP_TIMEOUT_MS": "1500",
            "TOCSIN_KAFKA__REQUEST_TIMEOUT_MS": "1500",
        },
    )
    assert result.returncode == 2
    assert "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["log", "--help"],
        ["log", "tail", "--help"],
        ["schemas", "export", "--help"],
        ["serve", "--help"],
    ],
)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = run(*command, cwd=tmp_path)
    assert result.returncode == 0 and "Usage" in result.stdout


def test_schemas_export_check(tmp_path: Path) -> None:
    assert run("schemas", "export", "--check", cwd=tmp_path).returncode == 0
    out = tmp_path / "json"
    assert run("schemas", "export", "--out", str(out), cwd=tmp_path).returncode == 0
    assert (out / "tocsin.article.published.v1.json").is_file()
    (out / "tocsin.article.published.v1.json").write_text("{}", encoding="utf-8")
    stale = run("schemas", "export", "--check", "--out", str(out), cwd=tmp_path)
    assert stale.returncode == 1 and "tocsin.article.published.v1.json" in stale.stderr
