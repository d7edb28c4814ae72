"""What evaluation shares between rules, within one article, checked against doing without.

The memos of ``ArticleView`` are keyed by what a condition reads here (``Node.key``), not by
the rule: leaves that read the same entities share one entry, rules whose conditions read the
same entries in the same scope share one unit search, and the occurrences inside a region
are listed once. Scoped searches go by unit numbers (``unit_bounds``, ``_runs``) instead of
trying every seed; word bounds come from a table instead of a regex; terms are probed by
substring before the automaton runs. Each is compared here with the plain computation it
replaces, on written texts and on corpus articles.
"""

from __future__ import annotations

import bisect
import random
import re
from pathlib import Path

import pytest
from helpers import enriched
from test_equivalence import TERMS, TEXTS, corpus_articles, random_rules, signature

from schemas import ArticleEnriched
from schemas.articles import TagHit
from services.rules import Evaluator, RuleSet, parse_rules
from services.rules.conditions import All, Leaf, Tags, _unit, compile_condition
from services.rules.model import AllOf, Condition, WithinWords
from services.rules.view import ArticleView, TermBank, word_bounds
from services.text import default_gazetteer

SCOPES = ["article", "sentence", "paragraph", "{within_words: 3}", "{within_words: 25}"]


def ruleset(text: str) -> RuleSet:
    return RuleSet(tuple(parse_rules(text, "t.yaml")))


def signatures(ev: Evaluator, article: ArticleEnriched | ArticleView) -> list[tuple[object, ...]]:
    return [signature(m.rule.id, m.scoped, m.found) for m in ev.matches(article)]


def each_alone(rules: RuleSet, article: ArticleEnriched) -> list[tuple[object, ...]]:
    """Every rule in an evaluator of its own: nothing shared with another rule."""
    out = []
    for rule in rules.rules:
        out += signatures(Evaluator(RuleSet((rule,))), article)
    return out


# -- one condition, several scopes ---------------------------------------------------------

SHARED = "\n".join(
    f"  - {{id: {name}-{i}, title: t, scope: {scope}, when: {{all: [{entity}, {{terms: [shelling]}}]}}}}"
    for i, scope in enumerate(SCOPES)
    for name, entity in (
        ("am", "{entity: country:AM}"),
        ("am-or-kg", "{entity: [country:AM, country:KG]}"),
        ("kg-or-am", "{entity: [country:KG, country:AM]}"),
    )
)

# text -> the scopes (indices into SCOPES) in which Armenia and shelling hold together
SCOPED_TEXTS = [
    ("Armenia reported shelling. Talks resume.", {0, 1, 2, 3, 4}),
    ("Armenia reported losses overnight. Shelling went on elsewhere.", {0, 2, 4}),
    ("Armenia reported losses.\n\nShelling went on.", {0, 3, 4}),  # 3 words apart
    ("Armenia reported a night of very heavy shelling.", {0, 1, 2, 4}),
    ("Kyrgyzstan and Armenia: shelling. Armenia again.\n\nKyrgyzstan quiet.", {0, 1, 2, 3, 4}),
    ("Talks in Armenia. " + "Nothing happened today at all. " * 6 + "Shelling.", {0, 2}),
]


@pytest.mark.parametrize(("text", "scopes"), SCOPED_TEXTS)
def test_rules_sharing_a_condition_in_different_scopes_match_as_if_alone(
    text: str, scopes: set[int]
) -> None:
    rules = ruleset(f"rules:\n{SHARED}\n")
    article = enriched("", text)
    together = signatures(Evaluator(rules), article)
    assert together == each_alone(rules, article)
    fired = {m[0] for m in together}
    expected = {f"{name}-{i}" for i in scopes for name in ("am", "am-or-kg", "kg-or-am")}
    assert fired == expected


