"""The event contracts: generated JSON Schemas are current, examples are valid, payloads are strict."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from pydantic import ValidationError

from schemas import (
    EVENT_TYPES,
    TOPICS,
    ArticlePublished,
    CloudEvent,
    SourcePolled,
    decode_event,
    new_event,
    topic_name,
)
from schemas.export import EXAMPLES_DIR, JSON_DIR, generated, stale


def test_json_schema_files_match_the_models() -> None:
    assert stale() == [], "run `tocsin schemas export` and commit schemas/json/"


def test_a_changed_model_makes_the_files_stale(tmp_path) -> None:
    for name, content in generated().items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert stale(tmp_path) == []
    target = tmp_path / "tocsin.article.published.v1.json"
    target.write_text(target.read_text().replace('"title"', '"headline"'), encoding="utf-8")
    (tmp_path / "tocsin.removed.v0.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["tocsin.article.published.v1.json", "tocsin.removed.v0.json"]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_each_type_has_a_valid_example(event_type: str) -> None:
    raw = (EXAMPLES_DIR / f"{event_type}.json").read_text(encoding="utf-8")
    event = decode_event(raw)
    assert event.type == event_type
    assert isinstance(event, EVENT_TYPES[event_type])
    schema = json.loads((JSON_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(raw))
    assert decode_event(event.to_json()) == event, "an event survives its own encoding"


def test_the_json_schema_refuses_what_the_model_refuses() -> None:
    raw = json.loads((EXAMPLES_DIR / "tocsin.source.polled.v1.json").read_text(encoding="utf-8"))
    raw["data"]["unexpected"] = 1
    schema = json.loads((JSON_DIR / "tocsin.source.polled.v1.json").read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema)
    with pytest.raises(ValidationError):
        decode_event(json.dumps(raw))


def _polled(**overrides: object) -> SourcePolled:
    values: dict[str, object] = {
        "source_id": "s",
        "url": "https://example.org/feed",
        "polled_at": datetime(2026, 1, 1, tzinfo=UTC),
        "status": "ok",
        "latency_ms": 3.0,
    }
    values.update(overrides)
    return SourcePolled(**values)  # type: ignore[arg-type]


def test_payloads_are_strict_and_frozen() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        _polled(surprise=True)
    with pytest.raises(ValidationError):
        _polled(latency_ms=-1)
    with pytest.raises(ValidationError, match="timezone"):
        _polled(polled_at=datetime(2026, 1, 1))  # naive times are refused
    polled = _polled()
    with pytest.raises(ValidationError, match="frozen"):
        polled.source_id = "other"  # type: ignore[misc]


def test_envelope_keeps_valid_extensions_and_refuses_bad_names() -> None:
    event = new_event(_polled(), id="e1", source="/test", correlationid="c1")
    raw = json.loads(event.to_json())
    raw["traceparent"] = "00-abc-def-01"
    assert decode_event(json.dumps(raw)).model_extra == {"traceparent": "00-abc-def-01"}
    raw["Bad_Name"] = "x"
    with pytest.raises(ValidationError, match="extension attribute"):
        decode_event(json.dumps(raw))


def test_unknown_types_and_wrong_payloads_are_refused() -> None:
    raw = json.loads(new_event(_polled(), id="e1", source="/test").to_json())
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**raw, "type": "tocsin.source.polled.v9"}))
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**raw, "type": "tocsin.article.published.v1"}))
    with pytest.raises(ValidationError):
        decode_event(b"\xff not json")


def test_new_event_picks_the_envelope_for_the_payload() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    article = ArticlePublished(
        article_id="art_1",
        title="t",
        published_at=now,
        fetched_at=now,
        source_id="s",
        content_hash="h",
    )
    event = new_event(article, id="art_1", source="/tocsin/poller", time=now)
    assert isinstance(event, CloudEvent)
    assert event.type == "tocsin.article.published.v1"
    assert event.data is article


def test_every_event_type_lives_on_exactly_one_topic() -> None:
    homes = [name for spec in TOPICS.values() for name in spec.event_types]
    assert sorted(homes) == sorted(EVENT_TYPES)
    assert topic_name("articles.published", "eu1.") == "eu1.articles.published"
    with pytest.raises(KeyError, match="unknown topic"):
        topic_name("articles.publishd")
