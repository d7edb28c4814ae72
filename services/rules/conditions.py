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

import bisect
from collections.abc import Callable, Iterable, Sequence
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
from services.rules.view import (
    ArticleView,
    Occurrence,
    OccurrenceEntry,
    TermKey,
    longest_first,
    occurrence_entry,
    term_anchor,
)

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

    def test(self, view: ArticleView, region: Region) -> bool:
        """Whether the node holds in ``region``: the cheap decision, no evidence built."""
        raise NotImplementedError

    def holds(self, view: ArticleView, region: Region) -> Result:
        """The decision with its evidence (``test`` decides the same; evaluation calls this
        only for rules that ``test`` says fire)."""
        raise NotImplementedError

    def anchors(self) -> Anchors:
        raise NotImplementedError

    def leaves(self) -> list[Leaf]:
        raise NotImplementedError

    def term_keys(self) -> set[TermKey]:
        return {key for leaf in self.leaves() if isinstance(leaf, Terms) for key in leaf.keys}


class Leaf(Node):
    """A condition on one kind of occurrence. Leaves are shared by every rule of a rule set
    that states the same condition (``compile_condition``'s ``shared``), so an article
    computes each distinct leaf's occurrences once, whatever the number of rules."""

    min_mentions: int

    def occurrences(self, view: ArticleView) -> list[Occurrence]:
        """Every occurrence in the article, computed once per article and leaf."""
        return self._sorted(view)[0]

    def _sorted(self, view: ArticleView) -> OccurrenceEntry:
        """The occurrences, with their starts and ends in start order (for ``test``)."""
        cache = view.cache
        entry = cache.get(id(self))
        if entry is None:
            entry = cache[id(self)] = self._entry(view)
        return entry

    def _entry(self, view: ArticleView) -> OccurrenceEntry:
        return occurrence_entry(self._occurrences(view))

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        raise NotImplementedError

    def test(self, view: ArticleView, region: Region) -> bool:
        every, starts, ends = self._sorted(view)
        if not every or len(every) < self.min_mentions:
            return False
        lo, hi = region
        # an occurrence is inside when lo <= start and end <= hi (so start <= hi)
        i = bisect.bisect_left(starts, lo)
        n = len(starts)
        while i < n and starts[i] <= hi:
            if ends[i] <= hi:
                return True
            i += 1
        return False

    def holds(self, view: ArticleView, region: Region) -> Result:
        every, starts, ends = self._sorted(view)
        lo, hi = region
        if every and lo <= starts[0] and max(ends) <= hi:
            inside = list(every)  # the whole article, usually
        else:
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

    def _entry(self, view: ArticleView) -> OccurrenceEntry:
        present = [i for i in self.ids if i in view.entities]
        if len(present) == 1:  # usually: that entity's entry, shared by every leaf naming it
            return view.mentions(present[0], self.form)
        return occurrence_entry(self._occurrences(view))

    def _occurrences(self, view: ArticleView) -> list[Occurrence]:
        return [
            o
            for entity_id in self.ids
            if entity_id in view.entities
            for o in view.mentions(entity_id, self.form)[0]
        ]

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
        spans = view.term_spans()
        found = [span for key in self.keys for span in spans.get(key, ())]
        return longest_first(view.text, found) if found else []  # as its TermMatcher

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
        self._leaves = [leaf for child in self.children for leaf in child.leaves()]
        self._distinct = list({id(leaf): leaf for leaf in self._leaves}.values())
        self._scope_key = None if self.scope is None else _scope_key(self.scope)
        self._of_leaves = False  # set by All when every child is a leaf

    def leaves(self) -> list[Leaf]:
        return list(self._leaves)

    def combine(self, results: list[Result]) -> bool:
        raise NotImplementedError

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        """``_flat(view, region).ok``, without the evidence."""
        raise NotImplementedError

    def test(self, view: ArticleView, region: Region) -> bool:
        if self.scope is None:
            return self.flat_test(view, region)
        return self._unit_where_it_holds(view, region) is not None

    def holds(self, view: ArticleView, region: Region) -> Result:
        if self.scope is None:
            return self._flat(view, region)
        unit = self._unit_where_it_holds(view, region)
        if unit is None:
            return Result(False)
        result = self._flat(view, unit)
        result.unit = unit
        return result

    def _unit_where_it_holds(self, view: ArticleView, region: Region) -> Region | None:
        """The first unit of the scope, in the order of the leaves' occurrences in the
        region, in which the conditions hold together (memoised per article)."""
        key = (id(self), region)
        units = view.units
        if key in units:
            return units[key]
        if self._of_leaves:
            held = units[key] = self._leaf_unit(view, region)
            return held
        lo, hi = region
        tried: set[Region] = set()
        seeds: set[int] = set()
        for leaf in self._distinct:
            starts = leaf._sorted(view)[1]
            if starts:
                seeds.update(
                    starts[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]
                )
        found: Region | None = None
        assert self.scope is not None and self._scope_key is not None
        scope, scope_key, memo = self.scope, self._scope_key, view.unit_memo
        for start in sorted(seeds):
            unit = memo.get((scope_key, start))
            if unit is None:
                unit = memo[(scope_key, start)] = _unit(view, scope, start)
            unit = (max(unit[0], lo), min(unit[1], hi))
            if unit in tried:
                continue
            tried.add(unit)
            if self.flat_test(view, unit):
                found = unit
                break
        units[key] = found
        return found

    def _leaf_unit(self, view: ArticleView, region: Region) -> Region | None:
        """``_unit_where_it_holds`` for an ``all`` of leaves (the usual scoped condition):
        the same seeds in the same order, each unit checked by bisection, rarest leaf
        first."""
        arrays = []
        for leaf in self._distinct:
            every, starts, ends = leaf._sorted(view)
            if not every or len(every) < leaf.min_mentions:
                return None
            arrays.append((starts, ends))
        arrays.sort(key=lambda a: len(a[0]))
        lo, hi = region
        seeds: set[int] = set()
        for starts, _ in arrays:
            seeds.update(starts[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)])
        ordered = sorted(seeds)
        scope, scope_key, memo = self.scope, self._scope_key, view.unit_memo
        assert scope is not None and scope_key is not None
        units: list[Region | None] = [None] * len(ordered)

        def unit_at(j: int) -> Region:
            unit = units[j]
            if unit is None:
                raw = memo.get((scope_key, ordered[j]))
                if raw is None:
                    raw = memo[(scope_key, ordered[j])] = _unit(view, scope, ordered[j])
                unit = units[j] = (max(raw[0], lo), min(raw[1], hi))
            return unit

        if scope == "sentence" and not view.sentences_ordered:
            order: Iterable[int] = range(len(ordered))
        else:
            order = _seeds_holding(unit_at, len(ordered), *arrays[0])
        left = bisect.bisect_left
        for j in order:
            ulo, uhi = unit_at(j)
            for starts, ends in arrays:
                i, n = left(starts, ulo), len(starts)
                while i < n and starts[i] <= uhi:
                    if ends[i] <= uhi:
                        break
                    i += 1
                else:
                    break  # this leaf has no occurrence inside the unit
            else:
                return ulo, uhi
        return None

    def _flat(self, view: ArticleView, region: Region) -> Result:
        results = [child.holds(view, region) for child in self.children]
        if not self.combine(results):
            return Result(False)
        return Result(True, [f for r in results if r.ok for f in r.found])


