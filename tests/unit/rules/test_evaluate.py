"""The evaluation core: conditions, scopes, filters, evidence, and the index."""

from __future__ import annotations

import random

import pytest
from helpers import enriched

from schemas import ArticleEnriched
from services.rules import Evaluator, RuleSet, parse_rules
from services.text import default_gazetteer


def rules(text: str) -> Evaluator:
    return Evaluator(RuleSet(tuple(parse_rules(text, "t.yaml"))))


def fired(ev: Evaluator, article: ArticleEnriched) -> set[str]:
    return {m.rule.id for m in ev.matches(article)}


def one(when: str, extra: str = "") -> Evaluator:
    return rules(f"rules:\n  - id: r\n    title: t\n    when: {when}\n{extra}")


@pytest.mark.parametrize(
    ("when", "title", "text", "expected"),
    [
        ("{entity: country:AM}", "", "Talks in Armenia.", True),
        ("{entity: country:AM}", "", "Talks in Azerbaijan.", False),
        ("{entity: country:AM, form: adjective}", "", "Talks in Armenia.", False),
        ("{entity: country:AM, form: adjective}", "", "The Armenian side.", True),
        ("{kind: organisation}", "", "The CSTO met.", True),
        ("{country: AM}", "", "Protests in Yerevan.", True),  # a place of the country
        ("{terms: [shelling]}", "", "Heavy shellings overnight.", True),  # English plural
        ("{terms: [обстрел]}", "", "Сообщили об обстреле позиций.", True),
        ("{terms: [sanction*]}", "", "New sanctions were announced.", True),
        # written: a term in Azerbaijani letters takes Azerbaijani endings, no lang needed
        ("{terms: [sərhəd]}", "", "Ermənistan sərhəddə atəşkəsi pozdu.", True),
        ("{terms: [Ermənistan]}", "", "Ermənistanın xarici işlər naziri danışdı.", True),
        ("{terms: [Müller]}", "", "Müllerin kitabı.", False),  # ü alone: not Turkic
        # written: Georgian "border" in the genitive, its last vowel dropped (syncope)
        ("{terms: [საზღვარი]}", "", "სომხეთის საზღვრის გასწვრივ სროლა მოხდა.", True),
        ("{terms: [=Georgia]}", "", "Georgian wine.", False),
        ("{tag: summit}", "", "The summit opened.", True),
        (
            "{all: [{entity: country:AM}, {entity: country:AZ}]}",
            "",
            "Armenia and Azerbaijan.",
            True,
        ),
        ("{all: [{entity: country:AM}, {entity: country:AZ}]}", "", "Armenia and Georgia.", False),
        (
            "{any: [{entity: country:KG}, {entity: country:AZ}]}",
            "",
            "Armenia and Azerbaijan.",
            True,
        ),
        ("{none: [{entity: country:AZ}]}", "", "Armenia and Georgia.", True),
        ("{none: [{entity: country:AZ}]}", "", "Armenia and Azerbaijan.", False),
        (
            "{at_least: 2, of: [{entity: country:AM}, {entity: country:AZ}, {entity: country:GE}]}",
            "",
            "Armenia and Georgia.",
            True,
        ),
        (
            "{at_least: 2, of: [{entity: country:AM}, {entity: country:AZ}, {entity: country:GE}]}",
            "",
            "Armenia only.",
            False,
        ),
        ("{entity: country:AM, min_mentions: 2}", "", "Armenia said. Armenia did.", True),
        ("{entity: country:AM, min_mentions: 2}", "", "Armenia said.", False),
    ],
)
def test_conditions(when: str, title: str, text: str, expected: bool) -> None:
    assert (fired(one(when), enriched(title, text)) == {"r"}) is expected


SCOPED = "{all: [{entity: country:AM}, {terms: [shelling]}], scope: %s}"


@pytest.mark.parametrize(
    ("scope", "text", "expected"),
    [
        ("sentence", "Armenia reported shelling. Talks resume.", True),
        ("sentence", "Armenia reported losses. Shelling went on elsewhere.", False),
        ("paragraph", "Armenia reported losses. Shelling went on.\n\nNothing else.", True),
        ("paragraph", "Armenia reported losses.\n\nShelling went on.", False),
        ("{within_words: 3}", "Armenia reported heavy shelling today.", True),
        ("{within_words: 3}", "Armenia reported a night of very heavy shelling.", False),
        ("article", "Armenia reported losses.\n\nShelling went on.", True),
    ],
)
def test_scopes(scope: str, text: str, expected: bool) -> None:
    assert (fired(one(SCOPED % scope), enriched("", text)) == {"r"}) is expected


