"""``tocsin poll``, ``tocsin sources list`` and ``tocsin sources import`` end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from feed_server import FAST, FeedServer, Route, rss
from typer.testing import CliRunner

from schemas import PushState, SourceSubscription
from services.cli.app import app
from services.eventlog import open_log
from services.poller.core import subscription_message


def test_poll_then_list_then_import(server: FeedServer, tmp_path: Path) -> None:
    good = server.add(
        "/feed", Route(rss([("https://news.example/1", "One"), ("https://news.example/2", "Two")]))
    )
    server.add("/old", Route(redirect_to="/feed", redirect_status=301))
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "log": f"sqlite:///{tmp_path / 'log.db'}",
                "sources": [
                    {"id": "good", "url": good},
                    {"id": "missing", "url": server.url("/none")},
                    {"id": "moved", "url": server.url("/old")},
                ],
            }
        )
    )
    runner = CliRunner()
    result = runner.invoke(app, ["poll", "--config", str(config)])
    assert result.exit_code == 1  # one source failed
    lines = result.output.splitlines()
    assert any(ln.startswith("ok") and "good" in ln and "new 2" in ln for ln in lines)
    assert any(
        ln.startswith("error") and "missing" in ln and "HttpStatusError" in ln for ln in lines
    )
    result = runner.invoke(app, ["poll", "good", "--config", str(config)])
    assert result.exit_code == 0 and "not_modified" in result.output
    result = runner.invoke(app, ["sources", "list", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    rows = {r["id"]: r for r in json.loads(result.output)}
    assert rows["good"]["status"] == "not_modified" and rows["missing"]["status"] == "error"
    assert "404" in rows["missing"]["last_error"]
    assert rows["moved"]["status"] == "ok" and rows["good"]["warning"] is None
    moved = f"{server.url('/old')} moved permanently to {good} (make that the source's url)"
    assert rows["moved"]["warning"] == moved
    assert {r["push"] for r in rows.values()} == {None}  # no feed names a hub

    # the WebSub states a serving poller recorded (services/poller/push.py)
    now = datetime.now(UTC)
    changes = [
        _change("good", now, PushState.ACTIVE, expires_at=now + timedelta(days=10)),
        _change("good", now - timedelta(minutes=1), PushState.REQUESTED),  # older, read late
        _change("moved", now, PushState.FAILED, problem="HTTP 403 from the hub"),
    ]
    with open_log(f"sqlite:///{tmp_path / 'log.db'}") as log:
        log.append([subscription_message(c, "sources.polled") for c in changes])
    result = runner.invoke(app, ["sources", "list", "--config", str(config), "--format", "json"])
    rows = {r["id"]: r for r in json.loads(result.output)}
    until = (now + timedelta(days=10)).isoformat(timespec="seconds")
    assert rows["good"]["push"] == f"active until {until}"
    assert rows["moved"]["push"] == "failed: HTTP 403 from the hub"
    assert rows["missing"]["push"] is None

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"sources": [{"id": "x", "url": "ftp://example.org/f"}]}))
    result = runner.invoke(app, ["poll", "--config", str(bad)])
    assert result.exit_code != 0 and "not allowed" in str(result.exception or result.output)

    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="OC Media" xmlUrl="https://oc-media.org/feed/"/></body></opml>'
    )
    out = tmp_path / "new-sources.yaml"
    result = runner.invoke(
        app, ["sources", "import", str(opml), "--write", str(out), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["sources"][0]["id"] == "oc-media"


def _change(source_id: str, at: datetime, state: PushState, **more: object) -> SourceSubscription:
    return SourceSubscription.model_validate(
        {
            "source_id": source_id,
            "hub": "https://hub.example/",
            "topic": "https://news.example/feed",
            "state": state,
            "at": at,
            **more,
        }
    )


def test_service_schedules_sources_with_apscheduler(server: FeedServer, tmp_path: Path) -> None:
    import threading
    import time

    from services.eventlog import open_log
    from services.poller.assignment import AllSources
    from services.poller.config import load_sources
    from services.poller.runner import PollerService, trigger_for
    from services.runtime.bootstrap import tocsin_topics
    from services.runtime.service import ServiceContext
    from services.runtime.settings import Settings

    url = server.add("/sched", Route(rss([("https://news.example/s", "S")])))
    sources = load_sources(
        [
            {"id": "s", "url": url, "every": 1, "jitter": 0},
            {"id": "off", "url": url, "enabled": False},
        ]
    )
    assert (
        trigger_for(
            load_sources([{"id": "c", "url": url, "cron": "*/5 * * * *", "jitter": 20}])[0]
        ).jitter
        == 20
    )
    log = open_log(f"sqlite:///{tmp_path / 'sched.db'}")
    log.create_topics(tocsin_topics(Settings()))
    stop = threading.Event()
    svc = PollerService(
        ServiceContext(settings=Settings(), log=log, stop=stop),
        sources,
        options=FAST,
        ownership=AllSources(),
    )
    thread = threading.Thread(target=svc.run)
    thread.start()
    time.sleep(2.6)
    stop.set()
    thread.join(timeout=10)
    log.close()
    assert not thread.is_alive()
    assert 2 <= server.count("/sched") <= 4  # at start, then every second
    assert [r.source_id for r in svc.reports] == ["s"] * len(svc.reports)
    assert svc.reports[0].new_articles == 1 and all(r.new_articles == 0 for r in svc.reports[1:])
