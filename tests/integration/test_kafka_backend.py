"""Kafka-only behaviour of the event log, against a real broker (Tansu, or TOCSIN_TEST_KAFKA).

The shared contract suite proves the semantics every backend keeps; these tests cover what
only the Kafka backend has: URL options, a broker that is down, metadata checks the broker
would otherwise skip (auto-creation), kafka-python's partitioner, group membership across
two processes' worth of consumers, and the broker quirks the backend has to absorb.

Data is shaped around Tansu's documented bugs (one record per append where end offsets or
timestamps matter); where a case meets a bug it is marked ``xfail(strict=True)`` for Tansu
only, so it fails loudly the day the broker is fixed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from eventlog_helpers import settle_apart
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.partitioner import DefaultPartitioner
from kafka_broker import ENV_VAR, kafka_test_url

from schemas import CloudEvent
from services.eventlog import (
    FatalError,
    Message,
    NewTopic,
    RebalanceError,
    RetryableError,
    TopicPartition,
    UnknownTopicError,
    open_log,
)
from services.eventlog.base import Consumer, Record, partition_for_key
from services.eventlog.kafka import KafkaLog, parse_options, redact_url

pytestmark = pytest.mark.kafka

ON_TANSU = not os.environ.get(ENV_VAR, "").strip()
tansu_bug = pytest.mark.xfail  # spelled out per test below, with the bug as the reason

TopicFactory = Callable[..., str]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka_log(kafka_bootstrap: str) -> Iterator[KafkaLog]:
    log = open_log(kafka_test_url(kafka_bootstrap))
    assert isinstance(log, KafkaLog)
    yield log
    log.close()


@pytest.fixture
def new_topic(kafka_log: KafkaLog) -> Iterator[TopicFactory]:
    """Creates uniquely named topics and deletes them at teardown (memory storage never
    frees data)."""
    created: list[str] = []

    def make(partitions: int = 1, *, retention_ms: int | None = None) -> str:
        name = _unique("it")
        assert kafka_log.create_topics([NewTopic(name, partitions, retention_ms)]) == [name]
        created.append(name)
        return name

    yield make
    if created:
        kafka_log.delete_topics(created)


def _poll_until(consumer: Consumer, count: int, timeout_s: float = 10.0) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        records += consumer.poll(timeout_s=0.2)
    return records


# --------------------------------------------------------------------------- options


def test_options_come_from_the_url_and_keyword_arguments_win() -> None:
    options = parse_options(
        "kafka://h1:9093,h2?idempotent=false&linger_ms=7&compression=gzip&acks=1",
        {"linger_ms": 3, "client_id": "svc"},
    )
    assert options.bootstrap_servers == ("h1:9093", "h2:9092")
    assert options.idempotent is False
    assert options.linger_ms == 3
    assert options.compression == "gzip"
    assert options.acks == 1
    assert options.client_id == "svc"
    defaults = parse_options("kafka://h:9092", {})
    assert (defaults.idempotent, defaults.acks, defaults.linger_ms) == (True, "all", 5)
    assert (defaults.session_timeout_ms, defaults.heartbeat_interval_ms) == (10000, 3000)
    assert (defaults.bootstrap_timeout_ms, defaults.replication_factor) == (10000, 1)
    assert defaults.fetch_max_wait_ms == 500  # Apache Kafka's own default
    assert parse_options("kafka://h:9092?fetch_max_wait_ms=50", {}).fetch_max_wait_ms == 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("TRUE", True), ("false", False), ("0", False), (False, False)],
)
def test_bool_options_parse_strings(text: object, expected: bool) -> None:
    assert parse_options("kafka://h:1", {"idempotent": text, "acks": "all"}).idempotent is expected


@pytest.mark.parametrize(
    ("url", "kwargs", "named"),
    [
        ("kafka://h:9092?linger=5", {}, "linger"),
        ("kafka://h:9092", {"bootstrap_servers": "x:1"}, "bootstrap_servers"),
        ("kafka://h:9092", {"group_id": "g", "max_poll_records": 5}, "group_id, max_poll_records"),
    ],
)
def test_unknown_options_are_refused_by_name(
    url: str, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(FatalError, match=f"unknown kafka option\\(s\\): {named}"):
        open_log(url, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"idempotent": "maybe"}, "idempotent must be true or false"),
        ({"linger_ms": "-1"}, "linger_ms must be >= 0"),
        ({"linger_ms": "soon"}, "linger_ms must be an integer"),
        ({"compression": "brotli"}, "compression must be one of"),
        ({"acks": "2"}, "acks must be all, 1 or 0"),
        ({"idempotent": True, "acks": "1"}, "idempotent Kafka producer needs acks=all"),
        ({"session_timeout_ms": 1000, "heartbeat_interval_ms": 1000}, "must be below"),
        ({"fetch_max_wait_ms": "-5"}, "fetch_max_wait_ms must be >= 0"),
        (
            {"fetch_max_wait_ms": 5000, "request_timeout_ms": 5000},
            "fetch_max_wait_ms must be below request_timeout_ms",
        ),
        ({"replication_factor": 0}, "replication_factor must be >= 1"),
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "needs sasl_plain_user"),
        ({"ssl_cafile": "/nonexistent/ca.pem"}, "no such file"),
    ],
)
def test_bad_option_values_are_fatal_before_connecting(
    options: dict[str, object], message: str
) -> None:
    started = time.monotonic()
    with pytest.raises(FatalError, match=message):
        open_log("kafka://127.0.0.1:1", **options)
    assert time.monotonic() - started < 0.5  # refused before any connection attempt


def test_replication_factor_minus_one_means_broker_default() -> None:
    assert parse_options("kafka://h:1?replication_factor=-1", {}).replication_factor == -1


def test_password_is_never_shown() -> None:
    url = "kafka://h:9092?security_protocol=SASL_SSL&sasl_mechanism=PLAIN&sasl_plain_username=u"
    options = parse_options(url, {"sasl_plain_password": "hunter2"})
    assert options.sasl_plain_password == "hunter2"
    assert "hunter2" not in repr(options)
    redacted = redact_url(url + "&sasl_plain_password=hunter2")
    assert "hunter2" not in redacted
    assert "sasl_plain_password=***" in redacted
    with pytest.raises(FatalError, match="not in the URL") as caught:
        parse_options("kafka://u:hunter2@h:9092", {})
    assert "hunter2" not in str(caught.value)


# --------------------------------------------------------------------------- broker down


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here once the socket is closed


def test_broker_down_fails_fast_naming_the_address() -> None:
    port = _closed_port()
    threads_before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    with pytest.raises(RetryableError, match=f"127.0.0.1:{port}"):
        open_log(f"kafka://127.0.0.1:{port}?bootstrap_timeout_ms=800&request_timeout_ms=1000")
    elapsed = time.monotonic() - started
    assert 0.7 < elapsed < 3.0
    # kafka-python's half-built client must not leave its I/O thread behind.
    time.sleep(0.1)
    leaked = [
        t for t in threading.enumerate() if t.ident not in threads_before and "kafka" in t.name
    ]
    assert leaked == []


# --------------------------------------------------------------------------- topics


def test_unknown_topic_is_an_error_and_is_not_auto_created(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    existing = new_topic()
    missing = _unique("missing")
    with pytest.raises(UnknownTopicError, match=missing):
        kafka_log.append([Message(existing, b"ok"), Message(missing, b"x")])
    with pytest.raises(UnknownTopicError, match=missing):
        kafka_log.consumer([missing], group=None)
    with pytest.raises(UnknownTopicError):
        kafka_log.end_offsets([missing])
    assert missing not in kafka_log.list_topics()
    # Checked before sending: nothing of the refused batch reached the existing topic.
    assert kafka_log.end_offsets([existing]) == {TopicPartition(existing, 0): 0}


def test_create_topics_is_idempotent_and_sets_partitions_and_retention(
    kafka_log: KafkaLog, kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    name = new_topic(3, retention_ms=3_600_000)
    assert kafka_log.create_topics([NewTopic(name, 3)]) == []
    assert kafka_log.list_topics()[name] == 3
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=5000)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all"
        )
    finally:
        admin.close()
    configs = next(iter(described.values()))[name]
    assert configs["retention.ms"]["value"] == "3600000"
    assert configs["max.message.bytes"]["value"] == str(8 * 1024 * 1024)


def test_an_enriched_long_article_fits(kafka_log: KafkaLog, new_topic: TopicFactory) -> None:
    """3 MB: the enriched event of a 200,000-character article in a three-byte script (its
    text is in it twice, with every sentence and mention). Kafka's 1 MiB default refused it,
    and the refusal stopped the enricher."""
    name = new_topic()
    value = "საქართველო ".encode() * (3_000_000 // 31)
    kafka_log.append([Message(name, value, key=b"article")])
    with kafka_log.consumer([name], group=None) as reader:
        (record,) = _poll_until(reader, 1)
    assert record.value == value


def test_a_record_whose_output_is_over_the_limit_is_dead_lettered_not_fatal(
    kafka_bootstrap: str,
) -> None:
    """The safety net past ``max_message_bytes``: the loop dead-letters the input whose
    output the log would refuse, and goes on with the rest of the batch."""
    from schemas import DeadLetter, new_event
    from services.eventlog.codec import decode, encode
    from services.runtime.loop import ConsumerLoop, Emit, LoopSettings

    url = kafka_test_url(kafka_bootstrap) + f"&max_message_bytes={1024 * 1024}"
    source, out, dlq = _unique("in"), _unique("out"), _unique("dlq")
    with open_log(url) as log:
        assert isinstance(log, KafkaLog)
        log.create_topics([NewTopic(source, 1), NewTopic(out, 1), NewTopic(dlq, 1)])
        try:
            letter = DeadLetter(
                topic="t",
                partition=0,
                offset=0,
                error_class="E",
                reason="r",
                value_b64="",
                failed_at=datetime.now(UTC),
            )
            log.append(
                [
                    encode(new_event(letter, id=i, source="/t"), topic=source, key=i)
                    for i in ("small-1", "huge", "small-2")
                ]
            )

            def copy(event: CloudEvent, record: Record) -> list[Emit]:
                reason = "x" * 1_500_000 if event.id == "huge" else "r"
                data = letter.model_copy(update={"reason": reason})
                return [Emit(out, event.id, new_event(data, id=event.id, source="/t"))]

            loop = ConsumerLoop(
                log,
                group=_unique("g"),
                topics=[source],
                handler=copy,
                deadletter_topic=dlq,
                settings=LoopSettings(batch_size=10, poll_timeout_s=0.2),
            )
            assert loop.run_until_idle() == 3
            loop.close()
            with log.consumer([out], group=None) as reader:
                assert sorted(decode(r).id for r in _poll_until(reader, 2)) == [
                    "small-1",
                    "small-2",
                ]
            with log.consumer([dlq], group=None) as reader:
                (dead,) = [decode(r).data for r in _poll_until(reader, 1)]
            assert isinstance(dead, DeadLetter) and dead.error_class == "RecordTooLarge"
            assert dead.offset == 1 and f"over the event log's limit of {1024 * 1024 - 1024:,}" in (
                dead.reason
            )
        finally:
            log.delete_topics([source, out, dlq])


# --------------------------------------------------------------------------- records


class _Cluster:
    """The slice of kafka-python's ClusterMetadata its DefaultPartitioner reads."""

    def __init__(self, topic: str, partitions: int) -> None:
        self._topic, self._partitions = topic, set(range(partitions))

    def topics(self) -> set[str]:
        return {self._topic}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


