"""Deployments sharing one log (one Kafka cluster) are told apart by ``topic_prefix``: their
consumer groups carry it as their topics do, so neither reads, commits for or rebalances the
other."""

from __future__ import annotations

from pathlib import Path

from cli_setup import one_article_jsonl, write_config
from typer.testing import CliRunner

from services.cli.app import app
from services.eventlog import open_log


def test_every_consumer_group_carries_the_topic_prefix(tmp_path: Path) -> None:
    articles = one_article_jsonl(tmp_path, title="Armenia, Azerbaijan and the CSTO")
    log = f"sqlite:///{tmp_path}/tocsin.db"
    for prefix in ("east.", "west."):
        config = write_config(
            tmp_path / f"{prefix}yaml",
            log=log,
            topic_prefix=prefix,
            sources=[{"id": "local", "kind": "jsonl", "url": str(articles)}],
            api={"port": 0, "read_model": str(tmp_path / f"{prefix}read.db")},
            enricher={"workers": 0},
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
