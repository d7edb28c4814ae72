# ruff: noqa: RUF001  (Russian text on purpose)
"""The pure core: ids, determinism, tracing ids, the version, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from schemas import ArticleEnriched, CloudEvent, SourcePolled, decode_event, new_event
from schemas.ids import enrichment_id
from services.enricher import Enricher, EnrichError, EnricherSettings, enricher_version
from services.enricher.settings import build_enricher
from services.text import Analyser, DataFileError, default_analyser, load_gazetteer

Published = Callable[..., CloudEvent]

TITLE = "CSTO summit in Yerevan"
TEXT = "Pashinyan refused to sign the declaration, and the leaders left the summit without a joint statement on the border. Переговоры с Арменией продолжатся."


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return build_enricher()


def test_enriched_event_has_deterministic_id_and_tracing(
    enricher: Enricher, published: Published
) -> None:
    event = published("https://example.org/a?utm_source=x", TITLE, TEXT)
    out = enricher.enrich(event)
    assert out.type == "tocsin.article.enriched.v1"
    assert out.id == enrichment_id(event.data.article_id, enricher.version, event.data.content_hash)
    assert out.id.startswith("enr_")
    assert out.causationid == event.id
    assert out.correlationid == event.correlationid
    assert out.subject == event.data.article_id
    assert out.time == event.time
    data = out.data
    assert isinstance(data, ArticleEnriched)
    assert data.article == event.data
    assert data.enricher_version == enricher.version
    assert {"org:csto", "place:yerevan", "person:nikol-pashinyan", "country:AM"} <= {
        e.id for e in data.entities
    }
    assert data.countries[0] == "AM"
    assert data.language.code == "en" and data.language.hint == "en"
    for entity in data.entities:
        for mention in entity.mentions:
            assert data.analysed_text[mention.start : mention.end] == mention.surface


def test_redelivery_yields_the_same_event(enricher: Enricher, published: Published) -> None:
    event = published("https://example.org/b", TITLE, TEXT)
    first = enricher.enrich(event)
    again = enricher.enrich(decode_event(event.to_json()))
    assert again == first
    assert again.to_json() == first.to_json()
    # and a second enricher built from the same data agrees byte for byte
    assert build_enricher().enrich(event).to_json() == first.to_json()


def test_correlation_falls_back_to_the_input_id(enricher: Enricher, published: Published) -> None:
    event = published("https://example.org/c", TITLE, TEXT).model_copy(
        update={"correlationid": None}
    )
    assert enricher.enrich(event).correlationid == event.id


def test_summary_is_used_when_there_is_no_text(enricher: Enricher, published: Published) -> None:
    event = published("https://example.org/d", "News", summary="Shelling near Stepanakert.")
    data = enricher.enrich(event).data
    assert "place:stepanakert" in {e.id for e in data.entities}
    assert data.analysed_text.endswith("Shelling near Stepanakert.")


def test_article_without_any_text_is_a_clear_error(
    enricher: Enricher, published: Published
) -> None:
    event = published("https://example.org/e", "   ", "")
    with pytest.raises(EnrichError, match=r"no title, summary or text"):
        enricher.enrich(event)


def test_wrong_event_type_is_a_clear_error(enricher: Enricher) -> None:
    from datetime import UTC, datetime

    polled = SourcePolled(
        source_id="s",
        url="https://example.org/feed",
        polled_at=datetime.now(UTC),
        status="ok",
        latency_ms=1.0,
    )
    event = new_event(polled, id="poll-1", source="/test")
    with pytest.raises(EnrichError, match=r"expected tocsin\.article\.published\.v1"):
        enricher.enrich(event)


def test_version_changes_with_the_data(tmp_path: Path, published: Published) -> None:
    base = enricher_version(default_analyser().gazetteer)
    assert base == enricher_version(load_gazetteer())  # stable across loads
    extra = tmp_path / "desk.yaml"
    extra.write_text(
        "entries:\n  - id: place:shvanidzor\n    kind: place\n    name: Shvanidzor\n"
        "    countries: [AM]\n    aliases: {ru: [Шванидзор]}\n",
        encoding="utf-8",
    )
    custom = build_enricher(EnricherSettings(gazetteer=(extra,)))
    assert custom.version != base
    assert custom.version.split("+")[0] == base.split("+")[0]
    event = published("https://example.org/f", "Shvanidzor", "Граница у Шванидзор.", hint="ru")
    out = custom.enrich(event)
    assert "place:shvanidzor" in {e.id for e in out.data.entities}
    assert out.id != build_enricher().enrich(event).id  # a new version, a new id


def test_bad_user_gazetteer_names_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "entries:\n  - id: place:x\n    kind: place\n    name: X\n    countries: [ZZ]\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"bad\.yaml: entry 'place:x'.*'ZZ'"):
        build_enricher(EnricherSettings(gazetteer=(bad,)))
    with pytest.raises(DataFileError, match=r"missing\.yaml: cannot read"):
        build_enricher(EnricherSettings(gazetteer=(tmp_path / "missing.yaml",)))


def test_empty_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        Enricher(Analyser(load_gazetteer(include_bundled=False)), " ")


def test_enricher_section_is_read_and_validated(tmp_path: Path) -> None:
    from typing import Any

    from pydantic import Field

    from services.enricher.runner import enricher_settings
    from services.runtime.settings import ConfigError, Settings

    class WithSection(Settings):  # what Settings gains once the lead wires the section
        enricher: dict[str, Any] = Field(default_factory=dict)

    assert enricher_settings(Settings()) == EnricherSettings()
    extra = tmp_path / "desk.yaml"
    cfg = WithSection(enricher={"gazetteer": [str(extra)], "include_bundled": True})
    assert enricher_settings(cfg).gazetteer == (extra,)
    with pytest.raises(ConfigError, match=r"enricher\.gazetteers: Extra inputs"):
        enricher_settings(WithSection(enricher={"gazetteers": ["x.yaml"]}))


def test_an_updated_article_is_a_new_enrichment(enricher: Enricher, published: Published) -> None:
    first = published("https://example.org/update", TITLE, TEXT)
    changed = first.data.model_copy(update={"content_hash": "changed", "is_update": True})
    updated = first.model_copy(update={"data": changed})
    assert enricher.enrich(first).id != enricher.enrich(updated).id, (
        "downstream must not drop the update"
    )
    assert enricher.enrich(first).id == enricher.enrich(first).id