def test_keyed_partitioning_equals_kafka_python_and_keyless_spreads(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(5)
    keys = [f"article-{i}".encode() for i in range(40)] + [b"", b"\xff\x00", "Ереван".encode()]
    positions = kafka_log.append([Message(topic, b"v", key=k) for k in keys])
    kafka_partitioner = DefaultPartitioner()
    cluster = _Cluster(topic, 5)
    expected = [kafka_partitioner.partition(topic, k, k, b"v", b"v", cluster) for k in keys]
    assert [p.partition for p in positions] == expected
    assert expected == [partition_for_key(k, 5) for k in keys]
    assert len(set(expected)) == 5  # the keys really do exercise every partition

    keyless = kafka_log.append([Message(topic, b"nokey") for _ in range(10)])
    per_partition = [sum(1 for p in keyless if p.partition == n) for n in range(5)]
    assert per_partition == [2, 2, 2, 2, 2]


def test_headers_keys_and_timestamps_round_trip(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(1)
    headers = (("trace", b"abc"), ("trace", b"def"), ("empty", b""), ("utf", "ü".encode()))
    before = int(time.time() * 1000)
    kafka_log.append([Message(topic, b"\x00\x01", key=b"k", headers=headers, timestamp_ms=1234)])
    kafka_log.append([Message(topic, b"now")])
    after = int(time.time() * 1000)
    with kafka_log.consumer([topic], group=None) as consumer:
        records = _poll_until(consumer, 2)
    assert [r.offset for r in records] == [0, 1]
    first, second = records
    assert (first.key, first.value, first.timestamp_ms) == (b"k", b"\x00\x01", 1234)
    assert first.headers == headers
    assert first.header("trace") == b"abc"
    assert (second.key, second.headers) == (None, ())
    assert before <= second.timestamp_ms <= after


def test_the_fetch_wait_reaches_the_consumer(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    """The one consumer option a deployment may tune for latency on a broker that holds
    fetches (see KafkaOptions.fetch_max_wait_ms); records still arrive with it."""
    topic = new_topic(1)
    with open_log(kafka_test_url(kafka_bootstrap), fetch_max_wait_ms=50) as log:
        log.append([Message(topic, b"v")])
        with log.consumer([topic], group=None, reset="earliest") as consumer:
            assert consumer._consumer.config["fetch_max_wait_ms"] == 50  # type: ignore[attr-defined]
            assert [r.value for r in _poll_until(consumer, 1)] == [b"v"]


def test_reader_without_group_cannot_commit(kafka_log: KafkaLog, new_topic: TopicFactory) -> None:
    topic = new_topic(2)
    kafka_log.append([Message(topic, b"a", key=b"a")])
    with kafka_log.consumer([topic], group=None, reset="earliest") as consumer:
        assert consumer.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
        assert _poll_until(consumer, 1)
        with pytest.raises(FatalError, match="cannot commit"):
            consumer.commit()
        with pytest.raises(FatalError, match="cannot commit"):
            consumer.append_and_commit([Message(topic, b"out")], {TopicPartition(topic, 0): 1})
    assert kafka_log.end_offsets([topic])[TopicPartition(topic, partition_for_key(b"a", 2))] == 1


# --------------------------------------------------------------------------- end offsets, time


def test_end_offsets_and_lag_with_one_record_per_append(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(1)
    tp = TopicPartition(topic, 0)
    for i in range(3):
        kafka_log.append([Message(topic, b"%d" % i)])
    assert kafka_log.end_offsets([topic]) == {tp: 3}
    group = _unique("lag")
    with kafka_log.consumer([topic], group=group) as consumer:
        assert len(_poll_until(consumer, 1)) >= 1
        consumer.commit({tp: 1})
    assert kafka_log.committed(group) == {tp: 1}
    assert kafka_log.lag(group) == {tp: 2}
    assert group in kafka_log.groups()


@pytest.mark.xfail(
    ON_TANSU,
    strict=True,
    reason="Tansu: end offsets are the last batch's base offset + 1, not the next offset",
)
def test_end_offsets_count_every_record_of_a_batch(kafka_bootstrap: str) -> None:
    # linger_ms=200 puts the three records in one batch, deterministically.
    with open_log(kafka_test_url(kafka_bootstrap), linger_ms=200) as log:
        topic = _unique("batch")
        log.create_topics([NewTopic(topic, 1)])
        try:
            positions = log.append([Message(topic, b"%d" % i) for i in range(3)])
            assert [p.offset for p in positions] == [0, 1, 2]
            assert log.end_offsets([topic]) == {TopicPartition(topic, 0): 3}
        finally:
            assert isinstance(log, KafkaLog)
            log.delete_topics([topic])


def test_offsets_for_time_with_one_record_per_append(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(1)
    tp = TopicPartition(topic, 0)
    kafka_log.append([Message(topic, b"early")])
    time.sleep(0.03)
    mark = int(time.time() * 1000)
    time.sleep(0.03)
    kafka_log.append([Message(topic, b"late")])
    time.sleep(0.03)
    assert kafka_log.offsets_for_time(topic, 0) == {tp: 0}
    assert kafka_log.offsets_for_time(topic, mark) == {tp: 1}
    # Past the last record: None, although Tansu answers offset 0 with timestamp -1.
    assert kafka_log.offsets_for_time(topic, int(time.time() * 1000) + 60_000) == {tp: None}


@pytest.mark.xfail(
    ON_TANSU,
    strict=True,
    reason="Tansu: offsets_for_times uses the broker's append time, not record timestamps",
)
def test_offsets_for_time_uses_record_timestamps(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(1)
    kafka_log.append([Message(topic, b"old", timestamp_ms=1_000_000)])
    kafka_log.append([Message(topic, b"newer", timestamp_ms=2_000_000)])
    assert kafka_log.offsets_for_time(topic, 1_500_000) == {TopicPartition(topic, 0): 1}


# --------------------------------------------------------------------------- groups


def test_group_of_two_splits_partitions_and_the_survivor_takes_over(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(2)
    everything = {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    group = _unique("pair")
    first = kafka_log.consumer([topic], group=group)
    second = kafka_log.consumer([topic], group=group)
    try:

        def split() -> bool:
            a, b = first.assignment(), second.assignment()
            return len(a) == 1 and len(b) == 1 and a | b == everything

        # each member polled by a thread of its own, as services drive them: polled in turn
        # from one thread, the pair took over 15 s to settle on a loaded machine
        settle_apart([first, second], split)
        (owned_by_first,) = first.assignment()
        (owned_by_second,) = second.assignment()

        # A key per partition; each member reads only its own partition.
        keys = {partition_for_key(k, 2): k for k in (b"a", b"b", b"c", b"d")}
        for partition in (0, 1):
            kafka_log.append([Message(topic, b"v%d" % partition, key=keys[partition])])
        got_first: list[Record] = []
        got_second: list[Record] = []
        deadline = time.monotonic() + 10
        while (not got_first or not got_second) and time.monotonic() < deadline:
            got_first += first.poll(timeout_s=0.1)  # collect both: a record polled is gone
            got_second += second.poll(timeout_s=0.1)
        assert {r.tp for r in got_first} == {owned_by_first}
        assert {r.tp for r in got_second} == {owned_by_second}

        # Only the second member commits; the first leaves without committing.
        second.commit()
        with pytest.raises(RebalanceError):
            first.commit({owned_by_second: 1})  # not its partition
        first.close()

        deadline = time.monotonic() + 15
        taken_over: list[Record] = []
        while time.monotonic() < deadline and second.assignment() != everything:
            taken_over += second.poll(timeout_s=0.2)
        assert second.assignment() == everything
        taken_over += _poll_until(second, 1, 5.0) if not taken_over else []
        # The survivor re-reads the first member's uncommitted record, not its own committed one.
        assert [(r.tp, r.offset) for r in taken_over] == [(owned_by_first, 0)]
        second.commit()
        assert kafka_log.committed(group) == {owned_by_first: 1, owned_by_second: 1}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("assignor", ["cooperative-sticky", "range"])
def test_a_join_revokes_only_what_moves_with_the_cooperative_assignor(
    kafka_bootstrap: str, new_topic: TopicFactory, assignor: str
) -> None:
    """cooperative-sticky (the default, KIP-429): when a member joins, the first keeps
    consuming the partitions it keeps and gives up only those that move; range (Kafka's
    eager protocol) revokes everything from everyone at each rebalance."""
    topic = new_topic(4)
    everything = {TopicPartition(topic, p) for p in range(4)}
    group = _unique("join")
    revoked: list[frozenset[TopicPartition]] = []
    with open_log(kafka_test_url(kafka_bootstrap), assignor=assignor) as log:
        first = log.consumer([topic], group=group, on_revoked=revoked.append)
        second: Consumer | None = None
        try:
            settle_apart([first], lambda: first.assignment() == everything)
            assert not revoked
            second = log.consumer([topic], group=group)
            joined = second
            held: list[frozenset[TopicPartition]] = []  # the first's, sampled during the join

            def split() -> bool:
                held.append(first.assignment())
                a, b = first.assignment(), joined.assignment()
                return len(a) == len(b) == 2 and a | b == everything

            settle_apart([first, second], split)
            moved, kept = second.assignment(), first.assignment()
            if assignor == "cooperative-sticky":
                assert frozenset().union(*revoked) == moved  # only what moved, once
                assert all(kept <= sample for sample in held), "kept partitions never paused"
            else:
                assert revoked[0] == everything  # eager: everything, kept partitions too
                assert any(not (kept <= sample) for sample in held)
        finally:
            if second is not None:
                second.close()
            first.close()


def test_the_assignor_option_is_checked_and_reaches_the_consumer(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    with pytest.raises(FatalError, match="assignor"):
        parse_options("kafka://localhost:9092?assignor=sticky", {})
    topic = new_topic(1)
    with (
        open_log(kafka_test_url(kafka_bootstrap)) as log,
        log.consumer([topic], group=_unique("opt")) as consumer,
    ):
        strategy = consumer._consumer.config["partition_assignment_strategy"]  # type: ignore[attr-defined]
        assert [s.name for s in strategy] == ["cooperative-sticky"]


def test_commit_after_losing_a_partition_raises_rebalance_and_rewinds(
    kafka_log: KafkaLog, new_topic: TopicFactory
) -> None:
    topic = new_topic(2)
    output = new_topic(1)
    for key in (b"a", b"b", b"c", b"d"):
        kafka_log.append([Message(topic, b"in", key=key)])
    group = _unique("lost")
    first = kafka_log.consumer([topic], group=group)
    second: Consumer | None = None
    try:
        records = _poll_until(first, 4)
        assert len(records) == 4
        ends = {tp: max(r.offset for r in records if r.tp == tp) + 1 for tp in first.assignment()}
        second = kafka_log.consumer([topic], group=group)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(first.assignment()) != 1:
            first.poll(timeout_s=0.1)
            second.poll(timeout_s=0.1)
        assert len(first.assignment()) == 1
        with pytest.raises(RebalanceError):
            first.append_and_commit([Message(output, b"out")], ends)
        assert kafka_log.end_offsets([output]) == {TopicPartition(output, 0): 0}  # nothing appended
        assert kafka_log.committed(group) == {}
        (kept,) = first.assignment()
        assert first.position(kept) == 0  # rewound to the committed offset (none: earliest)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_kafka_python_is_imported_only_by_the_kafka_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys, services.eventlog as e; "
        "assert 'kafka' not in sys.modules, 'package import pulled kafka-python in'; "
        "import services.eventlog.kafka; assert 'kafka' in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
