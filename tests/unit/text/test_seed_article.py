"""The founding example: "CSTO Summit in Yerevan Was Bitter Pill for Putin".

Text: Grzegorz Kuczyński, Warsaw Institute, 29 November 2022 — credit: Warsaw Institute
(warsawinstitute.org), whose texts "may be disseminated on the condition that their origin
is credited". The file is read from the shared corpus (``$TOCSIN_CORPUS`` or
``../shared/corpus`` beside the repository), never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.text import Analysis, analyse, enriched_fields

CORPUS = Path(
    os.environ.get("TOCSIN_CORPUS")
    or Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
)
SEED = CORPUS / "seed" / "csto-summit-yerevan-2022.txt"


@pytest.fixture(scope="module")
def seed() -> Analysis:
    if not SEED.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    lines = SEED.read_text(encoding="utf-8").split("\n\n", 2)
    return analyse(lines[1].strip(), lines[2], "en")


@pytest.mark.parametrize(
    ("entity_id", "kind"),
    [
        ("country:AM", "country"),
        ("country:AZ", "country"),
        ("org:csto", "organisation"),
        ("country:RU", "country"),
        ("country:BY", "country"),
        ("country:KZ", "country"),
        ("country:KG", "country"),
        ("country:TJ", "country"),
        ("person:nikol-pashinyan", "person"),
        ("person:vladimir-putin", "person"),
        ("person:alexander-lukashenko", "person"),
        ("person:ilham-aliyev", "person"),
        ("place:yerevan", "place"),
        ("place:baku", "place"),
        ("place:sochi", "place"),
        ("place:astana", "place"),
        ("place:almaty", "place"),
    ],
)
def test_seed_entities(seed: Analysis, entity_id: str, kind: str) -> None:
    hit = seed.entity(entity_id)
    assert hit is not None, f"{entity_id} not found"
    assert hit.kind == kind
    for mention in hit.mentions:
        assert seed.text[mention.start : mention.end] == mention.surface
        start, end = seed.sentences[mention.sentence]
        assert start <= mention.start < end


def test_seed_surfaces_and_forms(seed: Analysis) -> None:
    pashinyan = seed.entity("person:nikol-pashinyan")
    assert pashinyan is not None
    assert {m.surface for m in pashinyan.mentions} == {"Pashinian"}
    armenia = seed.entity("country:AM")
    assert armenia is not None
    assert {m.form for m in armenia.mentions} == {"name", "adjective"}
    assert "Armenian" in {m.surface for m in armenia.mentions if m.form == "adjective"}
    assert seed.language.code == "en"
    assert {"AM", "AZ", "RU", "BY", "KZ", "KG", "TJ"} <= set(seed.countries)
    assert "summit" in {t.id for t in seed.tags}


def test_seed_russian_source_line(seed: Analysis) -> None:
    line = next(i for i, (s, e) in enumerate(seed.sentences) if "Саммит ОДКБ" in seed.text[s:e])
    found = {
        entity.id
        for entity in seed.entities
        for mention in entity.mentions
        if mention.sentence == line
    }
    assert {"org:csto", "country:RU"} <= found


def test_seed_enriched_fields(seed: Analysis) -> None:
    fields = enriched_fields(seed)
    assert fields["analysed_text"] == seed.text
    ids = {entity.id for entity in fields["entities"]}
    assert "org:csto" in ids
    assert fields["language"].code == "en"
