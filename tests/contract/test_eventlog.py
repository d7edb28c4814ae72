"""The event log's contract (services/eventlog/base.py), proven on every backend.

Records polled here are never partially consumed between assertions: each test states its
expectations in offsets and counts, so a backend that loses, duplicates or reorders a
record fails.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from eventlog_helpers import append_each, drain, settle, settle_apart

from services.eventlog import (
    Consumer,
    EventLog,
    FatalError,
    Message,
    NewTopic,
    TopicPartition,
    UnknownTopicError,
)
from services.eventlog.base import partition_for_key


def test_topics_are_created_explicitly_once(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=4)
    assert log.list_topics()[name] == 4
    assert log.create_topics([NewTopic(name, 4)]) == []  # already there: nothing created
    assert log.list_topics()[name] == 4


def test_append_to_unknown_topic_is_refused(log: EventLog) -> None:
    with pytest.raises(UnknownTopicError):
        log.append([Message("no-such-topic-x1", b"v", key=b"k")])
    with pytest.raises(UnknownTopicError):
        log.consumer(["no-such-topic-x2"], group=None)


def test_positions_and_partitioning(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=3)
    keys = [f"key-{i}".encode() for i in range(30)]
    positions = log.append([Message(name, b"v%d" % i, key=k) for i, k in enumerate(keys)])
    assert len(positions) == 30
    per_partition: dict[int, list[int]] = defaultdict(list)
    for key, pos in zip(keys, positions, strict=True):
        assert pos.topic == name
        assert pos.partition == partition_for_key(key, 3), (
            "murmur2 partitioning, as Kafka's default"
        )
        per_partition[pos.partition].append(pos.offset)
    for offsets in per_partition.values():
        assert offsets == list(range(len(offsets))), "offsets start at 0 and grow by one"


def test_records_round_trip(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=1)
    headers = (("ce_type", b"tocsin.test.v1"), ("bin", bytes(range(256))))
    log.append(
        [
            Message(
                name, b"\x00value\xff", key=b"k1", headers=headers, timestamp_ms=1_700_000_000_123
            )
        ]
    )
    log.append([Message(name, b"no key")])
    with log.consumer([name], group=None) as c:
        got = drain(c, 2)
    assert len(got) == 2
    first, second = got
    assert (first.offset, first.key, first.value, first.timestamp_ms) == (
        0,
        b"k1",
        b"\x00value\xff",
        1_700_000_000_123,
    )
    assert first.headers == headers
    assert first.header("ce_type") == b"tocsin.test.v1"
    assert second.key is None and second.value == b"no key" and second.offset == 1
    assert abs(second.timestamp_ms - time.time() * 1000) < 60_000, (
        "no timestamp given: the append time"
    )


def test_order_is_kept_per_key(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=4)
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    batch = []
    for i in range(400):
        key = b"k%d" % (i % 13)
        value = b"%d" % i
        sent[key].append(value)
        batch.append(Message(name, value, key=key))
    for start in range(0, 400, 50):  # several appends, interleaving keys
        log.append(batch[start : start + 50])
    with log.consumer([name], group=None) as c:
        got = drain(c, 400)
    assert len(got) == 400
    seen: dict[bytes, list[bytes]] = defaultdict(list)
    for r in got:
        assert r.key is not None
        seen[r.key].append(r.value)
    assert seen == sent


def test_group_resumes_after_its_last_commit(log: EventLog, make_topic, group: str) -> None:
    name = make_topic(partitions=2)
    log.append([Message(name, b"%d" % i, key=b"k%d" % i) for i in range(40)])
    with log.consumer([name], group=group) as c:
        first = drain(c, 40)
        assert len(first) == 40
        # Commit only the first half of each partition, as if the process died mid-way.
        half: dict[TopicPartition, int] = {}
        by_tp: dict[TopicPartition, list[int]] = defaultdict(list)
        for r in first:
            by_tp[r.tp].append(r.offset)
        for tp, offsets in by_tp.items():
            half[tp] = len(offsets) // 2
        c.commit(half)
    assert log.committed(group) == half
    with log.consumer([name], group=group) as again:
        rest = drain(again, 40 - sum(half.values()))
        time.sleep(0.2)
        rest += again.poll(timeout_s=0.2)
    assert len(rest) == 40 - sum(half.values()), "replays exactly what was not committed"
    assert all(r.offset >= half[r.tp] for r in rest)


def test_uncommitted_progress_is_replayed(log: EventLog, make_topic, group: str) -> None:
    name = make_topic(partitions=1)
    log.append([Message(name, b"%d" % i, key=b"k") for i in range(5)])
    with log.consumer([name], group=group) as c:
        assert len(drain(c, 5)) == 5  # read, never committed
    with log.consumer([name], group=group) as c:
        assert [r.offset for r in drain(c, 5)] == [0, 1, 2, 3, 4]


def test_reset_latest_skips_history(log: EventLog, make_topic, group: str) -> None:
    name = make_topic(partitions=1)
    append_each(log, [Message(name, b"old", key=b"k") for _ in range(3)])
    with log.consumer([name], group=group, reset="latest") as c:
        assert settle([c], lambda: bool(c.assignment()))[0] == []
        assert c.poll(timeout_s=0.3) == []
        log.append([Message(name, b"new", key=b"k")])
        got = drain(c, 1)
    assert [(r.offset, r.value) for r in got] == [(3, b"new")]


def test_two_members_split_the_partitions_and_one_takes_over(
    log: EventLog, make_topic, group: str
) -> None:
    name = make_topic(partitions=4)
    everything = {TopicPartition(name, p) for p in range(4)}
    a = log.consumer([name], group=group)
    b = log.consumer([name], group=group)
    try:
        # each member from a thread of its own: polled in turn, a member blocked in its join
        # keeps the other from rejoining, and a loaded machine went past 20 s (CI, once)
        early = settle_apart(
            [a, b],
            lambda: (
                a.assignment() | b.assignment() == everything
                and not a.assignment() & b.assignment()
                and len(a.assignment()) == 2
            ),
        )
        assert early == {0: [], 1: []}
        log.append([Message(name, b"%d" % i, key=b"key-%d" % i) for i in range(100)])
        got_a, got_b = [], []
        deadline = time.monotonic() + 10
        while len(got_a) + len(got_b) < 100 and time.monotonic() < deadline:
            got_a += a.poll(timeout_s=0.1)
            got_b += b.poll(timeout_s=0.1)
        assert {r.tp for r in got_a} <= a.assignment()
        assert {r.tp for r in got_b} <= b.assignment()
        assert sorted(r.value for r in got_a + got_b) == sorted(b"%d" % i for i in range(100))
        b.commit()
    finally:
        a.close()
    try:
        replayed = settle([b], lambda: b.assignment() == everything)[0]
        log.append([Message(name, b"after", key=b"key-%d" % i) for i in range(8)])
        replayed += drain(b, 8 + len(got_a) - len(replayed))
        assert sorted(r.value for r in replayed) == sorted(
            [r.value for r in got_a] + [b"after"] * 8
        ), "the survivor reads the new records and what the leaver never committed"
    finally:
        b.close()


def test_on_revoked_runs_while_the_member_still_owns_what_it_gives_up(
    log: EventLog, make_topic, group: str
) -> None:
    """The rebalance hook (Kafka's listener, on every backend): what the leaving owner
    appends there is on the log before the next owner gets the partition."""
    name = make_topic(partitions=2)
    everything = {TopicPartition(name, p) for p in range(2)}
    calls: list[tuple[frozenset[TopicPartition], frozenset[TopicPartition]]] = []
    consumers: list[Consumer] = []
    keys = {partition_for_key(b"k%d" % i, 2): b"k%d" % i for i in range(10)}

    def hand_over(tps: frozenset[TopicPartition]) -> None:
        if not calls:  # the first call: the handover (a later one: a's close)
            calls.append((tps, consumers[1].assignment()))
        log.append([Message(name, b"handed over", key=keys[tp.partition]) for tp in tps])

    a = log.consumer([name], group=group, on_revoked=hand_over)
    consumers.append(a)
    try:
        settle([a], lambda: a.assignment() == everything)
        log.append([Message(name, b"read by a", key=keys[p]) for p in range(2)])
        assert len(drain(a, 2)) == 2
        b = log.consumer([name], group=group)
        consumers.append(b)
        try:
            seen = settle_apart(
                [a, b],
                lambda: (
                    len(a.assignment()) == len(b.assignment()) == 1
                    and a.assignment() | b.assignment() == everything
                ),
            )
            moved = b.assignment()
            assert calls, "the hook ran"
            assert moved <= calls[0][0], "the hook named the partition that moved"
            assert not calls[0][1] & calls[0][0], "the next owner had none of them yet"
            ends = log.end_offsets([name])
            got_b = seen[1] + drain(b, 2 - len(seen[1]))
            # nothing committed: b reads a's partition from the start, the hook's record too
            assert [(r.tp, r.value) for r in got_b] == [
                (tp, value) for tp in moved for value in (b"read by a", b"handed over")
            ]
            assert all(ends[tp] == 2 for tp in moved)
        finally:
            b.close()
    finally:
        a.close()


def test_a_failing_on_revoked_hook_does_not_keep_the_partitions(
    log: EventLog, make_topic, group: str
) -> None:
    name = make_topic(partitions=2)
    everything = {TopicPartition(name, p) for p in range(2)}
    failed: list[frozenset[TopicPartition]] = []

    def broken(tps: frozenset[TopicPartition]) -> None:
        failed.append(tps)
        raise RuntimeError("the hook is broken")

    a = log.consumer([name], group=group, on_revoked=broken)
    try:
        settle([a], lambda: a.assignment() == everything)
        b = log.consumer([name], group=group)
        try:
            settle_apart([a, b], lambda: len(a.assignment()) == len(b.assignment()) == 1)
            assert failed, "the hook ran (and raised)"
            assert a.assignment() | b.assignment() == everything
        finally:
            b.close()
    finally:
        a.close()


def test_read_from_a_timestamp(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=2)
    append_each(log, [Message(name, b"before", key=b"k%d" % i) for i in range(6)])
    time.sleep(0.05)
    mark = int(time.time() * 1000)
    time.sleep(0.05)
    after_positions = [log.append([Message(name, b"after", key=b"k%d" % i)])[0] for i in range(6)]
    found = log.offsets_for_time(name, mark)
    first_after: dict[TopicPartition, int] = {}
    for pos in after_positions:
        tp = TopicPartition(pos.topic, pos.partition)
        first_after[tp] = min(first_after.get(tp, pos.offset), pos.offset)
    for p in range(2):
        tp = TopicPartition(name, p)
        assert found[tp] == first_after.get(tp), f"partition {p}"
    with log.consumer([name], group=None) as c:
        c.seek_to_time(mark)
        got = drain(c, 6)
    assert [r.value for r in got] == [b"after"] * 6


def test_a_time_after_the_last_record_finds_nothing(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=1)
    log.append([Message(name, b"x", key=b"k")])
    future = int(time.time() * 1000) + 3_600_000
    assert log.offsets_for_time(name, future) == {TopicPartition(name, 0): None}


def test_end_offsets_and_lag(log: EventLog, make_topic, group: str) -> None:
    name = make_topic(partitions=2)
    keys = [b"k%d" % i for i in range(10)]
    append_each(log, [Message(name, b"v", key=k) for k in keys])
    ends = log.end_offsets([name])
    expected = defaultdict(int)
    for k in keys:
        expected[TopicPartition(name, partition_for_key(k, 2))] += 1
    assert ends == {TopicPartition(name, p): expected[TopicPartition(name, p)] for p in range(2)}
    with log.consumer([name], group=group) as c:
        got = drain(c, 10)
        assert len(got) == 10
        c.commit(
            {r.tp: r.offset + 1 for r in got if r.offset == 0}
        )  # one record per partition done
    lag = log.lag(group, [name])
    assert lag == {tp: n - 1 for tp, n in ends.items()}
    assert group in log.groups()


def test_append_and_commit_moves_outputs_and_offsets_together(
    log: EventLog, make_topic, group: str
) -> None:
    source, sink = make_topic(partitions=1, base="in"), make_topic(partitions=1, base="out")
    log.append([Message(source, b"%d" % i, key=b"k") for i in range(10)])
    with log.consumer([source], group=group) as c:
        got = drain(c, 10)
        positions = c.append_and_commit([Message(sink, r.value + b"!", key=b"k") for r in got])
    assert [p.offset for p in positions] == list(range(10))
    assert log.committed(group) == {TopicPartition(source, 0): 10}
    with log.consumer([sink], group=None) as reader:
        assert [r.value for r in drain(reader, 10)] == [b"%d!" % i for i in range(10)]


def test_a_reader_without_group_cannot_commit(log: EventLog, make_topic) -> None:
    name = make_topic(partitions=1)
    with log.consumer([name], group=None) as c, pytest.raises(FatalError):
        c.commit()