class All(Combinator):
    def __init__(self, children: Sequence[Node], scope: Scope | None, label: str) -> None:
        super().__init__(children, scope, label)
        self._of_leaves = all(isinstance(c, Leaf) for c in self.children)

    def combine(self, results: list[Result]) -> bool:
        return all(r.ok for r in results)

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        return all(child.test(view, region) for child in self.children)

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

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        return any(child.test(view, region) for child in self.children)

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

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        held, left = 0, len(self.children)
        for child in self.children:
            left -= 1
            if child.test(view, region):
                held += 1
                if held >= self.n:
                    return True
            if held + left < self.n:
                return False
        return held >= self.n


class None_(Combinator):
    """Holds when none of its conditions does (in one unit of its scope, when scoped)."""

    def __init__(self, children: Sequence[Node], scope: Scope | None, label: str) -> None:
        super().__init__(children, scope, label)
        self._probe = Any_(self.children, self.scope, self.label)

    def test(self, view: ArticleView, region: Region) -> bool:
        return not self._probe.test(view, region)

    def holds(self, view: ArticleView, region: Region) -> Result:
        return Result(self.test(view, region))

    def flat_test(self, view: ArticleView, region: Region) -> bool:  # pragma: no cover
        return not self._probe.flat_test(view, region)

    def combine(self, results: list[Result]) -> bool:  # pragma: no cover - holds() overrides
        return not any(r.ok for r in results)

    def anchors(self) -> Anchors:
        return None


