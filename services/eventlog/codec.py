"""CloudEvents <-> log records (Kafka protocol binding, structured mode).

The value is the whole envelope as JSON; the ``content-type`` header says so, and
``ce_type`` / ``ce_id`` headers let tools route or skip a record without parsing it.
Decoding is the one place where a malformed record becomes ``PoisonRecordError``.
"""

from __future__ import annotations

from pydantic import ValidationError

from schemas import CloudEvent, decode_event
from services.eventlog.base import Message, Record
from services.eventlog.errors import PoisonRecordError

CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"


def encode(event: CloudEvent, *, topic: str, key: str | None) -> Message:
    return Message(
        topic=topic,
        key=None if key is None else key.encode(),
        value=event.to_json(),
        headers=(
            ("content-type", CONTENT_TYPE),
            ("ce_type", event.type.encode()),
            ("ce_id", event.id.encode()),
        ),
        timestamp_ms=int(event.time.timestamp() * 1000),
    )


def decode(record: Record) -> CloudEvent:
    """The record's event, validated against its type's schema; ``PoisonRecordError`` if it is not one."""
    try:
        return decode_event(record.value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "record"
        raise PoisonRecordError(
            f"{record.topic}[{record.partition}]@{record.offset}: not a valid Tocsin event "
            f"({exc.error_count()} error(s); first at {where}: {first.get('msg')})"
        ) from exc
