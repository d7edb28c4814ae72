"""``tocsin replay`` on a real SQLite log: what a new rule set would have raised, how it
differs from what fired live, and appending it without duplicating a live alert, twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas import AlertRaised, ArticleEnriched, ArticlePublished, RulesetActivated, new_event
from schemas.ids import article_id, content_hash, enrichment_id
from services.cli.app import app
from services.eventlog.codec import encode
from services.rules.history import read_events
from services.rules.loader import load_rules
from services.rules.runner import build
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings
from services.text import analyse, enriched_fields

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

LIVE = """
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
# trio changes (a new version: same stories, so live duplicates), clashes stays (same ids),
# csto is new (its alerts are what the replay adds).
NEW = (
    LIVE.replace("title: Trio", "title: Trio\n    severity: high")
    + """
  - id: csto
    title: CSTO named
    when: {entity: org:csto}
"""
)

TRIO_TEXTS = [
    ("Pashinyan skips CSTO meeting", "Armenia froze its part in the CSTO as Azerbaijan attacked."),
    ("CSTO summit in Yerevan", "Armenia and Azerbaijan were on the CSTO summit agenda again."),
]


def _enriched(title: str, text: str, source: str, minutes: float) -> ArticleEnriched:
    when = T0 + timedelta(minutes=minutes)
    url = f"https://{source}.example/{content_hash(title, text)[:12]}"
    article = ArticlePublished(
        article_id=article_id(url=url),
        url=url,
        title=title,
        text=text,
        published_at=when,
        fetched_at=when,
        source_id=source,
        content_hash=content_hash(title, text),
    )
    return ArticleEnriched(
        article=article, enricher_version="test", **enriched_fields(analyse(title, text, None))
    )


@pytest.fixture
def live_log(tmp_path: Path) -> tuple[Settings, Path]:
    """A log where the live rules ran over five articles (2 trio alerts, 1 clashes alert)."""
    live = tmp_path / "live.yaml"
    live.write_text(LIVE)
    (tmp_path / "new.yaml").write_text(NEW)
    settings = Settings(log=f"sqlite:///{tmp_path}/tocsin.db", rules=[str(live)])
    articles = [
        _enriched(f"Report {n}", f"Kyrgyzstan and Tajikistan clashes, report {n}.", src, n * 30)
        for n, src in ((1, "a"), (2, "b"), (3, "a"))
    ]
    articles += [_enriched(t, x, "c", 200 + i) for i, (t, x) in enumerate(TRIO_TEXTS)]
    with open_event_log(settings) as elog:
        name = topic(settings, "articles.enriched")
        elog.append(
            [
                encode(
                    new_event(a, id=enrichment_id(a.article.article_id, "t"), source="/test"),
                    topic=name,
                    key=a.article.article_id,
                )
                for a in articles
            ]
        )
        build(ServiceContext(settings=settings, log=elog)).run_until_idle()
    return settings, tmp_path


def _alerts(settings: Settings) -> list[AlertRaised]:
    with open_event_log(settings) as elog:
        return [
            r.event.data
            for r in read_events(elog, topic(settings, "alerts.raised"))
            if isinstance(r.event.data, AlertRaised)
        ]


def _activations(settings: Settings) -> list[str]:
    with open_event_log(settings) as elog:
        return [
            r.event.data.ruleset_version
            for r in read_events(elog, topic(settings, "rulesets"))
            if isinstance(r.event.data, RulesetActivated)
        ]


def _replay(settings: Settings, folder: Path, *extra: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    args = [
        "replay",
        "--since",
        (now - timedelta(hours=1)).isoformat(),
        "--until",
        (now + timedelta(hours=1)).isoformat(),
        "--rules",
        str(folder / "new.yaml"),
        "--log",
        settings.log,
        "--format",
        "json",
        *extra,
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _rows(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["rule"]: row for row in out["rules"]}


def test_dry_run_reports_the_difference_and_appends_nothing(
    live_log: tuple[Settings, Path],
) -> None:
    settings, folder = live_log
    before = _alerts(settings)
    assert sorted(a.rule_id for a in before) == ["clashes", "trio", "trio"]
    out = _replay(settings, folder, "--dry-run")
    assert out["articles"] == 5 and out["dry_run"] and out["events_appended"] == 0
    rows = _rows(out)
    assert rows["clashes"]["same"] == 1 and rows["clashes"]["only_replay"] == 0
    # a new version of trio: other ids, but the same stories were alerted live
    assert rows["trio"]["would_fire"] == 2 and rows["trio"]["only_replay"] == 2
    assert rows["trio"]["only_live"] == 2 and rows["trio"]["live_duplicate"] == 2
    assert rows["csto"]["would_fire"] == 2 and rows["csto"]["appended"] == 2  # would append
    assert _alerts(settings) == before
    assert _activations(settings) == [load_rules([settings.rules[0]]).version]


def test_replay_appends_only_new_alerts_once(live_log: tuple[Settings, Path]) -> None:
    settings, folder = live_log
    before = _alerts(settings)
    out = _replay(settings, folder)
    new_version = load_rules([str(folder / "new.yaml")]).version
    assert out["ruleset_version"] == new_version and out["ruleset_recorded"]
    assert out["events_appended"] == 2
    after = _alerts(settings)
    added = after[len(before) :]
    assert after[: len(before)] == before
    assert sorted(a.rule_id for a in added) == ["csto", "csto"]
    assert all(a.ruleset_version == new_version for a in added)
    assert all(a.labels["replay"] == new_version for a in added)
    assert _activations(settings)[-1] == new_version

    # again: deterministic ids, nothing new; the rule set is not recorded twice
    again = _replay(settings, folder)
    assert again["events_appended"] == 0 and not again["ruleset_recorded"]
    assert _rows(again)["csto"]["already_appended"] == 2
    assert len(_alerts(settings)) == len(after)
    assert _activations(settings).count(new_version) == 1
    # the replayed alerts are not counted as "fired live" by the next replay or backtest
    assert _rows(again)["csto"]["fired_live"] == 0


def test_bad_input_is_reported_clearly(live_log: tuple[Settings, Path]) -> None:
    settings, folder = live_log
    runner = CliRunner()
    base = ["replay", "--rules", str(folder / "new.yaml"), "--log", settings.log]
    result = runner.invoke(app, [*base, "--since", "2026-03-02", "--until", "2026-03-01"])
    assert result.exit_code == 2 and "--until must be after --since" in result.output
    result = runner.invoke(app, [*base, "--since", "yesterday", "--until", "2026-03-01"])
    assert result.exit_code == 2 and "not an ISO date" in result.output
    (folder / "bad.yaml").write_text("rules: [ {id: broken")
    bad = ["replay", "--rules", str(folder / "bad.yaml"), "--log", settings.log]
    result = runner.invoke(app, [*bad, "--since", "2026-03-01", "--until", "2026-03-02"])
    assert result.exit_code != 0
    assert "bad.yaml" in str(result.exception) + result.output
    assert len(_alerts(settings)) == 3
