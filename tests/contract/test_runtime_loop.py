"""The consume -> process -> append -> commit loop on every backend: bad records go to the
dead-letter topic with their reason, the rest are processed once, and nothing stops."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, datetime

from eventlog_helpers import append_each, drain

from schemas import CloudEvent, DeadLetter, PollStatus, SourcePolled, new_event
from services.eventlog import EventLog, Message, Record, TopicPartition
from services.eventlog.codec import decode, encode
from services.runtime.loop import ConsumerLoop, Emit, LoopSettings


def _polled(i: int, source_id: str | None = None) -> CloudEvent:
    payload = SourcePolled(
        source_id=source_id or f"src-{i}",
        url="https://example.org/feed",
        polled_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=PollStatus.OK,
        latency_ms=float(i),
    )
    return new_event(payload, id=f"in-{i}", source="/test")


def test_poison_and_failing_records_go_to_deadletter_and_the_rest_flow(
    log: EventLog, make_topic, group: str
) -> None:
    source, sink, dead = make_topic(2, "in"), make_topic(2, "out"), make_topic(1, "dlq")
    good = [encode(_polled(i), topic=source, key=f"k{i}") for i in range(20)]
    poison = Message(source, b"{not json", key=b"k-poison")
    wrong_shape = Message(
        source, b'{"specversion": "1.0", "type": "tocsin.source.polled.v1"}', key=b"k-shape"
    )
    explodes = encode(_polled(99, "explode"), topic=source, key="k-explode")
    append_each(
        log, [*good[:10], poison, wrong_shape, explodes, *good[10:]]
    )  # exact end offsets on Tansu

    def handler(event: CloudEvent, record: Record) -> Iterable[Emit]:
        assert isinstance(event.data, SourcePolled)
        if event.data.source_id == "explode":
            raise ValueError("the handler cannot cope with this one")
        yield Emit(
            sink, event.data.source_id, new_event(event.data, id=f"out-{event.id}", source="/test")
        )

    loop = ConsumerLoop(
        log,
        group=group,
        topics=[source],
        handler=handler,
        deadletter_topic=dead,
        settings=LoopSettings(batch_size=7, poll_timeout_s=0.2),
    )
    processed = loop.run_until_idle()
    loop.close()
    assert processed == 23

    with log.consumer([sink], group=None) as reader:
        outputs = [decode(r) for r in drain(reader, 20)]
    assert sorted(e.id for e in outputs) == sorted(f"out-in-{i}" for i in range(20))

    with log.consumer([dead], group=None) as reader:
        letters = [decode(r).data for r in drain(reader, 3)]
    assert all(isinstance(d, DeadLetter) for d in letters)
    by_key = {base64.b64decode(d.key_b64 or "").decode(): d for d in letters}  # type: ignore[union-attr]
    assert set(by_key) == {"k-poison", "k-shape", "k-explode"}
    assert by_key["k-poison"].error_class == "PoisonRecordError"
    assert "not a valid Tocsin event" in by_key["k-poison"].reason
    assert base64.b64decode(by_key["k-poison"].value_b64) == b"{not json"
    assert "data" in by_key["k-shape"].reason or "Field required" in by_key["k-shape"].reason
    assert by_key["k-explode"].error_class == "ValueError"
    assert by_key["k-explode"].reason == "the handler cannot cope with this one"
    assert all(d.group == group and d.topic == source for d in letters)  # type: ignore[union-attr]

    ends = log.end_offsets([source])
    assert log.committed(group) == {tp: n for tp, n in ends.items() if n}
    assert sum(log.lag(group, [source]).values()) == 0
    assert all(isinstance(tp, TopicPartition) for tp in ends)
