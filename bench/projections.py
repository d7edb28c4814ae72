"""Read-model projection cost per article against the number of events per transaction.

Corpus articles are enriched once (``services.text``); their ``article.published`` and
``article.enriched`` events are then folded into a fresh read model (``ReadModel.apply``,
the API's projection) with a commit every k events. In a running pipeline the events
trickle in a few at a time, so without a linger the projection commits every 2 or so
(the baseline, measured in the same run); ``api.projections_linger_s: 0.25`` (off by
default) gathers what arrives within 0.25 s into one transaction. Prints CPU ms per article
(process time, so a noisy neighbour does not count) and the ratio to the baseline.

    python bench/projections.py [--limit 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import corpus  # bench/corpus.py
from rules import enrich, load_records  # bench/rules.py: corpus loading and enrichment

from schemas import CloudEvent, new_event
from services.projections.store import ReadModel


def fold(events: list[CloudEvent], every: int, directory: Path) -> float:
    """CPU seconds to fold ``events`` into a new read model, committing every ``every``."""
    store = ReadModel(directory / f"read-{every}.db")
    started = time.process_time()
    for done, event in enumerate(events, 1):
        store.apply(event)
        if done % every == 0:
            store.commit()
    store.commit()
    used = time.process_time() - started
    store.close()
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()
    corpus.news_or_skip("projections")
    articles = enrich(load_records(args.limit))
    events = []
    for i, enriched in enumerate(articles):
        events.append(new_event(enriched.article, id=f"published-{i}", source="bench"))
        events.append(new_event(enriched, id=f"enriched-{i}", source="bench"))
    print(f"{len(articles)} corpus articles, {len(events)} events")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = None
        for every in (2, 10, 50, 500):
            per_article = fold(events, every, Path(tmp)) * 1000 / len(articles)
            baseline = baseline or per_article
            label = " (baseline: events trickling in)" if every == 2 else ""
            print(
                f"commit every {every:>3} events: {per_article:.3f} CPU ms per article, "
                f"ratio {per_article / baseline:.2f}{label}"
            )


if __name__ == "__main__":
    main()
