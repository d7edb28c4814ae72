"""Backtest jobs through the API: ``tocsin rules test`` run as a subprocess over a real
sqlite log of enriched articles, with the bundled default rules uploaded as the rule file."""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from readside_server import (
    READ_TOKEN,
    WRITE_TOKEN,
    live_server,
    make_config,
    make_settings,
    open_test_log,
)

from schemas import ArticleEnriched, ArticlePublished, new_event
from schemas.ids import content_hash
from services.api.app import create_app
from services.api.backtests import BacktestRunner
from services.eventlog.codec import encode
from services.runtime.bootstrap import topic
from services.runtime.clock import SystemClock
from services.runtime.settings import Settings
from services.text import analyse, enriched_fields

W = {"Authorization": f"Bearer {WRITE_TOKEN}"}
R = {"Authorization": f"Bearer {READ_TOKEN}"}
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_RULES = (ROOT / "services" / "rules" / "packs" / "default.yaml").read_text("utf-8")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    (
        "Pashinyan skips CSTO meeting",
        "Armenia froze its participation in the CSTO, saying the bloc had failed to respond"
        " when Azerbaijan attacked Armenian territory.",
    ),
    (
        "Soldier killed on Armenian-Azerbaijani border",
        "Armenia's defence ministry said one soldier was killed when Azerbaijani forces opened"
        " fire on Armenian positions near the border in Syunik on Tuesday. Azerbaijan denied it.",
    ),
    ("Harvest festival", "Farmers in the valley celebrated a good apple harvest this autumn."),
]
PERIOD = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}


def enriched_events(settings: Settings) -> list[Any]:
    out = []
    for n, (title, text) in enumerate(TEXTS):
        at = T0 + timedelta(minutes=10 * n)
        article = ArticlePublished(
            article_id=f"art_bt{n}",
            url=f"https://news.example.org/bt/{n}",
            title=title,
            text=text,
            published_at=at,
            fetched_at=at,
            source_id=f"src-{n}",
            language_hint="en",
            content_hash=content_hash(title, text),
        )
        payload = ArticleEnriched(
            article=article, enricher_version="test", **enriched_fields(analyse(title, text, "en"))
        )
        event = new_event(
            payload, id=f"enr_bt{n}", source="/tocsin/enricher", subject=article.article_id, time=at
        )
        out.append(
            encode(event, topic=topic(settings, "articles.enriched"), key=article.article_id)
        )
    return out


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = make_settings(tmp_path)
    config = make_config(tmp_path, backtest_concurrency=2, backtest_max_pending=3)
    log = open_test_log(settings)
    log.append(enriched_events(settings))
    with TestClient(create_app(config, settings, log, follow_alerts=False)) as c:
        yield c, tmp_path
    log.close()


def wait(c: TestClient, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = c.get(f"/backtests/{job_id}", headers=R).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_backtest_runs_the_rules_over_the_period(env: tuple[TestClient, Path]) -> None:
    c, _ = env
    r = c.post("/backtests", json={"rules": DEFAULT_RULES, **PERIOD, "examples": 2}, headers=W)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and job["requested_by"] == "ana"
    done = wait(c, job["job_id"])
    assert done["status"] == "succeeded", done["error"]
    rules = {row["rule"]: row for row in done["result"]["rules"]}
    assert rules["csto-armenia-azerbaijan"]["would_fire"] == 1
    assert rules["armenia-azerbaijan-border-incident"]["would_fire"] == 1
    example = rules["csto-armenia-azerbaijan"]["examples"][0]
    assert example["title"].endswith(": Pashinyan skips CSTO meeting")
    assert sum(row["would_fire"] for row in rules.values()) == 2  # the harvest stays quiet
    listed = c.get("/backtests", headers=R).json()["items"]
    assert [j["job_id"] for j in listed] == [job["job_id"]] and "result" not in listed[0]
    # another period: nothing was published then
    r = c.post(
        "/backtests",
        json={"rules": DEFAULT_RULES, "since": "2026-04-01", "until": "2026-04-02"},
        headers=W,
    )
    empty = wait(c, r.json()["job_id"])
    assert empty["status"] == "succeeded"
    assert all(row["would_fire"] == 0 for row in empty["result"]["rules"])


def test_bodies_over_the_limit_are_refused_unread_and_the_largest_rule_file_is_not(
    env: tuple[TestClient, Path],
) -> None:
    """The API reads a body whole before it checks the token: without a limit, anyone who
    could reach it could make it hold any amount in memory (``app.BodyLimit``)."""
    c, _ = env
    too_large = {"detail": {"error": "too_large", "message": "the body is over 4,000,000 bytes"}}
    declared = c.post(
        "/backtests",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "4000001"},
    )
    assert (declared.status_code, declared.json()) == (413, too_large)
    chunks = (b" " * 1_000_000 for _ in range(5))  # chunked, no length: counted as it comes
    streamed = c.post("/backtests", content=chunks, headers={"Content-Type": "application/json"})
    assert (streamed.status_code, streamed.json()) == (413, too_large)
    assert streamed.headers["x-content-type-options"] == "nosniff"
    assert c.get("/backtests", headers=R).json()["items"] == []

    # The largest rule file the API takes, written as JSON with a newline per line, passes.
    padding = "# " + "x" * 97 + "\n"
    room = 1_000_000 - len(DEFAULT_RULES.encode("utf-8"))
    largest = DEFAULT_RULES + padding * (room // len(padding))
    r = c.post("/backtests", json={"rules": largest, **PERIOD}, headers=W)
    assert r.status_code == 202, r.text


def test_a_server_stops_reading_a_body_at_the_limit_and_needs_no_token_to_say_so(
    tmp_path: Path,
) -> None:
    """Against the real server: a client streaming 100 MB without a token gets its 413 once
    4 MB have come, while it is still sending (the socket buffers hold a few MB more)."""
    with live_server(tmp_path) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /subscriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (1_000_000, b" " * 1_000_000)
            sent = 0
            try:
                while sent < 100 and not select.select([sock], [], [], 0)[0]:
                    sock.sendall(chunk)
                    sent += 1
            except OSError:  # the server closed the connection after answering
                pass
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 50, f"{sent} MB sent before the answer"


def test_a_bad_rule_file_fails_the_job_with_its_line(env: tuple[TestClient, Path]) -> None:
    c, _ = env
    bad = "rules:\n  - id: broken\n    severity: apocalyptic\n"
    r = c.post("/backtests", json={"rules": bad, **PERIOD}, headers=W)
    assert r.status_code == 202
    job = wait(c, r.json()["job_id"])
    assert job["status"] == "failed" and job["result"] is None
    assert "rules.yaml:" in job["error"] and "tocsin-backtest-" not in job["error"]


def test_an_alias_bomb_fails_the_job_at_once_with_its_line(
    env: tuple[TestClient, Path],
) -> None:
    """Nine levels of nine aliases: built out, 43 million values, minutes of a worker."""
    c, _ = env
    bomb = "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
        for prev, name in zip(["", *"abcdefgh"], "abcdefgh", strict=False)
    )
    r = c.post("/backtests", json={"rules": bomb + "rules: []\n", **PERIOD}, headers=W)
    assert r.status_code == 202
    job = wait(c, r.json()["job_id"])
    assert job["status"] == "failed"
    assert "rules.yaml:5: e: aliases expand the file past" in job["error"]


