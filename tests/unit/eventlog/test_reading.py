"""read_topic on the embedded log: everything, up to committed offsets, from a time. (Past
a broker's short end offsets: tests/integration/test_rules_history_kafka.py.)"""

from __future__ import annotations

from services.eventlog import Message, NewTopic, TopicPartition, open_log
from services.eventlog.reading import read_topic


def test_reads_everything_or_up_to_the_given_offsets() -> None:
    with open_log("memory://reading") as elog:
        elog.create_topics([NewTopic("t", 2)])
        assert list(read_topic(elog, "absent")) == []
        elog.append([Message("t", f"v{n}".encode(), f"k{n}".encode()) for n in range(40)])
        records = list(read_topic(elog, "t"))
        assert sorted(r.value for r in records) == sorted(f"v{n}".encode() for n in range(40))
        for p in (0, 1):  # each partition in its own order
            offsets = [r.offset for r in records if r.partition == p]
            assert offsets == sorted(offsets)
        stop = {TopicPartition("t", 0): 3, TopicPartition("t", 1): 0}
        assert [(r.partition, r.offset) for r in read_topic(elog, "t", stop_at=stop)] == [
            (0, 0),
            (0, 1),
            (0, 2),
        ]
        later = max(r.timestamp_ms for r in records) + 1
        assert list(read_topic(elog, "t", since_ms=later)) == []
