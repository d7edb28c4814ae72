"""Alerts: ids, evidence, stories across sources, windows, spikes, suppression."""

from __future__ import annotations

from helpers import T0, enriched

from schemas.ids import alert_id
from services.rules import Engine, RuleSet, parse_rules

CSTO = (
    "Armenia accused Azerbaijan of an attack and asked the CSTO for help, officials said on Monday."
)


def engine(text: str) -> Engine:
    return Engine(RuleSet(tuple(parse_rules(text, "t.yaml"))))


ARTICLE_RULE = """
rules:
  - id: trio
    title: Trio
    severity: high
    labels: {desk: caucasus}
    owner: anna
    suppress: 6h
    alert_title: "$rule_title ($source_count sources): $article_title"
    when: {all: [{entity: country:AM}, {entity: country:AZ}, {entity: org:csto}]}
"""


def test_alert_fields_and_deterministic_id() -> None:
    eng = engine(ARTICLE_RULE)
    article = enriched("Yerevan appeals to CSTO", CSTO)
    [alert] = eng.process(article)
    rule = eng.ruleset.rules[0]
    assert alert.alert_id == alert_id("trio", rule.version, article.article.article_id)
    assert alert.key == article.article.article_id
    assert alert.rule_version == rule.version and alert.ruleset_version == eng.ruleset.version
    assert alert.severity == "high"
    assert alert.labels == {"desk": "caucasus", "owner": "anna"}
    assert alert.title == "Trio (1 sources): Yerevan appeals to CSTO"
    assert {e.surface for e in alert.evidence} >= {"Armenia", "Azerbaijan", "CSTO"}
    for ev in alert.evidence:
        assert article.analysed_text[ev.start : ev.end] == ev.surface
        assert ev.surface in ev.snippet
    assert alert.source_count == 1 and alert.revision == 0
    again = engine(ARTICLE_RULE).process(article)
    assert again == [alert]  # same input, same alert


def test_one_story_from_many_sources_is_one_alert_updated() -> None:
    eng = engine(ARTICLE_RULE)
    first = enriched("Yerevan appeals to CSTO", CSTO, source="wire-a")
    [a0] = eng.process(first)
    # the same story, another outlet, a different headline and sign-off
    copy = enriched("Armenia turns to the CSTO", CSTO + " Reuters", source="paper-b", minutes=30)
    [a1] = eng.process(copy)
    assert a1.alert_id == a0.alert_id and a1.revision == 1 and a1.source_count == 2
    assert [a.article_id for a in a1.articles] == [
        first.article.article_id,
        copy.article.article_id,
    ]
    # a further copy from a source already counted: no new revision
    same_source = enriched("Armenia turns to CSTO (update)", CSTO, source="paper-b", minutes=40)
    assert eng.process(same_source) == []
    # the same article delivered again: nothing
    assert eng.process(first) == []
    # a different story that fires the same rule: its own alert
    other = enriched(
        "CSTO summit",
        "The CSTO met in Minsk; Armenia and Azerbaijan were discussed at length.",
        source="wire-a",
        minutes=50,
    )
    [b0] = eng.process(other)
    assert b0.alert_id != a0.alert_id and b0.revision == 0


def test_suppression_expires() -> None:
    eng = engine(ARTICLE_RULE)
    [a0] = eng.process(enriched("Yerevan appeals to CSTO", CSTO, source="a"))
    [late] = eng.process(enriched("Yerevan appeals to CSTO", CSTO, source="b", minutes=7 * 60))
    assert late.alert_id != a0.alert_id and late.revision == 0


WINDOW_RULE = """
rules:
  - id: clashes
    title: Clashes
    suppress: 1d
    when: {all: [{entity: country:KG}, {entity: country:TJ}, {terms: [clash*]}]}
    window: {articles: 3, sources: 2, within: 6h, group_by: country-pair}
"""


def clash(n: int, source: str, minutes: float) -> object:
    return enriched(
        f"Report {n}",
        f"Kyrgyzstan and Tajikistan clashes, report number {n} from {source}.",
        source=source,
        minutes=minutes,
    )


def test_window_needs_articles_and_sources_within_time() -> None:
    eng = engine(WINDOW_RULE)
    assert eng.process(clash(1, "a", 0)) == []
    assert eng.process(clash(2, "a", 60)) == []
    assert eng.process(clash(3, "a", 120)) == []  # three articles, one source
    [alert] = eng.process(clash(4, "b", 180))
    assert alert.key == "KG-TJ@" + T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert alert.source_count == 2 and len(alert.articles) == 4
    assert alert.first_seen == T0
    [update] = eng.process(clash(5, "c", 200))
    assert update.alert_id == alert.alert_id and update.revision == 1 and update.source_count == 3
    assert eng.process(clash(6, "a", 210)) == []  # no new source: no update


def test_window_forgets_old_articles() -> None:
    eng = engine(WINDOW_RULE)
    assert eng.process(clash(1, "a", 0)) == []
    assert eng.process(clash(2, "b", 60)) == []
    assert eng.process(clash(3, "b", 60 * 7)) == []  # the first two are out of the window
    assert eng.process(clash(4, "a", 60 * 8)) == []  # two in the window
    [alert] = eng.process(clash(5, "c", 60 * 8 + 30))
    assert {a.title for a in alert.articles} == {"Report 3", "Report 4", "Report 5"}


SPIKE_RULE = """
rules:
  - id: spike
    title: Spike
    suppress: 12h
    when: {entity: org:csto}
    spike: {window: 1h, baseline: 10h, ratio: 3, min_count: 3}
"""


def csto(n: int, minutes: float, source: str = "s") -> object:
    return enriched(
        f"CSTO note {n}",
        f"The CSTO issued statement number {n} about item {n * 7}.",
        source=f"{source}{n}",
        minutes=minutes,
    )


def test_spike_against_baseline() -> None:
    eng = engine(SPIKE_RULE)
    for i in range(10):  # one an hour: the baseline
        assert eng.process(csto(i, i * 60)) == [], i
    assert eng.process(csto(20, 10 * 60 + 5)) == []
    assert eng.process(csto(21, 10 * 60 + 10)) == []
    # 3 in the last hour vs a baseline of about 1 per hour: ratio 3 reached
    [alert] = eng.process(csto(22, 10 * 60 + 15))
    assert alert.rule_id == "spike" and len(alert.articles) >= 3


def test_spike_needs_min_count() -> None:
    eng = engine(SPIKE_RULE)
    assert eng.process(csto(1, 0)) == []
    assert eng.process(csto(2, 5)) == []
    [alert] = eng.process(csto(3, 10))  # no baseline at all: min_count decides
    assert len(alert.articles) == 3
