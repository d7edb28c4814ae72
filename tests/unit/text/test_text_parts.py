"""Normaliser, sentences, language, tags, user terms and user gazetteer files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.text import (
    Analyser,
    DataFileError,
    TermMatcher,
    analyse,
    detect_language,
    fold,
    load_gazetteer,
    normalise,
    split_sentences,
)


def test_fold_unifies_case_diacritics_and_punctuation() -> None:
    assert fold("Əliyev") == fold("ALIYEV") == "aliyev"
    assert fold("Ёлка") == "елка"
    assert fold("Nagorno\u2013Karabakh\u2019s") == "nagorno-karabakh's"
    assert fold("İstanbul") == "istanbul"


def test_normalise_keeps_offsets() -> None:
    text = "Stra\u00dfe Pu\u0301tin"
    norm = normalise(text)
    assert norm.text == "strasse putin"
    start = norm.text.index("putin")
    assert norm.span(start, start + 5) == (7, 13)
    assert normalise("plain text").starts is None


def test_sentences_respect_abbreviations() -> None:
    text = (
        "Title\n\nMr. Smith met V. Putin in the U.S. The talks ended. "
        "В. Путин, т.е. президент, прибыл в г. Москву. Он уехал."
    )
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == [
        "Title",
        "Mr. Smith met V. Putin in the U.S.",
        "The talks ended.",
        "В. Путин, т.е. президент, прибыл в г. Москву.",
        "Он уехал.",
    ]


def test_language_detection_with_hint() -> None:
    english = detect_language("The summit in Yerevan ended without a joint declaration.")
    assert english.code == "en" and english.confidence > 0.5
    russian = detect_language("Саммит ОДКБ в Ереване завершился без совместной декларации.")
    assert russian.code == "ru"
    assert detect_language("Հայաստանի վարչապետը ժամանեց Մոսկվա").code == "hy"
    short = detect_language("OK", "fr")
    assert (short.code, short.hint) == ("fr", "fr")


def test_tags_keep_their_terms() -> None:
    result = analyse("Ceasefire broken", "Shelling resumed; обстрелы и перемирие. Sanctions next.")
    tags = {tag.id: tag.terms for tag in result.tags}
    assert set(tags["ceasefire"]) == {"Ceasefire", "перемирие"}
    assert "Shelling" in tags["military"] and "обстрелы" in tags["military"]
    assert tags["sanctions"] == ("Sanctions",)
    assert "elections" not in tags


def test_georgian_border_incidents_are_tagged() -> None:
    """Written sentences: an incident at the border is tagged, the word "border" in the
    talks on delimitation is not."""
    incident = analyse("", "სომხეთისა და აზერბაიჯანის სასაზღვრო ინციდენტის შემდეგ", "ka")
    assert {t.id: t.terms for t in incident.tags}["border-incident"] == ("სასაზღვრო ინციდენტის",)
    talks = analyse("", "საზღვრის დელიმიტაციის კომისია შეიკრიბა", "ka")
    assert {t.id for t in talks.tags} == {"border-talks"}


def test_term_matcher_inflection_prefix_and_sentences() -> None:
    body = "Армения обвинила соседей. Обстрелом повреждены дома. Sanctioned firms."
    result = analyse("Border clash", body)
    matcher = TermMatcher(["обстрел", "sanction*", "border clash", "армения"])
    hits = matcher.find(result)
    assert [(h.term, h.surface) for h in hits] == [
        ("border clash", "Border clash"),
        ("армения", "Армения"),
        ("обстрел", "Обстрелом"),
        ("sanction*", "Sanctioned"),
    ]
    assert [h.sentence for h in hits] == [0, 1, 2, 3]
    assert matcher.matched_terms(result) == frozenset(matcher.terms)
    assert TermMatcher(["=Armenia"]).find_text("Armenian Armenia")[0].start == 9


@pytest.mark.parametrize(
    ("term", "text", "surface"),
    [
        ("Ermənistan", "Ermənistanın xarici işlər naziri.", "Ermənistanın"),
        ("Azərbaycan", "Azərbaycanla sərhəd barədə danışıqlar.", "Azərbaycanla"),
        ("sərhəd", "Sərhəddə atışma olub.", "Sərhəddə"),
        ("Gürcüstan", "Gürcüstanın paytaxtı.", None),  # no ə, ğ, ı or ş: read as written
    ],
)
def test_a_term_in_azerbaijani_letters_takes_azerbaijani_endings(
    term: str, text: str, surface: str | None
) -> None:
    hits = TermMatcher([term]).find_text(text)
    assert [h.surface for h in hits] == ([surface] if surface else [])


def test_user_gazetteer_file(tmp_path: Path) -> None:
    user = tmp_path / "desk.yaml"
    user.write_text(
        "entries:\n"
        "  - id: place:shvanidzor\n"
        "    kind: place\n"
        "    name: Shvanidzor\n"
        "    countries: [AM]\n"
        "    aliases: {en: [Shvanidzor], ru: [Шванидзор]}\n"
        "  - id: country:AM\n"
        "    merge: true\n"
        "    aliases: {en: [Hayastan Republic]}\n",
        encoding="utf-8",
    )
    analyser = Analyser(load_gazetteer([user]))
    result = analyser.analyse("", "Shots near Shvanidzor, Hayastan Republic.")
    assert {"place:shvanidzor", "country:AM"} <= result.entity_ids


def test_a_user_organisations_capitals_are_an_acronym_unless_the_file_says_otherwise(
    tmp_path: Path,
) -> None:
    user = tmp_path / "desk.yaml"
    user.write_text(
        "entries:\n"
        "  - id: org:odihr\n"
        "    kind: organisation\n"
        "    name: Office for Democratic Institutions and Human Rights\n"
        "    aliases: {en: [ODIHR, Office for Democratic Institutions and Human Rights]}\n"
        "  - id: org:ccc\n"
        "    kind: organisation\n"
        "    name: Caucasus Crisis Cell\n"
        "    aliases: {en: [{text: CCC, guard: none}]}\n",
        encoding="utf-8",
    )
    gazetteer = load_gazetteer([user])
    guards = {a.text: a.guard for e in gazetteer.entries for a in e.aliases}
    assert guards["ODIHR"] == "acronym"
    assert guards["CCC"] == "none"
    analyser = Analyser(gazetteer)
    company = "The ODIHR Group and the CCC Group sued."
    assert {"org:odihr", "org:ccc"} & analyser.analyse("", company).entity_ids == {"org:ccc"}
    spelt = "The Office for Democratic Institutions and Human Rights (ODIHR) observed."
    assert "org:odihr" in analyser.analyse("", spelt).entity_ids


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("entries:\n  - id: place:x\n    kind: town\n    name: X\n", "entry 'place:x' (#1): kind"),
        (
            "entries:\n  - id: place:x\n    kind: place\n    name: X\n    countries: [XX]\n",
            "'XX' is not an ISO",
        ),
        ("entries:\n  - id: place:x\n    kind: place\n", "missing name"),
        ("entries:\n  - id: country:AM\n    kind: country\n    name: A\n", "duplicate id"),
        ("entries:\n  - id: place:x\n    merge: true\n", "no entry has this id"),
        ("entries: [\n", "not valid YAML"),
    ],
)
def test_user_file_errors_name_file_and_entry(tmp_path: Path, body: str, message: str) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text(body, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_gazetteer([user])
    assert str(user) in str(info.value)
    assert message in str(info.value)


def test_lookup_by_alias_or_id() -> None:
    gazetteer = load_gazetteer()
    assert [e.id for e in gazetteer.lookup("Армения")] == ["country:AM"]
    assert [e.id for e in gazetteer.lookup("country:AM")] == ["country:AM"]
    assert {e.id for e in gazetteer.lookup("georgia")} == {"country:GE", "place:us-georgia"}
