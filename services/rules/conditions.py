"""Rule conditions compiled into evaluable nodes, with the evidence they found.

Every node answers one question: does it hold inside a region of the analysed text (the
article, the title, a sentence, a paragraph, a span of N words)? A leaf holds when its
entity, term or tag occurs inside the region, and at least ``min_mentions`` times in the
article. A scoped combinator looks for one unit of its scope (built around each occurrence
of its leaves) in which all its conditions hold together: "Armenia and shelling in one
sentence" needs a sentence that holds both.

Anchors serve the index: ``anchors()`` returns groups of keys such that the node can only
hold when every group has a key present in the article (``e:`` entity, ``k:`` kind, ``c:``
country, ``t:`` tag, ``w:`` term). ``None`` means the node cannot be anchored (``none``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.rules.model import (
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    CountryCondition,
    EntityCondition,
    KindCondition,
    NoneOf,
    Scope,
    TagCondition,
    TermsCondition,
    WithinWords,
)
from services.rules.view import ArticleView, Occurrence, TermKey, term_anchor

__all__ = ["Found", "Node", "Region", "compile_condition", "describe"]

Region = tuple[int, int]
Anchors = list[frozenset[str]] | None


@dataclass(slots=True)
class Found:
    """A leaf's occurrences inside a region, for the evidence."""

    label: str
    occurrences: list[Occurrence]


@dataclass(slots=True)
class Result:
    ok: bool
    found: list[Found] = field(default_factory=list)
    unit: Region | None = None


class Node:
    label: str

    def holds(self, view: ArticleView, region: Region) -> Result:
        raise NotImplementedError

    def anchors(self) -> Anchors:
        raise NotImplementedError

    def leaves(self) -> list[Leaf]:
        raise NotImplementedError

    def term_keys(self) -> set[TermKey]:
        return {key for leaf in self.leaves() if isinstance(leaf, Terms) for key in leaf.keys}


class Leaf(Node):
    min_mentions: int

    def occurrences(self, view: ArticleView) -> list[Occurrence]:
        """Every occurrence in the article, computed once per article and leaf."""
        cache = view.cache
        found = cache.get(id(self))
        if found is None:
            found = cache[id(self)] = self._occurrences(view)
        return found

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        raise NotImplementedError

    def holds(self, view: ArticleView, region: Region) -> Result:
        every = self.occurrences(view)
        lo, hi = region
        inside = [o for o in every if o.start >= lo and o.end <= hi]
        if not inside:
            return Result(False)
        if len(every) < self.min_mentions:
            return Result(False)
        return Result(True, [Found(self.label, inside)])

    def leaves(self) -> list[Leaf]:
        return [self]


class Entities(Leaf):
    def __init__(self, cond: EntityCondition, min_mentions: int) -> None:
        self.ids = cond.entity
        self.form = cond.form
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        out: list[Occurrence] = []
        for entity_id in self.ids:
            entity = view.entities.get(entity_id)
            if entity is not None:
                out.extend(
                    Occurrence(m.start, m.end, m.surface)
                    for m in entity.mentions
                    if self.form in ("any", m.form)
                )
        return out

    def anchors(self) -> Anchors:
        return [frozenset("e:" + i for i in self.ids)]


class Kinds(Leaf):
    def __init__(self, cond: KindCondition, min_mentions: int) -> None:
        self.kind = cond.kind
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        return [
            Occurrence(m.start, m.end, m.surface)
            for e in view.entities.values()
            if e.kind == self.kind
            for m in e.mentions
        ]

    def anchors(self) -> Anchors:
        return [frozenset({"k:" + self.kind})]


class Countries(Leaf):
    def __init__(self, cond: CountryCondition, min_mentions: int) -> None:
        self.codes = frozenset(cond.country)
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        return [
            Occurrence(m.start, m.end, m.surface)
            for e in view.entities.values()
            if self.codes.intersection(e.countries)
            for m in e.mentions
        ]

    def anchors(self) -> Anchors:
        return [frozenset("c:" + c for c in self.codes)]


class Terms(Leaf):
    def __init__(self, cond: TermsCondition, min_mentions: int) -> None:
        self.keys: tuple[TermKey, ...] = tuple((cond.lang, t) for t in cond.terms)
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        hits = view.term_hits()
        out = [o for key in self.keys for o in hits.get(key, ())]
        out.sort(key=lambda o: o.start)
        return out

    def anchors(self) -> Anchors:
        return [frozenset(term_anchor(k) for k in self.keys)]


class Tags(Leaf):
    def __init__(self, cond: TagCondition, min_mentions: int) -> None:
        self.ids = cond.tag
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        out: list[Occurrence] = []
        for tag_id in self.ids:
            if "t:" + tag_id in view.keys:
                out.extend(view.tag_occurrences(tag_id))
        return out

    def anchors(self) -> Anchors:
        return [frozenset("t:" + i for i in self.ids)]


