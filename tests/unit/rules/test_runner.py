"""The service on a real SQLite log: state rebuilt after a restart, rule sets recorded and
reloaded, backtests that only read, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import T0, enriched
from typer.testing import CliRunner

from schemas import AlertRaised, ArticleEnriched, RulesetActivated, new_event
from schemas.ids import enrichment_id
from services.cli.app import app
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.rules.history import read_events
from services.rules.loader import load_rules
from services.rules.runner import RulesCore, build
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.clock import FakeClock
from services.runtime.service import ServiceContext
from services.runtime.settings import ConfigError, Settings

RULES = """
rules:
  - id: clashes
    title: Clashes
    suppress: 1d
    when: {all: [{entity: country:KG}, {entity: country:TJ}, {terms: [clash*]}]}
    window: {articles: 3, sources: 2, within: 6h, group_by: country-pair}
  - id: trio
    title: Trio
    when: {all: [{entity: country:AM}, {entity: country:AZ}, {entity: org:csto}]}
"""


def clash(n: int, source: str, minutes: float) -> ArticleEnriched:
    return enriched(
        f"Report {n}",
        f"Kyrgyzstan and Tajikistan clashes, report number {n} from {source}.",
        source=source,
        minutes=minutes,
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, EventLog, Path]:
    rules = tmp_path / "desk.yaml"
    rules.write_text(RULES)
    settings = Settings(log=f"sqlite:///{tmp_path}/tocsin.db", rules=[str(rules)])
    elog = open_event_log(settings)
    yield settings, elog, rules
    elog.close()


def publish(settings: Settings, elog: EventLog, *articles: ArticleEnriched) -> None:
    now = datetime.now(UTC)
    messages = []
    for a in articles:
        event = new_event(
            a, id=enrichment_id(a.article.article_id, "test"), source="/test", time=now
        )
        messages.append(
            encode(event, topic=topic(settings, "articles.enriched"), key=a.article.article_id)
        )
    elog.append(messages)


def run(settings: Settings, elog: EventLog) -> None:
    context = ServiceContext(settings=settings, log=elog, clock=FakeClock(datetime.now(UTC)))
    build(context).run_until_idle()


def alerts(settings: Settings, elog: EventLog) -> list[AlertRaised]:
    return [r.event.data for r in read_events(elog, topic(settings, "alerts.raised"))]  # type: ignore[misc]


def activations(settings: Settings, elog: EventLog) -> list[RulesetActivated]:
    return [r.event.data for r in read_events(elog, topic(settings, "rulesets"))]  # type: ignore[misc]


def test_restart_keeps_windows_and_never_raises_twice(
    setup: tuple[Settings, EventLog, Path],
) -> None:
    settings, elog, _ = setup
    publish(settings, elog, clash(1, "a", 0), clash(2, "a", 60))
    run(settings, elog)
    assert alerts(settings, elog) == []
    publish(settings, elog, clash(3, "b", 120))
    run(settings, elog)  # a fresh process: the window is rebuilt from the first two
    [first] = alerts(settings, elog)
    assert len(first.articles) == 3 and first.source_count == 2 and first.revision == 0
    publish(settings, elog, clash(4, "a", 130))
    run(settings, elog)  # no new source: the open alert is known, nothing raised
    publish(settings, elog, clash(5, "c", 140))
    run(settings, elog)
    raised = alerts(settings, elog)
    assert [(a.alert_id, a.revision) for a in raised] == [
        (first.alert_id, 0),
        (first.alert_id, 1),
    ]
    assert raised[1].source_count == 3
    # the rule set was recorded once: its version did not change between the restarts
    [activated] = activations(settings, elog)
    assert activated.ruleset_version == load_rules([settings.rules[0]]).version
    assert {r.id for r in activated.rules} == {"clashes", "trio"}


STORY = (
    "Armenia accused Azerbaijan of an attack and asked the CSTO for help, officials said on Monday."
)


def test_restart_before_commit_keeps_a_story_whole_whatever_the_order(
    setup: tuple[Settings, EventLog, Path],
) -> None:
    """A kill after the alerts were appended, before the offsets were committed (possible on
    Kafka): the articles are processed again, maybe in another order across partitions. A
    copy read first must still join the story's alert, not raise a second one."""
    settings, elog, _ = setup
    first = enriched("Yerevan appeals to CSTO", STORY, source="wire-a")
    second = enriched("Armenia turns to the CSTO", STORY + " Reuters", source="paper-b", minutes=5)
    third = enriched("CSTO asked for help", STORY + " AFP", source="daily-c", minutes=9)
    publish(settings, elog, first, second, third)

    def core() -> RulesCore:
        return RulesCore(
            load_rules(settings.rules),
            clock=FakeClock(datetime.now(UTC)),
            alerts_topic=topic(settings, "alerts.raised"),
            rulesets_topic=topic(settings, "rulesets"),
        )

    before = core()
    raised = [*before.engine.process(first), *before.engine.process(second)]
    assert [(a.revision, a.source_count) for a in raised] == [(0, 1), (1, 2)]
    elog.append(  # appended; the offsets never committed: the kill came in between
        [encode(e.event, topic=e.topic, key=e.key) for e in map(before.emit, raised)]
    )

    after = core()
    assert after.rebuild(elog, topic(settings, "articles.enriched"), "rules") == (2, 0)
    [joined] = after.engine.process(third)  # the unseen copy, read before the others
    assert joined.alert_id == raised[0].alert_id
    assert (joined.revision, joined.source_count) == (2, 3)
    assert after.engine.process(second) == [] and after.engine.process(first) == []