def test_nested_scopes_and_rule_scope() -> None:
    ev = rules(
        """
rules:
  - id: nested
    title: t
    when:
      all:
        - entity: country:RU
        - all: [{entity: country:AM}, {terms: [shelling]}]
          scope: sentence
  - id: rule-scope
    title: t
    scope: sentence
    when: {all: [{entity: country:AM}, {entity: country:AZ}]}
"""
    )
    assert fired(ev, enriched("", "Russia spoke. Armenia reported shelling by Azerbaijan.")) == {
        "nested",
        "rule-scope",
    }
    assert fired(
        ev, enriched("", "Russia spoke. Armenia reported shelling. Azerbaijan denied.")
    ) == {"nested"}
    assert fired(ev, enriched("", "Armenia reported shelling by Azerbaijan.")) == {"rule-scope"}


def test_filters() -> None:
    extra = """    filters:
      sources: [src-a]
      languages: [en]
      source_labels: {region: caucasus}
"""
    ev = one("{entity: country:AM}", extra)
    text = "Armenia held talks with its neighbours about the border today."
    assert fired(ev, enriched("", text, labels={"region": "caucasus"})) == {"r"}
    assert fired(ev, enriched("", text, source="src-b", labels={"region": "caucasus"})) == set()
    assert fired(ev, enriched("", text, labels={"region": "balkans"})) == set()
    ru = "Армения провела переговоры с соседями о границе сегодня утром."
    assert fired(ev, enriched("", ru, labels={"region": "caucasus"})) == set()


def test_title_only_and_default_min_mentions() -> None:
    title_only = one("{entity: country:AM}", "    filters: {title_only: true}\n")
    assert fired(title_only, enriched("Armenia votes", "Nothing here.")) == {"r"}
    assert fired(title_only, enriched("Vote today", "Armenia votes.")) == set()
    twice = one("{entity: country:AM}", "    filters: {min_mentions: 2}\n")
    assert fired(twice, enriched("", "Armenia votes.")) == set()
    assert fired(twice, enriched("Armenia", "Armenia votes.")) == {"r"}


def test_evidence_has_offsets_surfaces_and_sentences() -> None:
    ev = one(SCOPED % "sentence")
    article = enriched("Report", "Calm day. Армения? No: Armenia reported shelling near Tavush.")
    [match] = ev.matches(article)
    text = article.analysed_text
    labels = {f.label for f in match.found}
    assert labels == {"entity country:AM", "terms shelling"}
    for found in match.found:
        for occ in found.occurrences:
            assert text[occ.start : occ.end] == occ.surface
    assert match.scoped


def test_explain_names_what_held_and_what_failed() -> None:
    ev = one("{all: [{entity: country:AM}, {entity: country:AZ}, {entity: org:csto}]}")
    [x] = ev.explain(enriched("", "Armenia and Azerbaijan talked."))
    assert not x.fired
    assert x.conditions == (
        ("entity country:AM", True),
        ("entity country:AZ", True),
        ("entity org:csto", False),
    )


def generated_rules(count: int, seed: int = 7) -> str:
    """Random rules over the gazetteer's entities and tags, every combinator and scope."""
    rng = random.Random(seed)
    entities = [e.id for e in default_gazetteer().entries]
    tags = [t.id for t in default_gazetteer().tags]
    scopes = ["", "      scope: sentence\n", "      scope: {within_words: 12}\n"]
    lines = ["rules:"]
    for i in range(count):
        a, b = rng.sample(entities, 2)
        kind = i % 4
        if kind == 0:
            when = f"      all: [{{entity: {a}}}, {{entity: {b}}}]\n"
        elif kind == 1:
            when = f"      any: [{{entity: {a}}}, {{tag: {rng.choice(tags)}}}]\n"
        elif kind == 2:
            when = f"      all: [{{entity: {a}}}, {{none: [{{entity: {b}}}]}}]\n"
        else:
            when = f"      at_least: 1\n      of: [{{entity: [{a}, {b}]}}, {{terms: [border]}}]\n"
        lines.append(f"  - id: g{i}\n    title: g{i}\n    when:\n{when}{rng.choice(scopes)}")
    return "\n".join(lines) + "\n"


def test_index_finds_exactly_what_brute_force_finds() -> None:
    ev = rules(generated_rules(400))
    texts = [
        "Armenia and Azerbaijan met at a summit in Moscow; Putin and Pashinyan spoke of the border.",
        "Kyrgyzstan and Tajikistan traded fire near Batken; troops were killed at the border.",
        "Georgia's government in Tbilisi protested about South Ossetia and Abkhazia.",
        "A quiet day with no names at all.",
        "Sanctions on Iran and Turkey were discussed in Ankara and Tehran with NATO.",
    ]
    for text in texts:
        article = enriched("", text)
        view = ev.view(article)
        brute = {r.id for r in ev.rules if r.evaluate(view) is not None}
        assert fired(ev, article) == brute
        assert len(ev.candidates(view)) < len(ev.rules)