def test_rules_that_read_the_same_here_search_once() -> None:
    """Fifty rules name Armenia with fifty different alternatives, absent from the article:
    they read the same entry, so the article holds one unit search per scope for them."""
    others = [e.id for e in default_gazetteer().entries if e.id.startswith("country:")]
    others = [o for o in others if o not in ("country:AM", "country:AZ")][:50]
    lines = [
        f"  - {{id: r{i}, title: t, scope: sentence, when: {{all: [{{entity: [country:AM, {o}]}},"
        " {terms: [shelling]}]}}"
        for i, o in enumerate(others)
    ]
    lines.append(
        "  - {id: with-az, title: t, scope: sentence, when: {all: [{entity: [country:AM,"
        " country:AZ]}, {terms: [shelling]}]}}"
    )
    ev = Evaluator(ruleset("rules:\n" + "\n".join(lines) + "\n"))
    view = ev.view(enriched("", "Calm day. Armenia reported shelling near Tavush."))
    assert len(ev.matches(view)) == 51
    assert len(view.units) == 1  # one search for all 51: Azerbaijan is absent too
    shared = [m.found[0].occurrences for m in ev.matches(view)]
    assert all(o == shared[0] and o is not shared[0] for o in shared[1:])  # equal, not one list

    view = ev.view(enriched("", "Azerbaijan said Armenia reported shelling near Tavush."))
    matches = ev.matches(view)
    assert len(matches) == 51
    assert len(view.units) == 2  # with Azerbaijan present, "with-az" reads another entry
    [with_az] = [m for m in matches if m.rule.id == "with-az"]
    # the evidence keeps the condition's own order (its entities as listed), as before
    assert [o.surface for o in with_az.found[0].occurrences] == ["Armenia", "Azerbaijan"]


def test_rules_found_together_and_alone_on_random_rules_and_corpus(corpus: Path) -> None:
    rules = random_rules(120, seed=23)
    ev = Evaluator(rules)
    articles = [enriched(title, text) for title, text in TEXTS] + corpus_articles(corpus, 4)
    fired = 0
    for article in articles:
        expected = each_alone(rules, article)
        assert signatures(ev, article) == expected
        fired += len(expected)
    assert fired > 100


# -- the index ---------------------------------------------------------------------------


def test_a_third_anchor_group_is_still_checked() -> None:
    """The index proves two groups; a rule with three is checked for the third."""
    ev = Evaluator(
        ruleset(
            """
rules:
  - {id: three, title: t, when: {all: [{entity: country:AM}, {entity: country:AZ}, {tag: summit}]}}
  - {id: worded, title: t, when: {all: [{entity: country:AM}, {terms: [shelling]}, {entity: country:AZ}]}}
  - {id: mixed, title: t, when: {all: [{entity: country:AM}, {any: [{terms: [shelling]}, {entity: country:GE}]}]}}
"""
        )
    )
    view = ev.view(enriched("", "Armenia and Azerbaijan met."))
    assert [r.id for r in ev.candidates(view)] == []
    view = ev.view(enriched("", "Armenia and Azerbaijan met at a summit after shelling."))
    assert {r.id for r in ev.candidates(view)} == {"three", "worded", "mixed"}
    assert {m.rule.id for m in ev.matches(view)} == {"three", "worded", "mixed"}
    view = ev.view(enriched("", "Armenia and Georgia met."))
    assert [m.rule.id for m in ev.matches(view)] == ["mixed"]


# -- term probes ---------------------------------------------------------------------------

PROBE_TEXTS = [
    "Borderline cases: the bordering villages, no clash.",  # substrings, not the terms
    "Border CLASHES and a border clash near South Ossetia; sanctions.",
    "Обстрелы у границы продолжились; обстрела не было.",  # noqa: RUF001
    "Bor\u200bder talks: a zero-width space, and Georgian wine.",  # folded by normalise
    "Nothing at all here.",
    "",
]


@pytest.mark.parametrize("text", PROBE_TEXTS)
def test_a_term_probe_says_what_the_scan_finds(text: str) -> None:
    bank = TermBank([(None, t) for t in TERMS] + [("ru", "граница")])
    article = enriched("", text)
    scanned = ArticleView(article, bank).term_keys()
    probed = ArticleView(article, bank)
    for anchor in bank.literals:
        assert probed.has_term(anchor) == (anchor in scanned), anchor
    assert probed.term_keys() == scanned


