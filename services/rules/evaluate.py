"""The pure evaluation core: a rule set compiled and indexed, one article in, matches out.

Why an index: with 10,000 rules, evaluating each on every article would cost a hundred
times the work of the few rules that can possibly fire. Each rule's condition yields anchor
groups (see ``conditions``): keys of which at least one per group must be in the article.
A rule is filed under a key of its most selective group, and under a second key from its
next group, so an article only looks up pairs of its own keys (a few dozen dictionary
probes, whatever the number of rules) and then checks the remaining groups of the few
candidates with set operations before any condition runs.

Terms: all the rule set's terms are in one automaton (``view.TermBank``), run at most once
per article, and only when the article has the first key of a rule that needs terms. A
rule with entity and term groups is filed under (entity key, term key), so its term
group is as selective as a second entity: an article that names the entity but lacks the
terms never makes it a candidate. Rules whose only anchors are terms are filed under their
terms (they make every article be scanned, as they must).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.articles import ArticleEnriched
from services.rules.conditions import Combinator, Found, Leaf, Node, compile_condition
from services.rules.loader import LoadedRule, RuleSet
from services.rules.model import Rule
from services.rules.view import ArticleView, TermBank

__all__ = ["CompiledRule", "Evaluator", "Explanation", "Match"]

#: Cheaper to find in articles, hence worse anchors (the higher, the less selective).
_COMMONNESS = {"t": 4, "k": 5, "c": 3, "w": 2, "e": 1}


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that held on an article, with what it found."""

    rule: CompiledRule
    found: tuple[Found, ...]
    scoped: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a rule did or did not fire: each top-level condition and whether it held."""

    rule: CompiledRule
    fired: bool
    filters_ok: bool
    filter_problem: str
    conditions: tuple[tuple[str, bool], ...]
    found: tuple[Found, ...]


class CompiledRule:
    def __init__(
        self, loaded: LoadedRule, shared: dict[tuple[object, ...], Leaf] | None = None
    ) -> None:
        self.loaded = loaded
        self.rule: Rule = loaded.rule
        self.id = loaded.id
        self.version = loaded.version
        filters = self.rule.filters
        self.node: Node = compile_condition(
            self.rule.when,
            filters.min_mentions,
            None if self.rule.scope == "article" else self.rule.scope,
            shared,
        )
        self.scoped = self.rule.scope != "article" or _has_scope(self.node)
        anchors = self.node.anchors()
        self.groups: tuple[frozenset[str], ...] = tuple(anchors or ())
        #: the groups without terms (checked against the article's keys), and those with
        #: terms (which need the article's terms)
        self.plain_groups = tuple(g for g in self.groups if not any(k[0] == "w" for k in g))
        self.term_groups = tuple(g for g in self.groups if any(k[0] == "w" for k in g))
        self.sources = frozenset(filters.sources)
        self.languages = frozenset(filters.languages)
        self.labels = tuple(filters.source_labels.items())
        self.title_only = filters.title_only

    def filter_problem(self, view: ArticleView) -> str:
        """Empty when the article passes the rule's filters, else why it does not."""
        article = view.article
        if self.sources and article.source_id not in self.sources:
            return f"source {article.source_id} is not one of the rule's sources"
        if self.languages and view.event.language.code not in self.languages:
            return f"language {view.event.language.code} is not one of {sorted(self.languages)}"
        for key, value in self.labels:
            if article.source_labels.get(key) != value:
                return f"the source lacks the label {key}={value}"
        return ""

    def region(self, view: ArticleView) -> tuple[int, int]:
        return (0, view.title_end) if self.title_only else (0, len(view.text))

    def evaluate(self, view: ArticleView) -> Match | None:
        """The match with its evidence, or ``None``: the evidence is built only for rules
        that the cheap decision says fire."""
        if (self.sources or self.languages or self.labels) and self.filter_problem(view):
            return None
        region = self.region(view)
        if not self.node.test(view, region):
            return None
        result = self.node.holds(view, region)
        return Match(self, tuple(result.found), self.scoped)


def _has_scope(node: Node) -> bool:
    if isinstance(node, Combinator):
        return node.scope is not None or any(_has_scope(c) for c in node.children)
    return False


def _rank(group: frozenset[str]) -> tuple[int, int]:
    return (max(_COMMONNESS[k[0]] for k in group), len(group))


