"""``keep_longest``, the one choice among overlapping matches that the enricher's names, a
rule's terms and the rules' term probes share: the longest wins, then the first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.text import TermMatcher, analyse
from services.text.spans import keep_longest

Span = tuple[int, int]


def reference(spans: list[Span]) -> list[Span]:
    """The rule as stated, checking every kept span (what the three callers used to do)."""
    kept: list[Span] = []
    for start, end in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if not any(start < e and s < end for s, e in kept):
            kept.append((start, end))
    return sorted(kept)


spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 12)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=40,
)


@given(spans)
def test_the_choice_is_the_rule_as_stated(given_spans: list[Span]) -> None:
    assert keep_longest(given_spans) == reference(given_spans)


def test_longest_then_first_and_touching_spans_both_kept() -> None:
    assert keep_longest([(4, 6), (0, 3), (2, 9), (9, 12), (12, 14), (1, 3)]) == [
        (2, 9),
        (9, 12),
        (12, 14),
    ]
    assert keep_longest([(2, 6), (0, 4)]) == [(0, 4)]


def test_items_sharing_a_span_keep_the_first_given() -> None:
    items = [("b", (5, 8)), ("a", (0, 3)), ("a2", (0, 3)), ("long", (2, 6))]
    assert keep_longest(items, lambda item: item[1]) == [("long", (2, 6))]
    assert keep_longest(items[:3], lambda item: item[1]) == [("a", (0, 3)), ("b", (5, 8))]


def test_every_name_of_a_long_list_is_found_and_every_term() -> None:
    """25,000 mentions in one article: each found, in order, with its offsets (the scan of
    every kept span took minutes here)."""
    text = "Armenia, South Ossetia; " * 12_500
    analysis = analyse("", text, "en")
    found = {hit.id: hit.mentions for hit in analysis.entities}
    armenia = found["country:AM"]
    assert len(armenia) == 12_500
    assert all(text[m.start : m.end] == "Armenia" for m in armenia)
    assert [m.start for m in armenia] == [24 * i for i in range(12_500)]
    ossetia = [hit for hit in analysis.entities if hit.name == "South Ossetia"]
    assert ossetia and len(ossetia[0].mentions) == 12_500, "the longer name wins over Ossetia"
    hits = TermMatcher(["South Ossetia", "Ossetia"]).find(analysis)
    assert [h.term for h in hits] == ["South Ossetia"] * 12_500
