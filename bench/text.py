"""Throughput of ``services.text.analyse`` over the news corpus, and its cost per alias.

Runs ``analyse()`` over ``news/*.jsonl`` of the shared corpus (``$TOCSIN_CORPUS`` or
``../shared/corpus`` beside the repository) and prints articles/s and MB/s on one core,
then the same with the bundled gazetteer padded with 50,000 extra aliases, and the ratio
(padded / default; the target is >= 0.5: the automaton keeps the cost flat). Last, the
cost per character of a long article dense with names (places and a surname, 200,000
characters: the poller's cap) against the same list at 20,000 characters: with the choice
among overlapping names linear, the ratio stays near 1 (it was 8.6, and 29 us per
character at 200,000, on a list of places alone, when each name was checked against every
name kept).

    python bench/text.py [--limit N] [--padding 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import corpus  # bench/corpus.py

from services.text import Analyser, Entry, Gazetteer, default_gazetteer
from services.text.gazetteer import Alias


def load_articles(limit: int) -> list[tuple[str, str, str | None]]:
    """(title, body, language) of the corpus's news in ``corpus.shuffled`` order."""
    articles: list[tuple[str, str, str | None]] = []
    for line in corpus.shuffled(limit):
        record = json.loads(line)
        title, body = record.get("title") or "", record.get("body") or ""
        articles.append((title, body, record.get("lang")))
    return articles


def padded(base: Gazetteer, count: int) -> Gazetteer:
    rng = random.Random(11)
    letters = string.ascii_lowercase
    aliases = []
    for _ in range(count):
        words = [
            "".join(rng.choice(letters) for _ in range(rng.randint(5, 10)))
            for _ in range(rng.randint(1, 2))
        ]
        aliases.append(Alias(" ".join(words).title(), rng.choice(["en", "ru", "fr"])))
    entries = [
        Entry(id=f"place:pad-{i}", kind="place", name=a.text, aliases=(a,))
        for i, a in enumerate(aliases)
    ]
    return Gazetteer(entries=base.entries + tuple(entries), ignore=base.ignore, tags=base.tags)


def run(analyser: Analyser, articles: list[tuple[str, str, str | None]]) -> tuple[float, float]:
    for title, body, lang in articles[:200]:  # warm-up
        analyser.analyse(title, body, lang)
    size = sum(len((t + "\n\n" + b).encode()) for t, b, _ in articles)
    start = time.perf_counter()
    for title, body, lang in articles:
        analyser.analyse(title, body, lang)
    elapsed = time.perf_counter() - start
    return len(articles) / elapsed, size / elapsed / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="articles to use (0 = all)")
    parser.add_argument("--padding", type=int, default=50_000, help="extra aliases")
    args = parser.parse_args()
    corpus.news_or_skip("text")
    articles = load_articles(args.limit)
    base = default_gazetteer()
    t0 = time.perf_counter()
    default = Analyser(base)
    build_default = time.perf_counter() - t0
    rate, mbs = run(default, articles)
    mean = sum(len(t) + len(b) for t, b, _ in articles) / len(articles)
    print(f"articles: {len(articles)}, mean {mean:.0f} chars")
    print(f"default gazetteer: {default.pattern_count} keys (built in {build_default:.2f} s)")
    print(f"  {rate:,.0f} articles/s, {mbs:.2f} MB/s")
    t0 = time.perf_counter()
    big = Analyser(padded(base, args.padding))
    build_big = time.perf_counter() - t0
    rate_big, mbs_big = run(big, articles)
    print(f"padded (+{args.padding:,} aliases): {big.pattern_count} keys", end="")
    print(f" (built in {build_big:.2f} s)")
    print(f"  {rate_big:,.0f} articles/s, {mbs_big:.2f} MB/s")
    print(f"ratio padded/default: {rate_big / rate:.2f} (target >= 0.5)")
    short, long = dense_list(default, 20_000), dense_list(default, 200_000)
    print(
        f"a list of names: {short:.2f} us per character at 20,000 characters, {long:.2f} at "
        f"200,000 (ratio {long / short:.2f}; linear: near 1)"
    )
    return 0


def dense_list(analyser: Analyser, chars: int) -> float:
    """Microseconds per character to analyse ``chars`` characters of names, best of 3."""
    unit = "Armenia, Azerbaijan, South Ossetia, the farmer Elchin Aliyev; "
    text = (unit * (chars // len(unit) + 1))[:chars]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        analyser.analyse("", text, "en")
        best = min(best, time.perf_counter() - start)
    return best / chars * 1e6


if __name__ == "__main__":
    raise SystemExit(main())
