"""The rules service reads its past on Kafka: every record, whatever the broker reports as
the end. Tansu reports a partition's end as the last batch's base offset + 1, so a reader
that trusted it lost the newest alerts at a restart and raised them again (the intermittent
failure of the Kafka crash proof, tests/reliability/test_crash_kafka.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kafka_broker import kafka_test_url

from schemas import RuleRef, RulesetActivated, new_event
from services.eventlog import EventLog, NewTopic, open_log
from services.eventlog.codec import encode
from services.rules.history import read_events

pytestmark = pytest.mark.kafka


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[tuple[EventLog, str]]:
    elog = open_log(kafka_test_url(kafka_bootstrap))
    name = f"history-{uuid.uuid4().hex[:10]}"
    elog.create_topics([NewTopic(name, 1)])
    yield elog, name
    elog.delete_topics([name])  # type: ignore[attr-defined]
    elog.close()


def activation(n: int) -> RulesetActivated:
    rule = RuleRef(id=f"r{n}", version="v1", title="t", origin="o.yaml", definition={})
    return RulesetActivated(
        ruleset_version=f"rs{n}", activated_at=datetime.now(UTC), rules=(rule,), files=()
    )


def test_reads_a_whole_batch_past_the_reported_end(kafka_topic: tuple[EventLog, str]) -> None:
    elog, name = kafka_topic
    events = [new_event(activation(n), id=f"e{n}", source="/test") for n in range(30)]
    elog.append([encode(e, topic=name, key="same") for e in events])  # one append, one batch
    got = [r.event.id for r in read_events(elog, name)]
    assert got == [e.id for e in events]
    # with committed offsets as the end (exact), exactly the records before them
    tp = next(iter(elog.end_offsets([name])))
    assert [r.event.id for r in read_events(elog, name, stop_at={tp: 12})] == [
        e.id for e in events[:12]
    ]
