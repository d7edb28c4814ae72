"""Choosing among overlapping matches: the longest wins ("South Ossetia" over "Ossetia"),
then the first. The enricher's names, a rule's terms and the rules' shared term probes all
choose this way, so they must agree.

Why a module: each of the three did it with a scan of every span already kept, which is
quadratic in the matches; a 200,000-character list of names took minutes in the enricher.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

T = TypeVar("T")
Span = tuple[int, int]


@overload
def keep_longest(items: Iterable[Span]) -> list[Span]: ...
@overload
def keep_longest(items: Iterable[T], span: Callable[[T], Span]) -> list[T]: ...
def keep_longest(items: Iterable[Any], span: Callable[[Any], Span] | None = None) -> list[Any]:
    """The items whose span (``span(item)``, else the item itself: start, end) overlaps
    none kept before it, trying the longest first and, among equally long, the earliest;
    returned in text order.

    The kept spans are disjoint, so ordered by start they are ordered by end too: a span
    overlaps one of them exactly when it overlaps the last that starts before it ends. One
    binary search per item instead of a scan of everything kept.
    """
    of = span or _itself
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Any] = []
    for item in sorted(items, key=lambda i: _longest_then_first(of(i))):
        start, end = of(item)
        at = bisect_left(starts, end)
        if at and ends[at - 1] > start:
            continue
        starts.insert(at, start)
        ends.insert(at, end)
        kept.insert(at, item)
    return kept


def _longest_then_first(span: Span) -> Span:
    start, end = span
    return start - end, start


def _itself(span: Span) -> Span:
    return span