def test_probes_spare_the_scan_when_no_key_is_a_substring() -> None:
    bank = TermBank([(None, "shelling"), (None, "border clash")])
    view = ArticleView(enriched("", "A quiet day in Armenia."), bank)
    assert not any(view.has_term(a) for a in bank.literals)
    assert view._term_spans is None  # no scan ran
    view = ArticleView(enriched("", "A quiet day in Armenia, no shellings."), bank)
    assert view.has_term("w::shelling")
    assert view._term_spans is not None


def test_a_term_outside_the_index_is_probed_before_a_scan() -> None:
    """A term in a ``none`` (or beside a rule's anchors) is evaluated, not looked up by the
    index: it used to scan every candidate article; now only those holding its key."""
    ev = Evaluator(
        ruleset(
            "rules:\n  - id: not-football\n    title: t\n"
            "    when: {all: [{entity: country:AM}, {none: [{terms: [football]}]}]}\n"
        )
    )
    quiet = ev.view(enriched("Armenia", "Armenia and Azerbaijan met in Brussels."))
    assert [m.rule.id for m in ev.matches(quiet)] == ["not-football"]
    assert quiet._term_spans is None  # no scan ran
    loud = ev.view(enriched("Armenia", "Armenia beat Azerbaijan at football."))
    assert ev.matches(loud) == []
    assert loud._term_spans is not None


# -- units by number -----------------------------------------------------------------------

WORD_TEXTS = [
    "",
    "   ",
    "a",
    " a b_c 9 ",
    "Армения, Азербайджан и ОДКБ.",
    "e\u0301te\u0301 日本語 ١٢٣ x",
    "math \U0001d400\U0001d401 and emoji \U0001f600 words",
    "a lone \ud800 surrogate",
    "tab\tand\nnewline",
]


@pytest.mark.parametrize("text", WORD_TEXTS)
def test_word_bounds_are_the_regex_words(text: str) -> None:
    spans = [m.span() for m in re.finditer(r"\w+", text)]
    expected = ([s for s, _ in spans], [e for _, e in spans]) if spans else None
    assert word_bounds(text) == expected


def test_word_bounds_on_corpus_texts(corpus: Path) -> None:
    for article in corpus_articles(corpus, 5):
        text = article.analysed_text
        spans = [m.span() for m in re.finditer(r"\w+", text)]
        assert word_bounds(text) == ([s for s, _ in spans], [e for _, e in spans])


def _unit_by_bounds(view: ArticleView, scope: str | int, offset: int) -> tuple[int, int] | None:
    bounds = view.unit_bounds(scope)
    if bounds is None:
        return None
    starts, ends = bounds
    u = max(0, bisect.bisect_right(starts, offset) - 1)
    width = scope if isinstance(scope, int) else 0
    return starts[u], ends[min(len(ends) - 1, u + width)]


def test_unit_bounds_give_the_units_of_the_plain_functions(corpus: Path) -> None:
    rng = random.Random(3)
    articles = [enriched(t, x) for t, x in TEXTS] + corpus_articles(corpus, 4)
    for article in articles:
        view = ArticleView(article)
        for _ in range(40):
            offset = rng.randrange(0, len(view.text) + 2)
            assert _unit_by_bounds(view, "sentence", offset) == view.sentence_span(offset)
            assert _unit_by_bounds(view, "paragraph", offset) == view.paragraph_span(offset)
            for width in (0, 1, 4, 25):
                assert _unit_by_bounds(view, width, offset) == view.word_window(offset, width)


def _plain_search(node: All, view: ArticleView, region: tuple[int, int]) -> tuple[int, int] | None:
    """Every seed's unit in order (the reference: ``_unit``, regex walks for windows)."""
    assert node.scope is not None
    lo, hi = region
    seeds = sorted({o.start for leaf in node._distinct for o in leaf.occurrences(view)})
    for seed in (s for s in seeds if lo <= s < hi):
        raw = _unit(view, node.scope, seed)
        unit = (max(raw[0], lo), min(raw[1], hi))
        if all(child.holds(view, unit).ok for child in node.children):
            return unit
    return None