def test_requests_are_checked_before_anything_runs(env: tuple[TestClient, Path]) -> None:
    c, _ = env
    body = {"rules": DEFAULT_RULES, **PERIOD}
    assert c.post("/backtests", json=body).status_code == 401
    assert c.post("/backtests", json=body, headers=R).status_code == 403
    r = c.post("/backtests", json={**body, "until": "2026-02-01T00:00:00Z"}, headers=W)
    assert r.status_code == 422 and "until must be after since" in r.text
    r = c.post("/backtests", json={**body, "rules": ""}, headers=W)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "rules"]
    r = c.post("/backtests", json={**body, "extra": 1}, headers=W)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "extra"]
    assert c.get("/backtests", headers=R).json()["items"] == []
    assert c.get("/backtests/bkt_nope", headers=R).status_code == 404
    assert c.get("/backtests").status_code == 401


def test_concurrency_is_bounded(env: tuple[TestClient, Path]) -> None:
    c, _ = env
    body = {"rules": DEFAULT_RULES, **PERIOD}
    codes = [c.post("/backtests", json=body, headers=W).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]  # at most 3 waiting or running
    for job in c.get("/backtests", headers=R).json()["items"]:
        assert wait(c, job["job_id"])["status"] == "succeeded"
    assert c.post("/backtests", json=body, headers=W).status_code == 202


def _runner(tmp: Path, settings: Settings, command: list[str], **kw: Any) -> BacktestRunner:
    options: dict[str, Any] = {"concurrency": 1, "timeout_s": 30.0, "max_pending": 4, **kw}
    return BacktestRunner(tmp / "jobs.db", settings, SystemClock(), command=command, **options)


def _wait_job(runner: BacktestRunner, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (job := runner.get(job_id)) is None or job["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


def test_the_child_gets_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "hook-secret-value")
    monkeypatch.setenv("TOCSIN_SECRET_THING", "token-secret-value")
    settings = Settings(
        log=f"sqlite:///{tmp_path}/log.db",
        api={"tokens": [{"name": "x", "token": "api-token-value-0123", "scopes": ["read"]}]},  # type: ignore[arg-type]
        subscriptions=[{"id": "s", "channel": {"kind": "webhook", "secret": "sub-secret"}}],
    )
    # a stand-in for the CLI that reports what it was given: environment, arguments, config
    spy = (
        "import json, os, sys; cfg = sys.argv[sys.argv.index('--config') + 1];"
        " print(json.dumps([dict(os.environ), sys.argv[1:], open(cfg).read()]))"
    )
    runner = _runner(tmp_path, settings, [sys.executable, "-c", spy])
    try:
        job = runner.submit(
            rules="rules: []\n",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            until=datetime(2026, 1, 2, tzinfo=UTC),
            examples=1,
            by="t",
        )
        done = _wait_job(runner, job["job_id"])
    finally:
        runner.close()
    assert done["status"] == "succeeded", done["error"]
    env, argv, config = done["result"]["rules"]
    text = json.dumps(done["result"])
    for secret in ("hook-secret-value", "token-secret-value", "api-token-value", "sub-secret"):
        assert secret not in text
    assert not any(k.startswith("TOCSIN_") for k in env)
    assert argv[:2] == ["rules", "test"] and argv[argv.index("--format") + 1] == "json"
    assert json.loads(config)["log"] == settings.log


def test_a_job_over_its_time_limit_is_killed(tmp_path: Path) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path}/log.db")
    runner = _runner(
        tmp_path, settings, [sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=0.5
    )
    try:
        job = runner.submit(
            rules="rules: []\n",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            until=datetime(2026, 1, 2, tzinfo=UTC),
            examples=1,
            by="t",
        )
        started = time.monotonic()
        done = _wait_job(runner, job["job_id"])
    finally:
        runner.close()
    assert done["status"] == "failed" and done["error"] == "timed out after 0.5 s"
    assert time.monotonic() - started < 10
