"""Precision and recall of country and organisation entities on hand-labelled articles.

The labels (``quality_labels.yaml``: article ids of ``../shared/corpus/news`` and what each
article names, with the labelling rules in its header) were made by reading the texts, not
from the enricher's output. The articles are enriched through the enricher core, exactly as
the service does, and compared per kind, micro-averaged over (article, entity) pairs.
Targets: countries >= 0.95 precision and recall, organisations >= 0.9.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from schemas import ArticlePublished
from services.enricher import Enricher
from services.enricher.settings import build_enricher

LABELS = Path(__file__).with_name("quality_labels.yaml")
TARGETS = {"country": 0.95, "organisation": 0.9}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, article: str, expected: set[str], found: set[str]) -> None:
        self.tp += len(expected & found)
        self.fp += len(found - expected)
        self.fn += len(expected - found)
        if found != expected:
            extra, missing = sorted(found - expected), sorted(expected - found)
            self.errors.append(f"{article}: false {extra}, missed {missing}")


def load_labels() -> dict[str, dict[str, list[str]]]:
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def load_records(corpus: Path, ids: set[str]) -> dict[str, dict[str, object]]:
    records: dict[str, dict[str, object]] = {}
    for path in sorted((corpus / "news").glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                # cheap pre-filter: the id is the first field of every record
                if line[7 : line.index('"', 7)] not in ids:
                    continue
                record = json.loads(line)
                records[record["id"]] = record
    return records


def article(record: dict[str, object]) -> ArticlePublished:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    lang = record.get("lang")
    return ArticlePublished(
        article_id=str(record["id"]),
        title=str(record.get("title") or ""),
        text=str(record.get("body") or ""),
        published_at=when,
        fetched_at=when,
        source_id="corpus",
        language_hint=lang if isinstance(lang, str) else None,
        content_hash="-",
    )


def evaluate(enricher: Enricher, corpus: Path) -> dict[str, Score]:
    labels = load_labels()
    records = load_records(corpus, set(labels))
    missing = set(labels) - set(records)
    assert not missing, f"labelled ids not in the corpus: {sorted(missing)}"
    scores = {"country": Score(), "organisation": Score()}
    for article_id, label in labels.items():
        enriched = enricher.enrich_article(article(records[article_id]))
        countries = {e.id.split(":", 1)[1] for e in enriched.entities if e.kind == "country"}
        orgs = {e.id for e in enriched.entities if e.kind == "organisation"}
        scores["country"].add(article_id, set(label.get("countries") or ()), countries)
        scores["organisation"].add(article_id, set(label.get("orgs") or ()), orgs)
    return scores


def test_labels_are_well_formed() -> None:
    labels = load_labels()
    assert len(labels) >= 150
    assert sum(1 for i in labels if i.startswith("ru-")) >= 30
    for article_id, label in labels.items():
        assert set(label) <= {"countries", "orgs"}, article_id
        for code in label.get("countries") or ():
            assert len(code) == 2 and code.isupper(), (article_id, code)
        for org in label.get("orgs") or ():
            assert org.startswith("org:"), (article_id, org)


def test_precision_and_recall_per_kind(corpus: Path) -> None:
    scores = evaluate(build_enricher(), corpus)
    report = []
    for kind, score in scores.items():
        report.append(
            f"{kind}: precision {score.precision:.3f} recall {score.recall:.3f} "
            f"(tp {score.tp}, fp {score.fp}, fn {score.fn})"
        )
    summary = "\n".join(report)
    errors = "\n".join(e for s in scores.values() for e in s.errors)
    for kind, target in TARGETS.items():
        score = scores[kind]
        assert score.precision >= target and score.recall >= target, f"{summary}\n{errors}"
    print(summary)  # shown with -s; the report quotes these figures


if __name__ == "__main__":  # python tests/unit/enricher/test_quality.py: print the figures
    import os

    root = Path(os.environ.get("TOCSIN_CORPUS", Path(__file__).parents[4] / "shared" / "corpus"))
    for kind, s in evaluate(build_enricher(), root).items():
        print(f"{kind}: P {s.precision:.3f} R {s.recall:.3f} tp {s.tp} fp {s.fp} fn {s.fn}")
        for error in s.errors:
            print("  ", error)
