"""``/metrics``: a prometheus-client collector over the read model, the log and this
process's runtime counters. Every name comes from ``services/runtime/metrics.py``.

Counts come from the read model (so they cover the whole pipeline, whichever process did
the work), lag and end offsets from the log, and the projection loop's own counters from
this process's ``Metrics``. A collect runs on the scrape's worker thread; the latency
histogram (a join over every alert) is cached for ``latency_ttl_s``.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from services.api.reader import Reader
from services.eventlog import EventLog
from services.projections import queries
from services.runtime import metrics as m

LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)


def _name(d: m.MetricDef) -> str:
    return d.name.removesuffix("_total") if d.kind == "counter" else d.name


class TocsinCollector(Collector):
    def __init__(
        self,
        reader: Reader,
        log: EventLog,
        topics: list[str],
        runtime: m.Metrics,
        latency_ttl_s: float = 15.0,
    ) -> None:
        self.reader = reader
        self.log = log
        self.topics = topics
        self.runtime = runtime
        self.latency_ttl_s = latency_ttl_s
        self._latency: tuple[float, list[int], float, int] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        conn = self.reader.conn()
        totals = queries.totals(conn)
        for d, value in (
            (m.ARTICLES_PUBLISHED, totals["articles"]),
            (m.ARTICLES_ENRICHED, totals["articles_enriched"]),
            (m.ALERTS_RAISED, totals["alerts"]),
            (m.POLL_ERRORS, totals["poll_errors"]),
            (m.DEADLETTERS, totals["deadletters"]),
        ):
            yield CounterMetricFamily(_name(d), d.help, value=value)
        deliveries = CounterMetricFamily(_name(m.DELIVERIES), m.DELIVERIES.help, labels=["outcome"])
        deliveries.add_metric(["ok"], totals["deliveries_ok"])
        deliveries.add_metric(["failed"], totals["deliveries_failed"])
        yield deliveries
        by_status = GaugeMetricFamily(
            m.ALERTS_BY_STATUS.name, m.ALERTS_BY_STATUS.help, labels=["status"]
        )
        counts = queries.alerts_by_status(conn)
        for status in queries.STATUSES:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        yield from self._log_metrics()
        yield self._latency_histogram(conn)
        yield from self._runtime_metrics()

    def _log_metrics(self) -> Iterator[Metric]:
        ends = self.log.end_offsets(self.topics)
        end = GaugeMetricFamily(m.LOG_END_OFFSET.name, m.LOG_END_OFFSET.help, labels=["topic"])
        per_topic: dict[str, int] = {}
        for tp, offset in ends.items():
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + offset
        for topic, offset in sorted(per_topic.items()):
            end.add_metric([topic], offset)
        yield end
        lag = GaugeMetricFamily(m.CONSUMER_LAG.name, m.CONSUMER_LAG.help, labels=["group", "topic"])
        for group in sorted(self.log.groups()):
            per: dict[str, int] = {}
            for tp, n in self.log.lag(group).items():
                per[tp.topic] = per.get(tp.topic, 0) + n
            for topic, n in sorted(per.items()):
                lag.add_metric([group, topic], n)
        yield lag

    def _latency_histogram(self, conn: object) -> Metric:
        with self._lock:
            cached = self._latency
            if cached is None or time.monotonic() - cached[0] > self.latency_ttl_s:
                rows = (
                    self.reader.conn()
                    .execute(
                        "SELECT al.raised_ms - min(ar.fetched_ms) FROM alerts al"
                        " JOIN alert_articles aa ON aa.alert_id = al.alert_id"
                        " JOIN articles ar ON ar.article_id = aa.article_id GROUP BY al.alert_id"
                    )
                    .fetchall()
                )
                counts = [0] * (len(LATENCY_BUCKETS) + 1)
                total = 0.0
                for (ms,) in rows:
                    seconds = max(0.0, ms / 1000)
                    counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
                    total += seconds
                cached = (time.monotonic(), counts, total, len(rows))
                self._latency = cached
        _, counts, total, _count = cached
        buckets, running = [], 0
        for bound, c in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
            running += c
            buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
        return HistogramMetricFamily(
            m.ALERT_LATENCY.name, m.ALERT_LATENCY.help, buckets=buckets, sum_value=total
        )

    def _runtime_metrics(self) -> Iterator[Metric]:
        values, hists = self.runtime.snapshot()
        for d in m.ALL:
            if d.kind == "counter":
                fam = CounterMetricFamily(_name(d), d.help, labels=list(d.labels))
                rows = [(lv, v) for (name, lv), v in values.items() if name == d.name]
                for lv, v in rows:
                    fam.add_metric([v2 for _, v2 in lv], v)
                if rows:
                    yield fam
            elif d.kind == "histogram" and d is not m.ALERT_LATENCY:
                # count and sum only: the runtime registry keeps no buckets
                fam_h = HistogramMetricFamily(d.name, d.help, labels=list(d.labels))
                rows_h = [(lv, v) for (name, lv), v in hists.items() if name == d.name]
                for lv, (count, total) in rows_h:
                    fam_h.add_metric(
                        [v2 for _, v2 in lv], buckets=[("+Inf", count)], sum_value=total
                    )
                if rows_h:
                    yield fam_h