def _seeds_holding(
    unit_at: Callable[[int], Region], count: int, starts: list[int], ends: list[int]
) -> list[int]:
    """The seeds (indices, ascending) whose unit holds an occurrence of a leaf.

    Units grow with their seed (both ends never decrease: sentences in order, paragraphs,
    windows of N words), so the seeds whose unit holds a given occurrence are a run of
    consecutive seeds, found by bisection; a unit where an ``all`` holds must hold an
    occurrence of its rarest leaf, so only these seeds need trying.
    """
    picked: set[int] = set()
    for r_start, r_end in zip(starts, ends, strict=True):
        a, b = 0, count
        while a < b:  # the first seed whose unit ends at or after r_end
            m = (a + b) // 2
            if unit_at(m)[1] >= r_end:
                b = m
            else:
                a = m + 1
        c, d = a, count
        while c < d:  # the first seed whose unit starts after r_start
            m = (c + d) // 2
            if unit_at(m)[0] > r_start:
                d = m
            else:
                c = m + 1
        picked.update(range(a, c))
    return sorted(picked)


def _unit(view: ArticleView, scope: Scope, offset: int) -> Region:
    if scope == "sentence":
        return view.sentence_span(offset)
    if scope == "paragraph":
        return view.paragraph_span(offset)
    assert isinstance(scope, WithinWords)
    return view.word_window(offset, scope.within_words)


def _scope_key(scope: Scope) -> str | int:
    """A hashable name of a scope for the view's memo of units ("sentence", or N words)."""
    return scope.within_words if isinstance(scope, WithinWords) else str(scope)


def compile_condition(
    cond: Condition,
    min_mentions: int,
    scope: Scope | None = None,
    shared: dict[tuple[object, ...], Leaf] | None = None,
) -> Node:
    """The node for a validated condition; ``scope`` is the rule's, for the top level.

    ``shared`` (one dict per rule set) makes equal leaves one object, so that their
    occurrences are computed once per article for every rule that states them.
    """
    node = _compile(cond, min_mentions, scope, {} if shared is None else shared)
    return node


def _share(leaf: Leaf, shared: dict[tuple[object, ...], Leaf]) -> Leaf:
    signature = (type(leaf), tuple(sorted(vars(leaf).items())))
    return shared.setdefault(signature, leaf)


def _compile(
    cond: Condition,
    min_mentions: int,
    scope: Scope | None,
    shared: dict[tuple[object, ...], Leaf],
) -> Node:
    leaf: Leaf
    if isinstance(cond, EntityCondition):
        leaf = Entities(cond, min_mentions)
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
            return All(
                [_compile(c, min_mentions, None, shared) for c in cond.all], node_scope, label
            )
        if isinstance(cond, AnyOf):
            return Any_(
                [_compile(c, min_mentions, None, shared) for c in cond.any], node_scope, label
            )
        if isinstance(cond, NoneOf):
            children = [_compile(c, min_mentions, None, shared) for c in cond.none]
            return None_(children, node_scope, label)
        assert isinstance(cond, AtLeast)
        children = [_compile(c, min_mentions, None, shared) for c in cond.of]
        return AtLeast_(children, node_scope, label, cond.at_least)
    leaf = _share(leaf, shared)
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
