"""The default pack's rules against their examples (services/rules/packs/default.examples.yaml).

Real examples are read from the shared corpus at test time, never copied. The founding
example is "CSTO Summit in Yerevan Was Bitter Pill for Putin", Grzegorz Kuczyński, Warsaw
Institute, 29 November 2022: credit the Warsaw Institute (warsawinstitute.org), whose texts
"may be disseminated on the condition that their origin is credited".
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import enriched

from schemas import ArticleEnriched
from services.rules import DEFAULT_PACK, Engine, Evaluator, load_rules

EXAMPLES = DEFAULT_PACK.with_name("default.examples.yaml")
_examples: list[dict[str, Any]] = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))["examples"]


@cache
def evaluator() -> Evaluator:
    return Evaluator(load_rules(["default"]))


def corpus_article(corpus: Path, ref: str) -> ArticleEnriched:
    if ref.startswith("seed/"):
        _, title, body = (corpus / ref).read_text(encoding="utf-8").split("\n\n", 2)
        return enriched(title.strip(), body, lang="en", source="warsaw-institute")
    name, _, record_id = ref.partition("#")
    with (corpus / name).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["id"] == record_id:
                return enriched(record["title"] or "", record["body"] or "", lang=record["lang"])
    raise LookupError(f"{ref} is not in the corpus")


def _id(example: dict[str, Any]) -> str:
    what = example.get("corpus") or ("written: " + example["title"])
    return f"{example['rule']}-{example['expect']}-{what}"


def test_every_rule_has_examples_both_ways() -> None:
    rule_ids = {r.id for r in load_rules(["default"]).rules}
    assert {e["rule"] for e in _examples if e["rule"] != "*"} == rule_ids
    for rule_id in rule_ids:
        assert any(e["rule"] == rule_id and e["expect"] == "fires" for e in _examples), rule_id
    for e in _examples:
        assert ("corpus" in e) != bool(e.get("written")), f"mark {_id(e)} as corpus or written"


@pytest.mark.parametrize("example", _examples, ids=[_id(e) for e in _examples])
def test_example(example: dict[str, Any], request: pytest.FixtureRequest) -> None:
    if "corpus" in example:
        corpus: Path = request.getfixturevalue("corpus")
        article = corpus_article(corpus, example["corpus"])
    else:
        article = enriched(example["title"], example["text"])
    matches = {m.rule.id: m for m in evaluator().matches(article)}
    if example["rule"] == "*":
        assert matches == {} if example["expect"] == "quiet" else matches
        return
    assert (example["rule"] in matches) is (example["expect"] == "fires"), sorted(matches)
    wanted = example.get("evidence") or []
    if wanted:
        surfaces = {o.surface for f in matches[example["rule"]].found for o in f.occurrences}
        assert set(wanted) <= surfaces, surfaces


def test_founding_example_raises_the_alert_with_the_three_names(corpus: Path) -> None:
    """Warsaw Institute, "CSTO Summit in Yerevan Was Bitter Pill for Putin" (credit: Warsaw Institute)."""
    article = corpus_article(corpus, "seed/csto-summit-yerevan-2022.txt")
    alerts = {a.rule_id: a for a in Engine(load_rules(["default"])).process(article)}
    alert = alerts["csto-armenia-azerbaijan"]
    by_condition = {e.condition: e.surface for e in alert.evidence}
    assert by_condition["entity country:AM"].startswith("Armenia")
    assert by_condition["entity country:AZ"].startswith("Azerbaijan")
    assert by_condition["entity org:csto"] in {
        "CSTO",
        "Collective Security Treaty Organization",
        "ОДКБ",
    }
    assert alert.severity == "high"