class Combinator(Node):
    def __init__(self, children: Sequence[Node], scope: Scope | None, label: str) -> None:
        self.children = list(children)
        self.scope = None if scope == "article" else scope
        self.label = label

    def leaves(self) -> list[Leaf]:
        return [leaf for child in self.children for leaf in child.leaves()]

    def combine(self, results: list[Result]) -> bool:
        raise NotImplementedError

    def holds(self, view: ArticleView, region: Region) -> Result:
        if self.scope is None:
            return self._flat(view, region)
        lo, hi = region
        tried: set[Region] = set()
        seeds = sorted(
            {
                o.start
                for leaf in self.leaves()
                for o in leaf.occurrences(view)
                if lo <= o.start < hi
            }
        )
        for start in seeds:
            unit = _unit(view, self.scope, start)
            unit = (max(unit[0], lo), min(unit[1], hi))
            if unit in tried:
                continue
            tried.add(unit)
            result = self._flat(view, unit)
            if result.ok:
                result.unit = unit
                return result
        return Result(False)

    def _flat(self, view: ArticleView, region: Region) -> Result:
        results = [child.holds(view, region) for child in self.children]
        if not self.combine(results):
            return Result(False)
        return Result(True, [f for r in results if r.ok for f in r.found])


class All(Combinator):
    def combine(self, results: list[Result]) -> bool:
        return all(r.ok for r in results)

    def _flat(self, view: ArticleView, region: Region) -> Result:
        found: list[Found] = []
        for child in self.children:  # stop at the first that fails: cheaper
            result = child.holds(view, region)
            if not result.ok:
                return Result(False)
            found.extend(result.found)
        return Result(True, found)

    def anchors(self) -> Anchors:
        groups: list[frozenset[str]] = []
        for child in self.children:
            child_groups = child.anchors()
            if child_groups:
                groups.extend(child_groups)
        return groups


class Any_(Combinator):
    def combine(self, results: list[Result]) -> bool:
        return any(r.ok for r in results)

    def anchors(self) -> Anchors:
        union: set[str] = set()
        for child in self.children:
            child_groups = child.anchors()
            if not child_groups:
                return None
            union |= min(child_groups, key=len)
        return [frozenset(union)]


class AtLeast_(Any_):
    def __init__(self, children: Sequence[Node], scope: Scope | None, label: str, n: int) -> None:
        super().__init__(children, scope, label)
        self.n = n

    def combine(self, results: list[Result]) -> bool:
        return sum(r.ok for r in results) >= self.n


class None_(Combinator):
    """Holds when none of its conditions does (in one unit of its scope, when scoped)."""

    def holds(self, view: ArticleView, region: Region) -> Result:
        probe = Any_(self.children, self.scope, self.label)
        return Result(not probe.holds(view, region).ok)

    def combine(self, results: list[Result]) -> bool:  # pragma: no cover - holds() overrides
        return not any(r.ok for r in results)

    def anchors(self) -> Anchors:
        return None


def _unit(view: ArticleView, scope: Scope, offset: int) -> Region:
    if scope == "sentence":
        return view.sentence_span(offset)
    if scope == "paragraph":
        return view.paragraph_span(offset)
    assert isinstance(scope, WithinWords)
    return view.word_window(offset, scope.within_words)


def compile_condition(cond: Condition, min_mentions: int, scope: Scope | None = None) -> Node:
    """The node for a validated condition; ``scope`` is the rule's, for the top level."""
    if isinstance(cond, EntityCondition):
        leaf: Node = Entities(cond, min_mentions)
    elif isinstance(cond, KindCondition):
        leaf = Kinds(cond, min_mentions)
    elif isinstance(cond, CountryCondition):
        leaf = Countries(cond, min_mentions)
    elif isinstance(cond, TermsCondition):
        leaf = Terms(cond, min_mentions)
    elif isinstance(cond, TagCondition):
        leaf = Tags(cond, min_mentions)
    else:
        node_scope = cond.scope or scope
        label = describe(cond)
        if isinstance(cond, AllOf):
            return All([compile_condition(c, min_mentions) for c in cond.all], node_scope, label)
        if isinstance(cond, AnyOf):
            return Any_([compile_condition(c, min_mentions) for c in cond.any], node_scope, label)
        if isinstance(cond, NoneOf):
            return None_([compile_condition(c, min_mentions) for c in cond.none], node_scope, label)
        assert isinstance(cond, AtLeast)
        children = [compile_condition(c, min_mentions) for c in cond.of]
        return AtLeast_(children, node_scope, label, cond.at_least)
    if scope not in (None, "article"):  # a single leaf scoped: holds in one unit, trivially
        return All([leaf], scope, leaf.label)
    return leaf


def describe(cond: Condition) -> str:  # noqa: PLR0911 - one return per condition kind
    """A condition as an analyst wrote it, on one line ("entity country:AM", "all(3)")."""
    if isinstance(cond, EntityCondition):
        form = "" if cond.form == "any" else f" ({cond.form})"
        return f"entity {'|'.join(cond.entity)}{form}"
    if isinstance(cond, KindCondition):
        return f"kind {cond.kind}"
    if isinstance(cond, CountryCondition):
        return f"country {'|'.join(cond.country)}"
    if isinstance(cond, TermsCondition):
        return f"terms {'|'.join(cond.terms)}"
    if isinstance(cond, TagCondition):
        return f"tag {'|'.join(cond.tag)}"
    scope = ""
    if cond.scope is not None:
        scope = (
            f" in one {cond.scope}"
            if isinstance(cond.scope, str)
            else f" within {cond.scope.within_words} words"
        )
    if isinstance(cond, AllOf):
        return f"all of {len(cond.all)}{scope}"
    if isinstance(cond, AnyOf):
        return f"any of {len(cond.any)}{scope}"
    if isinstance(cond, NoneOf):
        return f"none of {len(cond.none)}{scope}"
    return f"at least {cond.at_least} of {len(cond.of)}{scope}"