def _random_all(rng: random.Random, entities: list[str], tags: list[str]) -> All:
    """An ``all`` of one to three leaves in a scope, sometimes with a nested ``any`` or
    ``none`` among them (then units are checked by ``flat_test``)."""
    leaves = []
    if rng.random() < 0.3:
        a, b = rng.sample(entities, 2)
        nested = rng.choice(["any", "none"])
        leaves.append(
            f"{{{nested}: [{{entity: {a}}}, {{terms: [{rng.choice(TERMS)}]}}, {{entity: {b}}}]}}"
        )
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(4)
        if kind == 0:
            leaves.append(f"{{entity: {rng.choice(entities)}}}")
        elif kind == 1:
            leaves.append(f"{{entity: [{rng.choice(entities)}, {rng.choice(entities)}]}}")
        elif kind == 2:
            leaves.append(f"{{terms: [{', '.join(rng.sample(TERMS, 2))}]}}")
        else:
            leaves.append(f"{{tag: {rng.choice(tags)}}}")
    scope = rng.choice(["sentence", "paragraph", "{within_words: 1}", "{within_words: 6}"])
    rules = ruleset(
        f"rules:\n  - {{id: r, title: t, when: {{all: [{', '.join(leaves)}], scope: {scope}}}}}\n"
    )
    cond = rules.rules[0].rule.when
    assert isinstance(cond, AllOf)
    node = compile_condition(cond, 1)
    assert isinstance(node, All) and any(isinstance(c, Leaf) for c in node.children)
    return node


def test_search_by_unit_numbers_equals_trying_every_seed(corpus: Path) -> None:
    """``All.search`` (runs of the rarest leaf, unit numbers) against every seed in order,
    in the whole text, the title and a cut region."""
    rng = random.Random(9)
    entities = [e.id for e in default_gazetteer().entries if e.id.startswith("country:")][:40]
    tags = [t.id for t in default_gazetteer().tags]
    articles = [enriched(t, x) for t, x in TEXTS] + corpus_articles(corpus, 4)
    found = mixed = 0
    for _ in range(80):
        node = _random_all(rng, entities, tags)
        mixed += not all(isinstance(c, Leaf) for c in node.children)
        for article in articles:
            view = ArticleView(article, TermBank(node.term_keys()))
            for region in (view.whole, (0, view.title_end), (5, max(5, len(view.text) // 2))):
                expected = _plain_search(node, view, region)
                assert node.search(view, region) == expected
                found += expected is not None
    assert found > 50
    assert mixed > 10


def test_out_of_order_sentences_and_placeless_tags() -> None:
    """Sentences out of order have no unit numbers (the plain search runs); a tag placed
    nowhere, at (0, 0), is an occurrence of zero length that units still hold."""
    article = enriched("Summit", "Armenia met at a summit. Azerbaijan spoke. Armenia left.")
    spans = article.sentences
    shuffled = article.model_copy(
        update={"sentences": (spans[1], spans[0], *spans[2:])}  # out of order
    )
    node = All(
        [
            compile_condition(parse_cond("{entity: country:AM}"), 1),
            compile_condition(parse_cond("{entity: country:AZ}"), 1),
        ],
        "sentence",
        "t",
    )
    view = ArticleView(shuffled)
    assert view.unit_bounds("sentence") is None
    assert node.search(view, view.whole) == _plain_search(node, view, view.whole)

    # a tag whose words the text lacks: counted, placed at (0, 0), in the title's sentence
    article = enriched("Armenia", "Talks at a summit. Azerbaijan spoke.")
    placeless = article.model_copy(update={"tags": (TagHit(id="summit", terms=("nowhere",)),)})
    tag = compile_condition(parse_cond("{tag: summit}"), 1)
    assert isinstance(tag, Tags)
    node = All([tag, compile_condition(parse_cond("{entity: country:AM}"), 1)], "sentence", "t")
    view = ArticleView(placeless)
    assert tag.occurrences(view)[0].start == tag.occurrences(view)[0].end == 0
    title = view.sentence_span(0)
    assert node.search(view, view.whole) == _plain_search(node, view, view.whole) == title
    node = All([tag], WithinWords(within_words=2), "t")
    window = view.word_window(0, 2)
    assert node.search(view, view.whole) == _plain_search(node, view, view.whole) == window


def parse_cond(text: str) -> Condition:
    return ruleset(f"rules:\n  - {{id: r, title: t, when: {text}}}\n").rules[0].rule.when
