"""Every metric Tocsin reports, declared in one place, and a small thread-safe registry.

Services count through ``Metrics.inc`` / ``Metrics.observe`` with a definition from this
module, never a free-form name, so the list below is the complete catalogue (the API's
Prometheus endpoint and the Grafana dashboard are built from it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    kind: Literal["counter", "gauge", "histogram"]
    help: str
    labels: tuple[str, ...] = ()


RECORDS_CONSUMED = MetricDef(
    "tocsin_records_consumed_total",
    "counter",
    "records a consumer processed and committed",
    ("group", "topic"),
)
RECORDS_PRODUCED = MetricDef(
    "tocsin_records_produced_total",
    "counter",
    "records appended by a consumer's batches",
    ("group", "topic"),
)
DEADLETTERED = MetricDef(
    "tocsin_records_deadlettered_total",
    "counter",
    "records sent to the dead-letter topic",
    ("group", "error"),
)
RETRIES = MetricDef(
    "tocsin_retries_total",
    "counter",
    "operations retried after a transient error",
    ("group", "operation"),
)
REBALANCES = MetricDef(
    "tocsin_rebalances_total", "counter", "batches dropped because a partition moved", ("group",)
)
BATCH_SECONDS = MetricDef(
    "tocsin_batch_seconds", "histogram", "time to process and commit one batch", ("group",)
)

# The read side: what the API's /metrics reports from the read model and the log itself
# (services/api/metrics.py), so they count the whole pipeline, whichever process did it.
ARTICLES_PUBLISHED = MetricDef(
    "tocsin_articles_published_total", "counter", "articles published on the log"
)
ARTICLES_ENRICHED = MetricDef("tocsin_articles_enriched_total", "counter", "articles enriched")
ALERTS_RAISED = MetricDef("tocsin_alerts_raised_total", "counter", "alerts raised (distinct ids)")
ALERTS_BY_STATUS = MetricDef("tocsin_alerts", "gauge", "alerts by status", ("status",))
DELIVERIES = MetricDef(
    "tocsin_deliveries_total", "counter", "delivery outcomes (ok, failed)", ("outcome",)
)
POLL_ERRORS = MetricDef("tocsin_poll_errors_total", "counter", "polls that ended in an error")
DEADLETTERS = MetricDef("tocsin_deadletters_total", "counter", "records on the dead-letter topic")
CONSUMER_LAG = MetricDef(
    "tocsin_consumer_lag", "gauge", "records a group has yet to process", ("group", "topic")
)
LOG_END_OFFSET = MetricDef(
    "tocsin_log_end_offset", "gauge", "next offset of a topic, summed over partitions", ("topic",)
)
ALERT_LATENCY = MetricDef(
    "tocsin_alert_latency_seconds",
    "histogram",
    "from an article's arrival on the log to the first raise of an alert on it",
)

ALL: tuple[MetricDef, ...] = (
    RECORDS_CONSUMED,
    RECORDS_PRODUCED,
    DEADLETTERED,
    RETRIES,
    REBALANCES,
    BATCH_SECONDS,
    ARTICLES_PUBLISHED,
    ARTICLES_ENRICHED,
    ALERTS_RAISED,
    ALERTS_BY_STATUS,
    DELIVERIES,
    POLL_ERRORS,
    DEADLETTERS,
    CONSUMER_LAG,
    LOG_END_OFFSET,
    ALERT_LATENCY,
)

LabelValues = tuple[tuple[str, str], ...]


class Metrics:
    """Counters and (count, sum) histograms keyed by definition and label values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, LabelValues], float] = {}
        self._hist: dict[tuple[str, LabelValues], tuple[int, float]] = {}

    @staticmethod
    def _key(metric: MetricDef, labels: dict[str, str]) -> tuple[str, LabelValues]:
        if set(labels) != set(metric.labels):
            raise ValueError(f"{metric.name} takes labels {metric.labels}, not {tuple(labels)}")
        return metric.name, tuple(sorted(labels.items()))

    def inc(self, metric: MetricDef, value: float = 1.0, **labels: str) -> None:
        key = self._key(metric, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + value

    def observe(self, metric: MetricDef, value: float, **labels: str) -> None:
        key = self._key(metric, labels)
        with self._lock:
            count, total = self._hist.get(key, (0, 0.0))
            self._hist[key] = (count + 1, total + value)

    def value(self, metric: MetricDef, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(metric, labels), 0.0)

    def total(self, metric: MetricDef) -> float:
        """The sum over every label combination."""
        with self._lock:
            return sum(v for (name, _), v in self._values.items() if name == metric.name)

    def snapshot(
        self,
    ) -> tuple[
        dict[tuple[str, LabelValues], float], dict[tuple[str, LabelValues], tuple[int, float]]
    ]:
        """Copies of every counter and histogram (for an exporter)."""
        with self._lock:
            return dict(self._values), dict(self._hist)

    def histogram(self, metric: MetricDef, **labels: str) -> tuple[int, float]:
        with self._lock:
            return self._hist.get(self._key(metric, labels), (0, 0.0))
