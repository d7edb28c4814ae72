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

Keys serve sharing between rules: ``key(view)`` names what a node reads in one article
(the identities of its leaves' occurrence entries, its combinator and scope), so that equal
keys decide alike. The view memoises scoped searches by key: rules that state the same
condition, or whose conditions read the same occurrences here, search once per article.
Scoped searches go by unit numbers where the units allow (``_search_runs``, ``_runs``).
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
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


class _Nowhere:
    """The key of a node that holds in no region of the article (see ``Node.key``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOWHERE"


NOWHERE: Hashable = _Nowhere()


@dataclass(slots=True)
class Found:
    """A leaf's occurrences inside a region, for the evidence."""

    label: str
    occurrences: list[Occurrence]


@dataclass(slots=True)
class Result:
    ok: bool
    found: list[Found] = field(default_factory=list)


class Node:
    label: str

    def test(self, view: ArticleView, region: Region) -> bool:
        """Whether the node holds in ``region``: the cheap decision, no evidence built."""
        raise NotImplementedError

    def holds(self, view: ArticleView, region: Region) -> Result:
        """The decision with its evidence (``test`` decides the same)."""
        found = self.evidence(view, region)
        return Result(False) if found is None else Result(True, found)

    def evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        """What ``holds`` finds, or ``None`` when the node does not hold (no ``Result``)."""
        raise NotImplementedError

    def anchors(self) -> Anchors:
        raise NotImplementedError

    def key(self, view: ArticleView) -> Hashable:
        """What the node reads in this article, canonically: two nodes with equal keys
        decide alike in every region of the article and find the same unit (``NOWHERE``:
        the node holds in no region). The memo of scoped searches is keyed by it, so rules
        that state the same condition, or conditions that read the same occurrences here
        (``entity: [A, B]`` and ``entity: A`` in an article without B), search once."""
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

    def key(self, view: ArticleView) -> Hashable:
        """The identity of the occurrence entry (entries are shared per article: see
        ``ArticleView.mentions``), or ``NOWHERE`` below ``min_mentions``: past that
        count, a leaf holds in a region exactly when one of its occurrences is inside."""
        entry = self._sorted(view)
        return NOWHERE if len(entry[0]) < self.min_mentions else id(entry)

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

    def inside(self, view: ArticleView, region: Region) -> list[Occurrence]:
        """The occurrences inside ``region``, in their own order (do not change the list):
        one per article, entry and region, whatever the number of rules that read it."""
        entry = self._sorted(view)
        key = (id(entry), region)
        memo = view.inside
        found = memo.get(key)
        if found is None:
            every, starts, ends = entry
            lo, hi = region
            if every and lo <= starts[0] and max(ends) <= hi:
                found = every  # the whole article, usually
            else:
                found = [o for o in every if o.start >= lo and o.end <= hi]
            memo[key] = found
        return found

    def evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        if len(self._sorted(view)[0]) < self.min_mentions:  # none at all, or too few
            return None
        inside = self.inside(view, region)
        return [Found(self.label, list(inside))] if inside else None

    def leaves(self) -> list[Leaf]:
        return [self]


class Entities(Leaf):
    def __init__(self, cond: EntityCondition, min_mentions: int) -> None:
        self.ids = cond.entity
        self.form = cond.form
        self.min_mentions = cond.min_mentions or min_mentions
        self.label = describe(cond)

    def _entry(self, view: ArticleView) -> OccurrenceEntry:
        """The entry of the entities present, shared by every leaf that reads the same
        ones here (``entity: [A, B]`` and ``entity: A`` in an article without B)."""
        ids = self.ids
        if len(ids) == 1:
            return view.mentions(ids[0], self.form)
        entities = view.entities
        present = None
        for entity_id in ids:  # a loop, not a comprehension: this runs for every rule
            if entity_id in entities:
                if present is not None:
                    return view.mentions_of(tuple(i for i in ids if i in entities), self.form)
                present = entity_id
        return view.mentions(ids[0] if present is None else present, self.form)

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
        self._anchors = tuple(term_anchor(k) for k in self.keys)

    def _entry(self, view: ArticleView) -> OccurrenceEntry:
        """Nothing, without a scan of the text, when no term's automaton key is in it (a
        substring search, ``ArticleView.has_term``): a term the index did not look up (in
        a ``none``, or beside the anchors) cost a scan of every candidate article."""
        if not any(map(view.has_term, self._anchors)):
            return occurrence_entry([])
        return super()._entry(view)

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
        #: a hashable name of the scope for the memos ("sentence", or N words)
        self.scope_key = None if self.scope is None else _scope_key(self.scope)
        self._of_leaves = False  # set by All when every child is a leaf
        #: the conditions that are leaves, in an ``all`` (each must hold in the unit)
        self._leaf_children: list[Leaf] = []

    def leaves(self) -> list[Leaf]:
        return list(self._leaves)

    def key(self, view: ArticleView) -> Hashable:
        """``flat_key`` unscoped; scoped, the flat key with the scope and the occurrences
        the unit search starts from (every leaf's, those that cannot hold included: they
        seed units too, and the first unit that holds is the one reported)."""
        memo = view.node_keys
        key = memo.get(id(self))
        if key is None:
            key = self.flat_key(view)
            if key is not NOWHERE and self.scope is not None and not self._of_leaves:
                seeds = frozenset(
                    id(entry) for leaf in self._distinct if (entry := leaf._sorted(view))[0]
                )
                key = ("in", self.scope_key, key, seeds)
            elif key is not NOWHERE and self.scope is not None:  # the leaves are the seeds
                key = ("in", self.scope_key, key)  # as ``leaves_key``
            memo[id(self)] = key
        return key

    def flat_key(self, view: ArticleView) -> Hashable:
        """The key of the combination of the children's keys, in one region."""
        raise NotImplementedError

    def combine(self, results: list[Result]) -> bool:
        raise NotImplementedError

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        """Whether ``flat_evidence`` finds any, without building it."""
        raise NotImplementedError

    def test(self, view: ArticleView, region: Region) -> bool:
        if self.scope is None:
            return self.flat_test(view, region)
        return self._unit_where_it_holds(view, region) is not None

    def evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        if self.scope is None:
            return self.flat_evidence(view, region)
        unit = self._unit_where_it_holds(view, region)
        return None if unit is None else self.flat_evidence(view, unit)

    def flat_evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        """The children's evidence in ``region`` (of those that hold), if they combine."""
        raise NotImplementedError

    def _unit_where_it_holds(self, view: ArticleView, region: Region) -> Region | None:
        """The first unit of the scope, in the order of the leaves' occurrences in the
        region, in which the conditions hold together (memoised per article by the node's
        key, so rules that read the same here search once)."""
        node_key = self.key(view)
        if node_key is NOWHERE:
            return None
        key = (node_key, region)
        units = view.units
        if key in units:
            return units[key]
        found = units[key] = self.search(view, region)
        return found

    def search(self, view: ArticleView, region: Region) -> Region | None:
        """``_unit_where_it_holds`` without the memo."""
        assert self.scope_key is not None
        bounds = view.unit_bounds(self.scope_key) if self._leaf_children else None
        if bounds is not None:
            return self._search_runs(view, region, bounds)
        return self._first_unit(view, region)

    def _first_unit(self, view: ArticleView, region: Region) -> Region | None:
        """The plain search: every seed's unit, in order, until the conditions hold."""
        lo, hi = region
        tried: set[Region] = set()
        seeds: set[int] = set()
        for leaf in self._distinct:
            starts = leaf._sorted(view)[1]
            if starts:
                seeds.update(
                    starts[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]
                )
        assert self.scope is not None and self.scope_key is not None
        scope, scope_key, memo = self.scope, self.scope_key, view.unit_memo
        for start in sorted(seeds):
            unit = memo.get((scope_key, start))
            if unit is None:
                unit = memo[(scope_key, start)] = _unit_of(view, scope, start)
            unit = (max(unit[0], lo), min(unit[1], hi))
            if unit in tried:
                continue
            tried.add(unit)
            if self.flat_test(view, unit):
                return unit
        return None

    def _search_runs(
        self, view: ArticleView, region: Region, bounds: tuple[list[int], list[int]]
    ) -> Region | None:
        """``_first_unit`` for an ``all`` with leaves among its conditions (the usual
        scoped rule), through unit numbers.

        Units are numbered in order and both their starts and ends never decrease
        (``ArticleView.unit_bounds``), so the units that hold an occurrence are a run of
        consecutive numbers, and the unit of a seed grows with the seed. A unit where the
        ``all`` holds holds an occurrence of each of its leaves, the rarest included: only
        the seeds whose unit is in one of that leaf's runs (``_runs``, once per article for
        all rules) need trying, in order. When every condition is a leaf, a unit is checked
        by bisection, else by ``flat_test``.
        """
        entries = []
        for leaf in self._leaf_children:
            entry = leaf._sorted(view)
            if len(entry[0]) < leaf.min_mentions:
                return None
            entries.append(entry)
        anchor = min(entries, key=lambda e: len(e[0]))
        assert self.scope_key is not None
        firsts, lasts = _runs(view, anchor, self.scope_key, bounds, region)
        if not firsts:
            return None
        every_starts = [leaf._sorted(view)[1] for leaf in self._distinct]
        others = [e for e in entries if e is not anchor] if self._of_leaves else None
        starts_u, ends_u = bounds
        last = len(ends_u) - 1
        width = self.scope_key if isinstance(self.scope_key, int) else 0
        lo, hi = region
        left, right = bisect.bisect_left, bisect.bisect_right
        for c, b in zip(firsts, lasts, strict=True):
            # the seeds whose unit is in c..b: from the start of unit c to that of b + 1
            s_lo = max(lo, starts_u[c]) if c > 0 else lo
            s_hi = min(hi, starts_u[b + 1]) if b < last else hi
            seeds: set[int] = set()
            for starts in every_starts:
                seeds.update(starts[left(starts, s_lo) : left(starts, s_hi)])
            for seed in sorted(seeds):
                u = max(0, right(starts_u, seed) - 1)
                unit = max(starts_u[u], lo), min(ends_u[min(last, u + width)], hi)
                if self.flat_test(view, unit) if others is None else _inside_all(others, unit):
                    return unit
        return None


class All(Combinator):
    def __init__(self, children: Sequence[Node], scope: Scope | None, label: str) -> None:
        super().__init__(children, scope, label)
        self._of_leaves = all(isinstance(c, Leaf) for c in self.children)
        self._leaf_children = [c for c in self.children if isinstance(c, Leaf)]

    def leaves_key(self, entries: Sequence[OccurrenceEntry]) -> Hashable:
        """``key`` of a scoped ``all`` of leaves from its leaves' entries (each with enough
        occurrences), for callers that hold them already."""
        ids = {id(entry) for entry in entries}
        flat = next(iter(ids)) if len(ids) == 1 else ("all", frozenset(ids))
        return ("in", self.scope_key, flat)

    def combine(self, results: list[Result]) -> bool:
        return all(r.ok for r in results)

    def flat_key(self, view: ArticleView) -> Hashable:
        keys = set()
        for child in self.children:  # in order, stopping early: a term scan may be spared
            key = child.key(view)
            if key is NOWHERE:
                return NOWHERE
            keys.add(key)
        return next(iter(keys)) if len(keys) == 1 else ("all", frozenset(keys))

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        return all(child.test(view, region) for child in self.children)

    def flat_evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        found: list[Found] = []
        for child in self.children:  # stop at the first that fails: cheaper
            result = child.evidence(view, region)
            if result is None:
                return None
            found.extend(result)
        return found

    def anchors(self) -> Anchors:
        groups: list[frozenset[str]] = []
        for child in self.children:
            child_groups = child.anchors()
            if child_groups:
                groups.extend(child_groups)
        return groups


class Any_(Combinator):
    _needed = 1

    def combine(self, results: list[Result]) -> bool:
        return any(r.ok for r in results)

    def flat_key(self, view: ArticleView) -> Hashable:
        keys = {k for child in self.children if (k := child.key(view)) is not NOWHERE}
        if not keys:
            return NOWHERE
        return next(iter(keys)) if len(keys) == 1 else ("any", frozenset(keys))

    def flat_test(self, view: ArticleView, region: Region) -> bool:
        return any(child.test(view, region) for child in self.children)

    def flat_evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        found: list[Found] = []
        held = 0
        for child in self.children:  # every child: the evidence names all that hold
            result = child.evidence(view, region)
            if result is not None:
                held += 1
                found.extend(result)
        return found if held >= self._needed else None

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
        self._needed = n

    def combine(self, results: list[Result]) -> bool:
        return sum(r.ok for r in results) >= self.n

    def flat_key(self, view: ArticleView) -> Hashable:
        if self.n == 1:
            return super().flat_key(view)
        keys = tuple(k for child in self.children if (k := child.key(view)) is not NOWHERE)
        return NOWHERE if len(keys) < self.n else ("at_least", self.n, keys)

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

    def key(self, view: ArticleView) -> Hashable:
        return ("none", self._probe.key(view))

    def flat_key(self, view: ArticleView) -> Hashable:  # pragma: no cover - key() overrides
        return self.key(view)

    def evidence(self, view: ArticleView, region: Region) -> list[Found] | None:
        return [] if self.test(view, region) else None

    def flat_test(self, view: ArticleView, region: Region) -> bool:  # pragma: no cover
        return not self._probe.flat_test(view, region)

    def combine(self, results: list[Result]) -> bool:  # pragma: no cover - holds() overrides
        return not any(r.ok for r in results)

    def anchors(self) -> Anchors:
        return None


def _inside_all(entries: list[OccurrenceEntry], unit: Region) -> bool:
    """Whether every entry has an occurrence inside ``unit`` (by bisection)."""
    lo, hi = unit
    for _, starts, ends in entries:
        i, n = bisect.bisect_left(starts, lo), len(starts)
        while i < n and starts[i] <= hi:
            if ends[i] <= hi:
                break
            i += 1
        else:
            return False  # this entry has no occurrence inside the unit
    return True


def _runs(
    view: ArticleView,
    entry: OccurrenceEntry,
    scope_key: str | int,
    bounds: tuple[list[int], list[int]],
    region: Region,
) -> tuple[list[int], list[int]]:
    """The runs of unit numbers that hold one of an entry's occurrences in the region
    (merged and ascending: firsts, lasts), once per article, entry, scope and region.

    Unit ``u`` spans ``starts[u]`` to ``ends[u + width]`` (``width`` words for windows, 0
    otherwise); it holds an occurrence from ``start`` to ``end`` when it starts at or
    before ``start`` (``u <= b``) and ends at or after ``end`` (``u >= c``).
    """
    key = (id(entry), scope_key, region)
    found = view.reach.get(key)
    if found is not None:
        return found
    _, starts, ends = entry
    starts_u, ends_u = bounds
    width = scope_key if isinstance(scope_key, int) else 0
    last = len(ends_u) - 1
    lo, hi = region
    right, left = bisect.bisect_right, bisect.bisect_left
    runs = []
    for start, end in zip(starts, ends, strict=True):
        if start < lo or end > hi:
            continue
        b = right(starts_u, start) - 1
        c = left(ends_u, end)
        if b < 0 or c > last:
            continue
        c = max(0, c - width)
        if c <= b:
            runs.append((c, b))
    firsts: list[int] = []
    lasts: list[int] = []
    for c, b in sorted(runs):
        if lasts and c <= lasts[-1] + 1:
            lasts[-1] = max(lasts[-1], b)
        else:
            firsts.append(c)
            lasts.append(b)
    found = (firsts, lasts)
    view.reach[key] = found
    return found


def _unit_of(view: ArticleView, scope: Scope, offset: int) -> Region:
    """``_unit``, through the article's unit bounds when it has them (a bisection)."""
    scope_key = _scope_key(scope)
    bounds = view.unit_bounds(scope_key)
    if bounds is None:
        return _unit(view, scope, offset)
    starts, ends = bounds
    u = max(0, bisect.bisect_right(starts, offset) - 1)
    width = scope_key if isinstance(scope_key, int) else 0
    return starts[u], ends[min(len(ends) - 1, u + width)]


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
