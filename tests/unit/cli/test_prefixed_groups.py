"""Deployments sharing one log (one Kafka cluster) are told apart by ``topic_prefix``: their
consumer groups carry it as their topics do, so neither reads, commits for or rebalances the
other."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from services.cli.app import app
from services.eventlog import open_log


def test_every_consumer_group_carries_the_topic_prefix(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        json.dumps({"id": "1", "title": "Armenia, Azerbaijan and the CSTO", "body": "Talks."})
        + "\n",
        encoding="utf-8",
    )
    log = f"sqlite:///{tmp_path}/tocsin.db"
    for prefix in ("east.", "west."):
        config = tmp_path / f"{prefix}yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "log": log,
                    "topic_prefix": prefix,
                    "sources": [{"id": "local", "kind": "jsonl", "url": str(articles)}],
                    "api": {"port": 0, "read_model": str(tmp_path / f"{prefix}read.db")},
                    "enricher": {"workers": 0},
                }
            ),
            encoding="utf-8",
        )
        result = CliRunner().invoke(
            app, ["run", "--until-idle", "--status-every", "0", "--config", str(config)]
        )
        assert result.exit_code == 0, result.output
    with open_log(log) as elog:
        groups = elog.groups()
        assert groups and all(g.startswith(("east.", "west.")) for g in groups), groups
        for service in ("rules", "notifier", "projections"):  # (the poller joins when serving)
            assert {f"east.{service}", f"west.{service}"} <= set(groups), groups
        assert sum(g.startswith("east.enricher.") for g in groups) == 1
        assert sum(g.startswith("west.enricher.") for g in groups) == 1
