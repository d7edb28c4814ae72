"""The pure evaluation core: a rule set compiled and indexed, one article in, matches out.

Why an index: with 10,000 rules, evaluating each on every article would cost a hundred
times the work of the few rules that can possibly fire. Each rule's condition yields anchor
groups (see ``conditions``): keys of which at least one per group must be in the article.
A rule is filed under a key of its most selective group, and under a second key from its
next group, so an article only looks up pairs of its own keys (a few dozen dictionary
probes, whatever the number of rules) and then checks the remaining groups of the few
candidates with set operations before any condition runs.

Term groups are never the first choice: finding terms means scanning the text, so rules
whose only anchors are terms force a scan of every article, and the others scan only when
a candidate needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.articles import ArticleEnriched
from services.rules.conditions import Combinator, Found, Node, compile_condition
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
    def __init__(self, loaded: LoadedRule) -> None:
        self.loaded = loaded
        self.rule: Rule = loaded.rule
        self.id = loaded.id
        self.version = loaded.version
        filters = self.rule.filters
        self.node: Node = compile_condition(
            self.rule.when,
            filters.min_mentions,
            None if self.rule.scope == "article" else self.rule.scope,
        )
        self.scoped = self.rule.scope != "article" or _has_scope(self.node)
        anchors = self.node.anchors()
        self.groups: tuple[frozenset[str], ...] = tuple(anchors or ())
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
        if self.filter_problem(view):
            return None
        result = self.node.holds(view, self.region(view))
        if not result.ok:
            return None
        return Match(self, tuple(result.found), self.scoped)


def _has_scope(node: Node) -> bool:
    if isinstance(node, Combinator):
        return node.scope is not None or any(_has_scope(c) for c in node.children)
    return False


def _rank(group: frozenset[str]) -> tuple[int, int]:
    return (max(_COMMONNESS[k[0]] for k in group), len(group))


class Evaluator:
    """A rule set compiled and indexed. ``matches(article)`` is the pure core of the service."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.rules = [CompiledRule(r) for r in ruleset.rules if r.rule.enabled]
        terms = {key for rule in self.rules for key in rule.node.term_keys()}
        self.terms = TermBank(sorted(terms, key=lambda k: (k[0] or "", k[1])))
        self._index: dict[str, dict[str | None, list[int]]] = {}
        self._term_index: dict[str, list[int]] = {}
        self._always: list[int] = []
        for position, rule in enumerate(self.rules):
            self._file(position, rule)

    def _file(self, position: int, rule: CompiledRule) -> None:
        plain = sorted((g for g in rule.groups if not any(k[0] == "w" for k in g)), key=_rank)
        if plain:
            first = plain[0]
            seconds: Iterable[str | None] = plain[1] if len(plain) > 1 else (None,)
            for key in first:
                sub = self._index.setdefault(key, {})
                for second in seconds:
                    sub.setdefault(second, []).append(position)
        elif rule.groups:  # every group holds a term: terms must be scanned for this rule
            for key in min(rule.groups, key=len):
                if key[0] == "w":
                    self._term_index.setdefault(key, []).append(position)
                else:
                    self._index.setdefault(key, {}).setdefault(None, []).append(position)
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
            sub = index.get(key)
            if sub is None:
                continue
            for second in sub.keys() & keys if len(sub) > 1 else sub:
                picked.update(sub[second])
            if None in sub and len(sub) > 1:
                picked.update(sub[None])
        if self._term_index:
            for key in view.term_keys():
                picked.update(self._term_index.get(key, ()))
        out = []
        for position in sorted(picked):
            rule = self.rules[position]
            if all(_present(group, view) for group in rule.groups):
                out.append(rule)
        return out

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


def _present(group: frozenset[str], view: ArticleView) -> bool:
    if not group.isdisjoint(view.keys):
        return True
    if any(k[0] == "w" for k in group):
        return not group.isdisjoint(view.term_keys())
    return False