class _Slot:
    """The rules filed under one first key: alone, or with a second key or term."""

    __slots__ = ("alone", "plain", "terms")

    def __init__(self) -> None:
        self.alone: list[int] = []
        self.plain: dict[str, list[int]] = {}
        self.terms: dict[str, list[int]] = {}


class Evaluator:
    """A rule set compiled and indexed. ``matches(article)`` is the pure core of the service."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        shared: dict[tuple[object, ...], Leaf] = {}
        self.rules = [CompiledRule(r, shared) for r in ruleset.rules if r.rule.enabled]
        terms = {key for rule in self.rules for key in rule.node.term_keys()}
        self.terms = TermBank(sorted(terms, key=lambda k: (k[0] or "", k[1])))
        self._index: dict[str, _Slot] = {}
        self._term_index: dict[str, list[int]] = {}
        self._always: list[int] = []
        for position, rule in enumerate(self.rules):
            self._file(position, rule)

    def _file(self, position: int, rule: CompiledRule) -> None:
        plain = sorted((g for g in rule.groups if not any(k[0] == "w" for k in g)), key=_rank)
        worded = sorted((g for g in rule.groups if all(k[0] == "w" for k in g)), key=len)
        if plain:
            slots = [self._index.setdefault(key, _Slot()) for key in plain[0]]
            for slot in slots:
                if len(plain) > 1:  # second key: the next group without terms
                    for second in plain[1]:
                        slot.plain.setdefault(second, []).append(position)
                elif worded:  # else a group of terms
                    for second in worded[0]:
                        slot.terms.setdefault(second, []).append(position)
                else:
                    slot.alone.append(position)
        elif rule.groups:  # every group holds a term: terms must be scanned for this rule
            for key in min(rule.groups, key=len):
                if key[0] == "w":
                    self._term_index.setdefault(key, []).append(position)
                else:
                    self._index.setdefault(key, _Slot()).alone.append(position)
        else:
            self._always.append(position)

    def view(self, event: ArticleEnriched) -> ArticleView:
        return ArticleView(event, self.terms)

    def candidates(self, view: ArticleView) -> list[CompiledRule]:
        """The rules whose anchors the article has (in rule-set order)."""
        keys = view.keys
        picked: set[int] = set(self._always)
        index = self._index
        for key in keys:
            slot = index.get(key)
            if slot is None:
                continue
            if slot.alone:
                picked.update(slot.alone)
            if slot.plain:
                plain = slot.plain
                for second in plain.keys() & keys:
                    picked.update(plain[second])
            if slot.terms:
                worded = slot.terms
                for second in worded.keys() & view.term_keys():
                    picked.update(worded[second])
        if self._term_index:
            for key in view.term_keys():
                picked.update(self._term_index.get(key, ()))
        return [self.rules[p] for p in sorted(picked) if _all_present(self.rules[p], view)]

    def matches(self, event: ArticleEnriched | ArticleView) -> list[Match]:
        view = event if isinstance(event, ArticleView) else self.view(event)
        out = []
        for rule in self.candidates(view):
            match = rule.evaluate(view)
            if match is not None:
                out.append(match)
        return out

    def explain(self, event: ArticleEnriched | ArticleView) -> list[Explanation]:
        """Every rule (no index), with the top-level conditions that held and failed."""
        view = event if isinstance(event, ArticleView) else self.view(event)
        out = []
        for rule in self.rules:
            problem = rule.filter_problem(view)
            region = rule.region(view)
            node = rule.node
            children: Sequence[Node] = node.children if isinstance(node, Combinator) else [node]
            conditions = tuple((c.label, c.holds(view, region).ok) for c in children)
            result = node.holds(view, region)
            if isinstance(node, Combinator) and node.scope is not None:
                conditions += ((f"together: {node.label}", result.ok),)
            out.append(
                Explanation(
                    rule,
                    fired=result.ok and not problem,
                    filters_ok=not problem,
                    filter_problem=problem,
                    conditions=conditions,
                    found=tuple(result.found),
                )
            )
        return out


def _all_present(rule: CompiledRule, view: ArticleView) -> bool:
    """Whether every anchor group of the rule has a key in the article."""
    keys = view.keys
    for group in rule.plain_groups:
        if group.isdisjoint(keys):
            return False
    return all(_present(group, view) for group in rule.term_groups)


def _present(group: frozenset[str], view: ArticleView) -> bool:
    if not group.isdisjoint(view.keys):
        return True
    if any(k[0] == "w" for k in group):
        return not group.isdisjoint(view.term_keys())
    return False
