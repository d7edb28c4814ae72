"""The optimised evaluator (index, one shared term automaton, shared leaves, cheap decision
before evidence, pruned unit search) against a naive reference that evaluates every rule
on its own: its own terms through its own ``TermMatcher`` and the plain unit search."""

from __future__ import annotations

import json
import random
from itertools import islice
from pathlib import Path

from helpers import enriched

from schemas import ArticleEnriched
from services.rules import Evaluator, Match, RuleSet, parse_rules
from services.rules.conditions import (
    Combinator,
    Found,
    Leaf,
    Node,
    None_,
    Region,
    Result,
    Terms,
    _unit,
)
from services.rules.evaluate import CompiledRule
from services.rules.view import ArticleView, Occurrence
from services.text import Analysis, Language, TermMatcher, default_gazetteer, normalise

TERMS = [
    "border",
    "border clash",
    "clash*",
    "Ossetia",
    "South Ossetia",
    "sanction*",
    "=Georgia",
    "shelling",
    "обстрел",
    "troops",
    "summit",
]
SCOPES = [
    "",
    "scope: sentence",
    "scope: paragraph",
    "scope: {within_words: 4}",
    "scope: {within_words: 25}",
]
TEXTS = [
    ("Border clash", "Armenia and Azerbaijan reported a border clash near Tavush; troops moved."),
    ("", "Kyrgyzstan and Tajikistan traded fire near Batken.\n\nTroops were killed at the border."),
    ("Georgia", "Georgia protested about South Ossetia and Abkhazia. Ossetia is quiet today."),
    ("", "A quiet day with no names at all, only a summit about sanctions."),
    ("Sanctions", "Sanctions on Iran and Turkey were discussed in Ankara and Tehran with NATO."),
    ("", "Армения сообщила об обстреле позиций у границы с Азербайджаном."),  # noqa: RUF001
    ("Summit in Moscow", "Putin met Pashinyan and Aliyev at a summit in Moscow.\nBorder talks."),
    ("", "Russia, Ukraine and Belarus: shelling and clashes along the border, said NATO."),
]


