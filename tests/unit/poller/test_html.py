"""The fast path of ``html_to_text`` (simple markup, no tree) gives exactly what the lxml
path gives, on generated fragments and on every summary and content in the corpus feeds."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import feedparser
import pytest

from services.poller.parsers.html import _simple_markup_to_text, _tree_to_text, html_to_text

PARTS = [
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    '<div class="x">',
    "</div>",
    "<b>",
    "</b>",
    "<em>",
    "</em>",
    '<a href="https://e.org/?a=1&amp;b=2">',
    "</a>",
    "<span>",
    "</span>",
    "<li>",
    "<ul>",
    "</ul>",
    "<P>",
    "<h2>",
    "</h2>",
    " ",
    "  ",
    "\n",
    "\t",
    "\u00a0",
    "Tbilisi",
    "talks",
    "A&amp;B",
    "&lt;x&gt;",
    "&quot;q&quot;",
    "&#8217;",
    "&#x41;",
    "&#150;",
    "&#0;",
    "&nbsp;",
    "&apos;",
    "&copy",
    "a < b",
    "x>y",
    "<!-- c -->",
    "<script>bad()</script>",
    "<img src=x>",
    "<p/>",
    "caf\u00e9",
    "\u202e",
    "\x07",
]


def test_fast_path_matches_lxml_on_generated_fragments() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(20_000):
        value = "".join(rng.choice(PARTS) for _ in range(rng.randint(1, 9)))
        fast = _simple_markup_to_text(value)
        if fast is None:
            continue
        checked += 1
        assert fast == _tree_to_text(value), repr(value)
    assert checked > 1_000  # the fast path is really exercised
    for a, b in itertools.product(PARTS, repeat=2):
        fast = _simple_markup_to_text(a + b)
        if fast is not None:
            assert fast == _tree_to_text(a + b), repr(a + b)


def test_fast_path_refuses_what_it_cannot_read() -> None:
    for value in ["<script>x</script>", "<!-- c -->t", "<img src=x>", "a < b <p>", "&nbsp;<p>"]:
        assert _simple_markup_to_text(value) is None, value
    assert html_to_text("<script>alert(1)</script><p>Hi</p>") == "Hi"


def test_control_characters_do_not_break_the_tree_path() -> None:
    assert html_to_text("<img src=x><p>x</p>\x07<p>a\x00b</p>") == "x\nab"


def test_fast_path_matches_lxml_on_corpus_feeds(corpus: Path) -> None:
    checked = 0
    for path in sorted((corpus / "feeds").rglob("*")):
        if not path.is_file() or path.name == "MANIFEST.jsonl" or "/test/output/" in str(path):
            continue
        result = feedparser.parse(path.read_bytes(), sanitize_html=False)
        for entry in result.get("entries", []):
            values = [entry.get("summary"), entry.get("title")]
            values += [c.get("value") for c in entry.get("content", []) if isinstance(c, dict)]
            for value in values:
                if isinstance(value, str) and "<" in value:
                    fast = _simple_markup_to_text(value)
                    if fast is not None:
                        checked += 1
                        assert fast == _tree_to_text(value), (path.name, value[:200])
    assert checked > 20


@pytest.mark.parametrize("depth", [300, 3000])
@pytest.mark.parametrize("tag", ["div", "b", "font"])
def test_text_nested_deeper_than_libxml2_reads_by_default_is_kept(tag: str, depth: int) -> None:
    html = (
        "<p>lead</p>"
        + f"<{tag}>" * depth
        + "Armenia and Azerbaijan"
        + f"</{tag}>" * depth
        + "<p>tail &amp; more</p>"
    )
    text = html_to_text(html)
    assert text.split() == ["lead", "Armenia", "and", "Azerbaijan", "tail", "&", "more"]
