"""Rule evaluation throughput (articles/s) with 10, 1,000 and 10,000 rules, and the default pack.

Enriches a few thousand articles of the shared corpus once (``services.text``), turns each
into a decoded ``ArticleEnriched`` (JSON round trip, as the consumer receives it), then
times ``Evaluator.matches`` over them: the default pack, then rule sets generated from the
gazetteer, shaped like analysts' rules: two entities together (plus a tag, or without a
third entity), or an entity and border terms; scopes article, sentence and within N words.
Each line also prints the matches found, since every true match costs its evidence. Also times ``Engine.process`` (alerts,
windows, stories) with the default pack.

Targets: >= 20,000 articles/s with the default pack; 10,000 rules at no less than a third
of the throughput of 10 (the index keeps the work per article flat). Each figure is the
median of three timed runs in this process (the machine is shared and noisy).

About the generated sets (unchanged, so that figures stay comparable): one generator for
10, 1,000 and 10,000 rules. A quarter of the rules pair an entity with the same two terms
("border", "clash*"), which makes the 10,000-rule set fire far more than the 10-rule set
(about 1.4 matches per article against 0.0003): most of the work at 10,000 rules is true
matches and their evidence, which no index can skip. Varied terms would be more realistic
and would fire less, i.e. be easier; it was not done for that reason.

    python bench/rules.py [--limit 3000] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import corpus  # bench/corpus.py

from schemas import ArticleEnriched, ArticlePublished
from schemas.ids import article_id, content_hash
from services.rules import Engine, Evaluator, RuleSet, load_rules, parse_rules
from services.text import analyse, default_gazetteer, enriched_fields


def load_records(limit: int) -> list[dict[str, str]]:
    """Round-robin over the news files, so every source dataset is represented."""
    return [json.loads(line) for line in corpus.round_robin(limit)]


def enrich(records: list[dict[str, str]]) -> list[ArticleEnriched]:
    out = []
    for i, record in enumerate(records):
        title, body = record.get("title") or "", record.get("body") or ""
        published = "2022-11-29T09:00:00+00:00"
        article = ArticlePublished(
            article_id=article_id(url=f"https://bench.example/{record['id']}"),
            url=f"https://bench.example/{record['id']}",
            title=title,
            text=body,
            published_at=published,  # type: ignore[arg-type]
            fetched_at=published,  # type: ignore[arg-type]
            source_id=f"src-{i % 20}",
            content_hash=content_hash(title, body),
        )
        event = ArticleEnriched(
            article=article,
            enricher_version="bench",
            **enriched_fields(analyse(title, body, record.get("lang"))),
        )
        out.append(ArticleEnriched.model_validate_json(event.model_dump_json()))
    return out


def generated(count: int, seed: int = 1, terms: bool = True) -> RuleSet:
    rng = random.Random(seed)
    gazetteer = default_gazetteer()
    entities = [e.id for e in gazetteer.entries]
    tags = [t.id for t in gazetteer.tags]
    scopes = ["", "    scope: sentence\n", "    scope: {within_words: 25}\n"]
    lines = ["rules:"]
    for i in range(count):
        a, b, c = rng.sample(entities, 3)
        shape = i % (4 if terms else 3)
        if shape == 0:
            when = f"{{all: [{{entity: {a}}}, {{entity: {b}}}]}}"
        elif shape == 1:
            when = f"{{all: [{{entity: {a}}}, {{entity: {b}}}, {{tag: {rng.choice(tags)}}}]}}"
        elif shape == 2:
            when = f"{{all: [{{entity: {a}}}, {{entity: {b}}}, {{none: [{{entity: {c}}}]}}]}}"
        else:
            when = f"{{all: [{{entity: [{a}, {b}]}}, {{terms: [border, clash*]}}]}}"
        lines.append(
            f"  - id: gen-{i}\n    title: generated {i}\n    when: {when}\n{rng.choice(scopes)}"
        )
    return RuleSet(tuple(parse_rules("\n".join(lines) + "\n", "generated")))


def rate(
    work: Callable[[ArticleEnriched], object],
    articles: list[ArticleEnriched],
    seconds: float,
    runs: int = 3,
) -> float:
    """Articles per second: the median of ``runs`` timed runs of ``seconds`` each."""
    rates = []
    for _ in range(runs):
        done, started = 0, time.perf_counter()
        while True:
            for article in articles:
                work(article)
            done += len(articles)
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                rates.append(done / elapsed)
                break
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    corpus.news_or_skip("rules")
    started = time.perf_counter()
    articles = enrich(load_records(args.limit))
    with_entities = sum(1 for a in articles if a.entities)
    print(
        f"enriched {len(articles)} corpus articles once in {time.perf_counter() - started:.1f} s "
        f"({with_entities} name a gazetteer entity)"
    )
    default = Evaluator(load_rules(["default"]))
    fired = sum(1 for a in articles if default.matches(a))
    default_rate = rate(default.matches, articles, args.seconds)
    print(
        f"default pack ({len(default.rules)} rules): {default_rate:,.0f} articles/s "
        f"(target >= 20,000: {default_rate / 20_000:.2f}x); {fired} articles fire a rule"
    )
    engine_rate = rate(Engine(load_rules(["default"])).process, articles, args.seconds)
    print(f"default pack, Engine.process (alerts, stories): {engine_rate:,.0f} articles/s")
    rates = {}
    for count in (10, 1_000, 10_000):
        t0 = time.perf_counter()
        evaluator = Evaluator(generated(count))
        build_s = time.perf_counter() - t0
        matches = sum(len(evaluator.matches(a)) for a in articles)
        rates[count] = rate(evaluator.matches, articles, args.seconds)
        print(
            f"{count:>6,} generated rules: {rates[count]:,.0f} articles/s "
            f"({matches} matches over the set; loaded and indexed in {build_s:.1f} s)"
        )
    ratio = rates[10_000] / rates[10]
    print(f"ratio 10,000 rules / 10 rules: {ratio:.2f} (target >= 0.33)")
    print(f"ratio 1,000 rules / 10 rules: {rates[1_000] / rates[10]:.2f}")
    # The same without term conditions: what the index alone costs. With terms, an article
    # naming the entity of a rule with terms is folded and scanned once, by one automaton
    # holding every term of the rule set.
    plain = {}
    for count in (10, 10_000):
        evaluator = Evaluator(generated(count, terms=False))
        plain[count] = rate(evaluator.matches, articles, args.seconds)
        print(f"{count:>6,} generated rules without terms: {plain[count]:,.0f} articles/s")
    print(f"ratio without terms 10,000 / 10: {plain[10_000] / plain[10]:.2f}")


if __name__ == "__main__":
    main()