def random_when(rng: random.Random, entities: list[str], tags: list[str], depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.45:
        leaf = rng.randrange(5)
        if leaf == 0:
            return f"{{entity: {rng.choice(entities)}}}"
        if leaf == 1:
            return f"{{entity: [{rng.choice(entities)}, {rng.choice(entities)}]}}"
        if leaf == 2:
            terms = ", ".join(rng.sample(TERMS, rng.randint(1, 3)))
            mentions = ", min_mentions: 2" if rng.random() < 0.15 else ""
            return f"{{terms: [{terms}]{mentions}}}"
        if leaf == 3:
            return f"{{tag: {rng.choice(tags)}}}"
        return f"{{country: [{rng.choice(['AM', 'AZ', 'GE', 'RU', 'KG', 'TJ', 'IR'])}]}}"
    children = ", ".join(
        random_when(rng, entities, tags, depth + 1) for _ in range(rng.randint(1, 3))
    )
    scope = rng.choice(SCOPES)
    scope = f", {scope}" if scope else ""
    kind = rng.randrange(4)
    if kind == 0:
        return f"{{all: [{children}]{scope}}}"
    if kind == 1:
        return f"{{any: [{children}]{scope}}}"
    if kind == 2:
        return f"{{all: [{random_when(rng, entities, tags, 2)}, {{none: [{children}]}}]{scope}}}"
    return f"{{at_least: 1, of: [{children}]{scope}}}"


def random_rules(count: int, seed: int) -> RuleSet:
    rng = random.Random(seed)
    entities = [e.id for e in default_gazetteer().entries if e.id.startswith("country:")]
    entities += ["org:nato", "org:csto"]
    tags = [t.id for t in default_gazetteer().tags]
    lines = ["rules:"]
    for i in range(count):
        extra = ""
        if rng.random() < 0.1:
            extra = "    filters: {title_only: true}\n"
        elif rng.random() < 0.1:
            extra = "    filters: {min_mentions: 2}\n"
        scope = rng.choice(SCOPES)
        lines.append(
            f"  - id: r{i}\n    title: r{i}\n    when: {random_when(rng, entities, tags)}\n"
            + (f"    {scope}\n" if scope else "")
            + extra
        )
    return RuleSet(tuple(parse_rules("\n".join(lines) + "\n", "random.yaml")))


# -- the reference ---------------------------------------------------------------------------


def own_terms(leaf: Terms, view: ArticleView) -> list[Occurrence]:
    """The leaf's terms found by a ``TermMatcher`` of its own (per language)."""
    analysis = Analysis(
        text=view.text,
        language=Language("und", 0.0),
        sentences=tuple((s.start, s.end) for s in view.event.sentences),
        entities=(),
        countries=(),
        tags=(),
        norm=normalise(view.text),
    )
    [lang] = {lang for lang, _ in leaf.keys}
    matcher = TermMatcher([term for _, term in leaf.keys], lang)
    return [Occurrence(h.start, h.end, h.surface) for h in matcher.find(analysis)]


def naive_occurrences(leaf: Leaf, view: ArticleView) -> list[Occurrence]:
    return own_terms(leaf, view) if isinstance(leaf, Terms) else leaf._occurrences(view)


def naive_holds(node: Node, view: ArticleView, region: Region) -> Result:
    """The plain algorithm: every seed of the scope tried in order, no index, no sharing."""
    if isinstance(node, Leaf):
        every = naive_occurrences(node, view)
        inside = [o for o in every if o.start >= region[0] and o.end <= region[1]]
        if not inside or len(every) < node.min_mentions:
            return Result(False)
        return Result(True, [Found(node.label, inside)])
    assert isinstance(node, Combinator)
    if isinstance(node, None_):
        return Result(not naive_any(node, view, region))
    if node.scope is None:
        return naive_flat(node, view, region)
    lo, hi = region
    seeds = sorted(
        {
            o.start
            for leaf in node.leaves()
            for o in naive_occurrences(leaf, view)
            if lo <= o.start < hi
        }
    )
    for start in seeds:
        unit = _unit(view, node.scope, start)
        unit = (max(unit[0], lo), min(unit[1], hi))
        result = naive_flat(node, view, unit)
        if result.ok:
            return result
    return Result(False)


def naive_any(node: Combinator, view: ArticleView, region: Region) -> bool:
    if node.scope is None:
        return any(naive_holds(c, view, region).ok for c in node.children)
    lo, hi = region
    seeds = sorted(
        {
            o.start
            for leaf in node.leaves()
            for o in naive_occurrences(leaf, view)
            if lo <= o.start < hi
        }
    )
    for start in seeds:
        unit = _unit(view, node.scope, start)
        unit = (max(unit[0], lo), min(unit[1], hi))
        if any(naive_holds(c, view, unit).ok for c in node.children):
            return True
    return False


def naive_flat(node: Combinator, view: ArticleView, region: Region) -> Result:
    results = [naive_holds(c, view, region) for c in node.children]
    if not node.combine(results):
        return Result(False)
    return Result(True, [f for r in results if r.ok for f in r.found])


def naive_matches(ruleset: RuleSet, article: ArticleEnriched) -> list[tuple[object, ...]]:
    out = []
    for loaded in ruleset.rules:
        rule = CompiledRule(loaded)  # no shared leaves
        view = ArticleView(article)  # no term bank: the reference finds terms itself
        if rule.filter_problem(view):
            continue
        result = naive_holds(rule.node, view, rule.region(view))
        if result.ok:
            out.append(signature(rule.id, rule.scoped, result.found))
    return out


def signature(rule_id: str, scoped: bool, found: object) -> tuple[object, ...]:
    return (
        rule_id,
        scoped,
        tuple(
            (f.label, tuple((o.start, o.end, o.surface) for o in f.occurrences))
            for f in found  # type: ignore[attr-defined]
        ),
    )


def fast_matches(ev: Evaluator, article: ArticleEnriched) -> list[tuple[object, ...]]:
    matches: list[Match] = ev.matches(article)
    return [signature(m.rule.id, m.scoped, m.found) for m in matches]


def corpus_articles(corpus: Path | None, count: int) -> list[ArticleEnriched]:
    if corpus is None:
        return []
    out = []
    for path in sorted((corpus / "news").glob("*.jsonl"))[:4]:
        with path.open(encoding="utf-8") as handle:
            for line in islice(handle, count):
                record = json.loads(line)
                body = (record.get("body") or "")[:3000]
                out.append(enriched(record.get("title") or "", body, lang=record.get("lang")))
    return out


def test_optimised_evaluator_equals_naive_reference() -> None:
    ruleset = random_rules(300, seed=11)
    ev = Evaluator(ruleset)
    articles = [enriched(title, text) for title, text in TEXTS]
    articles.append(enriched("Armenia", "Armenia votes.", source="src-b"))
    fired = 0
    for article in articles:
        expected = naive_matches(ruleset, article)
        assert fast_matches(ev, article) == expected
        fired += len(expected)
    assert fired > 50  # the rules and texts do meet


def test_equal_on_corpus_articles(corpus: Path) -> None:
    ruleset = random_rules(200, seed=5)
    ev = Evaluator(ruleset)
    articles = corpus_articles(corpus, 6)
    assert articles
    for article in articles:
        assert fast_matches(ev, article) == naive_matches(ruleset, article)


def test_terms_of_other_rules_never_hide_each_other() -> None:
    rules = """
rules:
  - {id: short, title: t, when: {terms: [Ossetia]}}
  - {id: long, title: t, when: {terms: [South Ossetia]}}
  - {id: both, title: t, when: {terms: [Ossetia, South Ossetia], min_mentions: 2}}
  - {id: phrase, title: t, when: {terms: [border, border clash]}}
"""
    ev = Evaluator(RuleSet(tuple(parse_rules(rules, "t.yaml"))))
    article = enriched("", "Talks on South Ossetia resumed after a border clash.")
    found = {
        m.rule.id: [o.surface for f in m.found for o in f.occurrences] for m in ev.matches(article)
    }
    # a rule keeps the longest of its own overlapping hits, as its TermMatcher would: "both"
    # has one occurrence, not two
    assert found == {"short": ["Ossetia"], "long": ["South Ossetia"], "phrase": ["border clash"]}
