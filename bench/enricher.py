"""Throughput of the enricher over the news corpus: the core, the service, the padded gazetteer.

Prints, on one core:

1. baseline: JSON parsing + lower-casing + one Aho-Corasick pass with 5,000 aliases over
   the same records (the issue's "~77,000 articles/s" reference), measured in this run;
2. core: ``Enricher.enrich(event)`` over ready ``article.published`` events (no decoding),
   articles/s and MB/s, and its ratio to the baseline (target >= 5,000 articles/s);
3. padded: the same with the bundled gazetteer plus 50,000 random aliases, and the ratio
   padded / default (target >= 0.5: the automaton keeps the cost flat);
4. service: the enricher service on a SQLite log in a temporary directory (published ->
   enriched: decode, enrich, encode, append and commit in batches);
5. peak RSS of the process.

Baseline and core rates are per CPU second of this process, best of ``REPEAT`` passes.

    python bench/enricher.py [--limit N] [--service-limit N] [--padding 50000]

The corpus is ``$TOCSIN_CORPUS`` or ``../shared/corpus`` beside the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import string
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ahocorasick
import corpus  # bench/corpus.py

from schemas import ArticlePublished, CloudEvent, new_event
from schemas.ids import article_id, content_hash
from services.enricher import Enricher, enricher_version
from services.enricher.runner import build
from services.eventlog.codec import encode
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.service import ServiceContext
from services.runtime.settings import RuntimeSettings, Settings
from services.text import Analyser, Entry, Gazetteer, default_analyser, default_gazetteer
from services.text.gazetteer import Alias

WHEN = datetime(2024, 1, 1, tzinfo=UTC)
#: Timed passes for the baseline and the core; the best is kept. Rates are per CPU second
#: of this process (``time.process_time``), so other work on a shared machine does not
#: count against them; the service is timed on the wall clock (it waits on SQLite).
REPEAT = 3


def to_event(record: dict[str, object]) -> CloudEvent:
    ident = article_id(guid=str(record["id"]), source_id="corpus")
    title = str(record.get("title") or "")
    body = str(record.get("body") or "")
    lang = record.get("lang")
    payload = ArticlePublished(
        article_id=ident,
        guid=str(record["id"]),
        title=title or "(untitled)",
        text=body,
        published_at=WHEN,
        fetched_at=WHEN,
        source_id="corpus",
        language_hint=lang if isinstance(lang, str) else None,
        content_hash=content_hash(title, body),
    )
    return new_event(payload, id=ident, source="/bench", subject=ident, time=WHEN)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(lines: list[str], aliases: list[str]) -> float:
    """JSON parsing + lower-casing + one Aho-Corasick pass: articles/s."""
    automaton = ahocorasick.Automaton()
    for index, alias in enumerate(aliases):
        automaton.add_word(alias, index)
    automaton.make_automaton()
    best = 0.0
    for _ in range(REPEAT):
        start = time.process_time()
        hits = 0
        for line in lines:
            record = json.loads(line)
            text = f"{record.get('title') or ''}\n\n{record.get('body') or ''}".lower()
            for _ in automaton.iter(text):
                hits += 1
        best = max(best, len(lines) / (time.process_time() - start))
    return best


def baseline_aliases(analyser: Analyser, count: int = 5000) -> list[str]:
    """5,000 lower-case aliases: the gazetteer's ASCII keys, topped up with random words.

    ASCII keys only, so the baseline automaton is the fastest one can build for these texts
    (a conservative reference for the ratio)."""
    keys = sorted(key for key in analyser.matcher._patterns if key.isascii())
    rng = random.Random(3)
    while len(keys) < count:
        keys.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))))
    return rng.sample(keys, count)


def run_core(enricher: Enricher, events: list[CloudEvent], size: int) -> tuple[float, float]:
    for event in events[:300]:  # warm-up (the language model loads lazily)
        enricher.enrich(event)
    elapsed = float("inf")
    for _ in range(REPEAT):
        start = time.process_time()
        for event in events:
            enricher.enrich(event)
        elapsed = min(elapsed, time.process_time() - start)
    return len(events) / elapsed, size / elapsed / 1e6


def padded(base: Gazetteer, count: int) -> Gazetteer:
    rng = random.Random(11)
    letters = string.ascii_lowercase
    entries = []
    for i in range(count):
        words = [
            "".join(rng.choice(letters) for _ in range(rng.randint(5, 10)))
            for _ in range(rng.randint(1, 2))
        ]
        alias = Alias(" ".join(words).title(), rng.choice(["en", "ru", "fr"]))
        entries.append(Entry(id=f"place:pad-{i}", kind="place", name=alias.text, aliases=(alias,)))
    return Gazetteer(entries=base.entries + tuple(entries), ignore=base.ignore, tags=base.tags)


def run_service(events: list[CloudEvent], size: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            log=f"sqlite:///{tmp}/bench.db", runtime=RuntimeSettings(poll_timeout_s=0.05)
        )
        with open_event_log(settings) as log:
            name = topic(settings, "articles.published")
            messages = [encode(e, topic=name, key=e.data.article_id) for e in events]
            for i in range(0, len(messages), 1000):
                log.append(messages[i : i + 1000])
            service = build(ServiceContext(settings=settings, log=log))
            start, cpu = time.perf_counter(), time.process_time()
            service.run_until_idle()
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            enriched = sum(log.end_offsets([topic(settings, "articles.enriched")]).values())
    assert enriched == len(events), f"{enriched} enriched of {len(events)}"
    return len(events) / elapsed, size / elapsed / 1e6, len(events) / cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="articles for the core (0 = all)")
    parser.add_argument("--service-limit", type=int, default=5000, help="articles for the service")
    parser.add_argument("--padding", type=int, default=50_000, help="extra aliases")
    args = parser.parse_args()
    corpus.news_or_skip("enricher")
    lines = corpus.shuffled(args.limit)
    events = [to_event(json.loads(line)) for line in lines]
    size = sum(len(e.data.title.encode()) + len(e.data.text.encode()) + 2 for e in events)
    print(f"articles: {len(events):,} ({size / 1e6:.1f} MB of title + text)")

    analyser = default_analyser()
    aliases = baseline_aliases(analyser)
    base_rate = baseline(lines, aliases)
    print(f"baseline (json + lower + Aho-Corasick, {len(aliases):,} aliases): {base_rate:,.0f}/s")

    enricher = Enricher(analyser, enricher_version(analyser.gazetteer))
    rate, mbs = run_core(enricher, events, size)
    print(f"core, default gazetteer ({analyser.pattern_count:,} keys):")
    print(f"  {rate:,.0f} articles/s, {mbs:.2f} MB/s (target >= 5,000/s)")
    print(f"  ratio to baseline: {rate / base_rate:.3f}; peak RSS {peak_rss_mb():.0f} MB")

    t0 = time.perf_counter()
    big = Analyser(padded(default_gazetteer(), args.padding))
    built = time.perf_counter() - t0
    rate_big, mbs_big = run_core(Enricher(big, "bench-padded"), events, size)
    print(
        f"core, padded (+{args.padding:,} aliases, {big.pattern_count:,} keys, built {built:.1f} s):"
    )
    print(f"  {rate_big:,.0f} articles/s, {mbs_big:.2f} MB/s")
    print(f"  ratio padded/default: {rate_big / rate:.2f} (target >= 0.5)")
    del big

    subset = events[: args.service_limit] if args.service_limit else events
    sub_size = sum(len(e.data.title.encode()) + len(e.data.text.encode()) + 2 for e in subset)
    s_rate, s_mbs, s_cpu = run_service(subset, sub_size)
    print(f"service on sqlite ({len(subset):,} articles, published -> enriched, wall clock):")
    print(f"  {s_rate:,.0f} articles/s, {s_mbs:.2f} MB/s ({s_cpu:,.0f} per CPU second)")
    print(f"  ratio to baseline {s_rate / base_rate:.3f}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