def test_reload_refuses_an_invalid_file_and_records_a_new_version(
    setup: tuple[Settings, EventLog, Path],
) -> None:
    _, _, path = setup
    clock = FakeClock(datetime.now(UTC))
    core = RulesCore(
        load_rules([str(path)]),
        clock=clock,
        alerts_topic="alerts.raised",
        rulesets_topic="rulesets",
        specs=[str(path)],
    )
    running = core.ruleset.version
    path.write_text(RULES.replace("title: Trio", "title: Trio\n    severity: urgent"))
    clock.advance(10)
    assert core.reload_if_changed() == []
    assert core.load_errors == 1 and core.ruleset.version == running
    trio = enriched("", "Armenia and Azerbaijan went to the CSTO.", minutes=5)
    assert [a.rule_id for a in core.engine.process(trio)] == ["trio"]  # still running
    path.write_text(RULES.replace("title: Trio", "title: Trio\n    severity: critical"))
    clock.advance(10)
    [emit] = core.reload_if_changed()
    assert emit.topic == "rulesets"
    assert isinstance(emit.event.data, RulesetActivated)
    assert emit.event.data.ruleset_version == core.ruleset.version != running


def test_start_falls_back_to_the_last_recorded_rule_set(
    setup: tuple[Settings, EventLog, Path],
) -> None:
    settings, elog, path = setup
    run(settings, elog)  # records the valid set
    path.write_text("rules: [ {id: broken")
    context = ServiceContext(settings=settings, log=elog)
    service = build(context)
    assert {r.id for r in service.core.ruleset.rules} == {"clashes", "trio"}
    empty = Settings(log=settings.log, rules=[str(path)], topic_prefix="other.")
    with pytest.raises(ConfigError, match="invalid"):
        build(ServiceContext(settings=empty, log=open_event_log(empty)))


def test_backtest_reads_only_and_compares_with_live(
    setup: tuple[Settings, EventLog, Path], tmp_path: Path
) -> None:
    settings, elog, path = setup
    publish(settings, elog, *(clash(n, "abc"[n % 3], n * 20) for n in range(1, 6)))
    run(settings, elog)
    live = alerts(settings, elog)
    assert live
    ends = elog.end_offsets()
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cli = CliRunner()
    same = cli.invoke(
        app,
        [
            "rules",
            "test",
            str(path),
            "--since",
            since,
            "--until",
            until,
            "--log",
            settings.log,
            "--format",
            "json",
        ],
    )
    assert same.exit_code == 0, same.output
    rows = {r["rule"]: r for r in json.loads(same.output)}
    assert (
        rows["clashes"]["would_fire"]
        == rows["clashes"]["fired_live"]
        == rows["clashes"]["same"]
        == 1
    )
    assert rows["clashes"]["only_backtest"] == rows["clashes"]["only_live"] == 0
    assert rows["clashes"]["examples"][0]["sources"] >= 2
    changed = tmp_path / "changed.yaml"
    changed.write_text(RULES.replace("articles: 3", "articles: 2"))
    diff = cli.invoke(
        app,
        [
            "rules",
            "test",
            str(changed),
            "--since",
            since,
            "--until",
            until,
            "--log",
            settings.log,
            "--format",
            "json",
        ],
    )
    rows = {r["rule"]: r for r in json.loads(diff.output)}
    assert rows["clashes"]["only_backtest"] == 1 and rows["clashes"]["only_live"] == 1
    table = cli.invoke(
        app, ["rules", "test", str(path), "--since", since, "--until", until, "--log", settings.log]
    )
    assert table.exit_code == 0 and "5 article(s) evaluated" in table.output
    assert elog.end_offsets() == ends  # nothing written


def test_cli_match_shows_firing_and_close_rules(tmp_path: Path) -> None:
    text = "Armenia and Azerbaijan met in Moscow; the CSTO was not invited."
    result = CliRunner().invoke(app, ["rules", "match", "-", "--format", "json"], input=text)
    assert result.exit_code == 0, result.output
    rows = {r["rule"]: r for r in json.loads(result.output)}
    assert rows["csto-armenia-azerbaijan"]["status"] == "fires"
    assert {e["surface"] for e in rows["csto-armenia-azerbaijan"]["evidence"]} >= {
        "Armenia",
        "Azerbaijan",
        "CSTO",
    }
    close = rows["armenia-azerbaijan-border-incident"]
    assert close["status"] == "close" and close["failed"] == ["any of 2"]
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    table = CliRunner().invoke(app, ["rules", "match", "--rules", str(rules), "-"], input=text)
    assert table.exit_code == 0 and "trio" in table.output and "fires" in table.output


def test_service_is_registered() -> None:
    from services.registry import service_factory

    assert service_factory("rules") is build
    assert T0.tzinfo is not None
