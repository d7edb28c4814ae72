"""The SQLite consumer reads every partition it owns in one statement per 64 partitions
(services/eventlog/sqlite.py ``_fetch``): nothing skipped, nothing twice, order kept."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.eventlog import Message, NewTopic, open_log


@pytest.mark.parametrize(("partitions", "batch"), [(1, 7), (6, 1), (6, 50), (70, 3), (150, 40)])
def test_every_record_once_in_partition_order(tmp_path: Path, partitions: int, batch: int) -> None:
    rng = random.Random(partitions * 1000 + batch)
    log = open_log(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        log.create_topics([NewTopic("a", partitions), NewTopic("b", 2)])
        messages = [
            Message(rng.choice(["a", "b"]), f"{i}".encode(), key=f"k{rng.randrange(400)}".encode())
            for i in range(1500)
        ]
        positions = log.append(messages)
        expected: dict[tuple[str, int], list[bytes]] = {}
        for message, position in zip(messages, positions, strict=True):
            expected.setdefault((position.topic, position.partition), []).append(message.value)
        got: dict[tuple[str, int], list[bytes]] = {}
        with log.consumer(["a", "b"], group="g") as consumer:
            for _ in range(10_000):
                records = consumer.poll(max_records=batch, timeout_s=0.01)
                if not records:
                    break
                assert len(records) <= batch
                for r in records:
                    got.setdefault((r.topic, r.partition), []).append(r.value)
                # appends between polls are read too, in order
                if rng.random() < 0.05:
                    extra = Message("a", b"late-%d" % rng.randrange(10**9), key=b"late")
                    (position,) = log.append([extra])
                    expected.setdefault((position.topic, position.partition), []).append(
                        extra.value
                    )
        assert got == expected
    finally:
        log.close()
