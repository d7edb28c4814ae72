"""The pure evaluation core: a rule set compiled and indexed, one article in, matches out.

Why an index: with 10,000 rules, evaluating each on every article would cost a hundred
times the work of the few rules that can possibly fire. Each rule's condition yields anchor
groups (see ``conditions``): keys of which at least one per group must be in the article.
A rule is filed under a key of its most selective group, and under a second key from its
next group, so an article only looks up pairs of its own keys (a few dozen dictionary
probes, whatever the number of rules) and then checks the remaining groups of the few
candidates with set operations before any condition runs.

Terms: all the rule set's terms are in one automaton (``view.TermBank``), run at most once
per article. A rule with entity and term groups is filed under (entity key, term key), so
its term group is as selective as a second entity: an article that names the entity but
lacks the terms never makes it a candidate. Whether the article has a term is first asked
by substring (``ArticleView.has_term``): the automaton runs only for articles that may have
it. Rules whose only anchors are terms are filed under their terms. A rule whose groups
the index checked all of (at most two) is not checked again.

Why sharing: past the index, what remains at 10,000 rules is mostly true matches (the
generated sets of ``bench/rules.py`` fire about 1.4 times per article), and rules repeat
each other's conditions. Their work is shared through the article's memos, keyed by what a
condition reads in this article rather than by rule (``conditions.Node.key``): the leaves'
occurrences, a scoped condition's unit, the occurrences inside a region. The usual rule,
an ``all`` of leaves, is evaluated without walking its tree (``CompiledRule._conjunction``);
what is left per rule is its own evidence objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.articles import ArticleEnriched
from services.rules.conditions import All, Combinator, Found, Leaf, Node, compile_condition
from services.rules.loader import LoadedRule, RuleSet
from services.rules.model import Rule
from services.rules.view import ArticleView, Occurrence, OccurrenceEntry, TermBank

__all__ = ["CompiledRule", "Evaluator", "Explanation", "Match"]

#: Cheaper to find in articles, hence worse anchors (the higher, the less selective).
_COMMONNESS = {"t": 4, "k": 5, "c": 3, "w": 2, "e": 1}
#: Up to this many terms to look up, an article is probed term by term (substring
#: searches, ``ArticleView.has_term``); beyond, one scan of the automaton is cheaper.
_PROBES = 8


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
        self._filtered = bool(self.sources or self.languages or self.labels)
        #: the usual rule, an ``all`` of leaves (or one leaf), flat or in one scope, is
        #: evaluated here without walking the tree (``_conjunction``)
        node = self.node
        self._leaves: tuple[Leaf, ...] | None = None
        self._scoped: All | None = None
        if isinstance(node, Leaf):
            self._leaves = (node,)
        elif isinstance(node, All) and all(isinstance(c, Leaf) for c in node.children):
            self._leaves = tuple(c for c in node.children if isinstance(c, Leaf))
            self._scoped = node if node.scope is not None else None
        self._labels = tuple(leaf.label for leaf in self._leaves or ())
        self._scope_key = None if self._scoped is None else self._scoped.scope_key

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
        return (0, view.title_end) if self.title_only else view.whole

    def evaluate(self, view: ArticleView) -> Match | None:
        """The match with its evidence, or ``None``."""
        if self._filtered and self.filter_problem(view):
            return None
        region = (0, view.title_end) if self.title_only else view.whole
        if self._leaves is not None:
            return self._conjunction(view, region, self._leaves)
        found = self.node.evidence(view, region)
        return None if found is None else Match(self, tuple(found), self.scoped)

    def _conjunction(
        self, view: ArticleView, region: tuple[int, int], leaves: tuple[Leaf, ...]
    ) -> Match | None:
        """``node.evidence`` for an ``all`` of leaves: the same result, fewer steps.

        Rules share the work through the article's memos: each leaf's entry
        (``view.cache``: leaves naming the same entities share theirs), then, per entries
        read, scope and region, the occurrences each leaf has inside the unit where they
        hold together (``view.conjunctions``; the unit itself from ``view.units``, by
        ``All.leaves_key``). What is left per rule is its own evidence objects."""
        cache = view.cache
        entries = []
        for leaf in leaves:
            entry = cache.get(id(leaf))
            if entry is None:
                entry = cache[id(leaf)] = leaf._entry(view)
            if len(entry[0]) < leaf.min_mentions:
                return None
            entries.append(entry)
        scoped = self._scoped
        key = (self._scope_key, region, *map(id, entries))
        memo = view.conjunctions
        insides = memo.get(key, _UNKNOWN)
        if insides is _UNKNOWN:
            insides = memo[key] = _insides(view, region, scoped, leaves, entries)
        if insides is None:
            return None
        return Match(
            self,
            tuple(map(Found, self._labels, map(list, insides))),
            self.scoped,
        )


#: not in a memo yet
_UNKNOWN: Any = object()


def _insides(
    view: ArticleView,
    region: tuple[int, int],
    scoped: All | None,
    leaves: tuple[Leaf, ...],
    entries: list[OccurrenceEntry],
) -> tuple[list[Occurrence], ...] | None:
    """The occurrences of each leaf inside the unit where they hold together (in
    ``region`` when unscoped); ``None`` when there is none."""
    if scoped is not None:
        key = (scoped.leaves_key(entries), region)
        units = view.units
        if key in units:
            unit = units[key]
        else:
            unit = units[key] = scoped.search(view, region)
        if unit is None:
            return None
        region = unit
    out = []
    for leaf in leaves:
        inside = leaf.inside(view, region)
        if not inside:
            return None
        out.append(inside)
    return tuple(out)


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
        #: per rule: whether finding it in the index proves every one of its anchor groups
        #: present (then ``_all_present`` is not needed)
        self._covered: list[bool] = []
        for position, rule in enumerate(self.rules):
            self._covered.append(self._file(position, rule))

    def _file(self, position: int, rule: CompiledRule) -> bool:
        """Files the rule in the index; whether the index then checks all its groups."""
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
            return len(rule.groups) == (1 if len(plain) == 1 and not worded else 2)
        if rule.groups:  # every group holds a term: terms must be looked up for this rule
            for key in min(rule.groups, key=len):
                if key[0] == "w":
                    self._term_index.setdefault(key, []).append(position)
                else:
                    self._index.setdefault(key, _Slot()).alone.append(position)
            return len(rule.groups) == 1
        self._always.append(position)
        return True

    def view(self, event: ArticleEnriched) -> ArticleView:
        return ArticleView(event, self.terms)

    def candidates(self, view: ArticleView) -> list[CompiledRule]:
        """The rules whose anchors the article has (in rule-set order)."""
        rules = self.rules
        return [rules[p] for p in self._candidates(view)]

    def _candidates(self, view: ArticleView) -> list[int]:
        keys = view.keys
        picked: set[int] = set(self._always)
        index = self._index
        for key in keys:
            slot = index.get(key)
            if slot is None:
                continue
            if slot.alone:
                picked.update(slot.alone)
            plain = slot.plain
            if plain:
                if len(keys) < len(plain):  # look the article's few keys up
                    for second in keys:
                        if second in plain:
                            picked.update(plain[second])
                else:
                    for second in plain.keys() & keys:
                        picked.update(plain[second])
            if slot.terms:
                _pick_terms(slot.terms, view, picked)
        if self._term_index:
            _pick_terms(self._term_index, view, picked)
        if not picked:
            return []
        covered, rules = self._covered, self.rules
        return [p for p in sorted(picked) if covered[p] or _all_present(rules[p], view)]

    def matches(self, event: ArticleEnriched | ArticleView) -> list[Match]:
        view = event if isinstance(event, ArticleView) else self.view(event)
        out = []
        rules = self.rules
        for position in self._candidates(view):
            match = rules[position].evaluate(view)
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


def _pick_terms(filed: dict[str, list[int]], view: ArticleView, picked: set[int]) -> None:
    """Adds the rules filed under the terms that the article holds."""
    if len(filed) <= _PROBES:
        for anchor, positions in filed.items():
            if view.has_term(anchor):
                picked.update(positions)
    else:
        for anchor in filed.keys() & view.term_keys():
            picked.update(filed[anchor])


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
    words = [k for k in group if k[0] == "w"]
    if len(words) > _PROBES:
        return not group.isdisjoint(view.term_keys())
    return any(view.has_term(k) for k in words)
