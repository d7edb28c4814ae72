"""Cases added while measuring the enricher on labelled corpus articles: demonyms, plural
and neuter Russian forms, fixed tails of long Russian names, common words that are also
country names, "Congo" by context, the rule-based language check and the per-script
automata."""

from __future__ import annotations

import pytest

from services.text import analyse, detect_language
from services.text.inflection import expand
from services.text.language import RULE_CONFIDENCE
from services.text.matcher import Matcher, Ref
from services.text.normalise import normalise


def ids(title: str, text: str = "") -> set[str]:
    return set(analyse(title, text).entity_ids)


@pytest.mark.parametrize(
    ("text", "entity_id"),
    [
        ("An Irish student left Sumy.", "country:IE"),
        ("The Dutch port of Rotterdam.", "country:NL"),
        ("England beat Azerbaijan.", "country:GB"),
        ("Nepalese soldiers won the case.", "country:NP"),
        ("Royal wedding in Brunei.", "country:BN"),
        ("Голландец купил акварель.", "country:NL"),
        ("в швейцарской Лозанне", "country:CH"),
        ("данные россиян за рубежом", "country:RU"),
        ("новозеландского заложника", "country:NZ"),
        ("Уплыли к берегам Боснии и Герцеговины.", "country:BA"),
    ],
)
def test_demonyms_and_forms(text: str, entity_id: str) -> None:
    assert entity_id in ids("", text)


def test_neuter_head_inflects_and_the_tail_after_a_preposition_does_not() -> None:
    text = "саммита Совещания по взаимодействию и мерам доверия в Азии"
    assert "org:cica" in ids("", text)
    keys = {p.key for p in expand("Совещание по взаимодействию и мерам доверия в Азии", "ru")}
    assert "совещания по взаимодействию и мерам доверия в азии" in keys
    assert all(" по взаимодействию и мерам доверия в азии" in k for k in keys)


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("FleetCenter to be reunion arena.", "country:RE"),
        ("Кроме того, форварду удалось.", "country:TG"),
        ("Scot Pollard missed the game.", "country:GB"),
        ("a jersey and a panama hat", "country:PA"),
    ],
)
def test_common_words_are_not_countries(text: str, absent: str) -> None:
    assert absent not in ids("", text)


def test_congo_by_context() -> None:
    assert "country:CD" in ids("", "KINSHASA - Tension between Congo and Rwanda.")
    assert "country:CG" in ids("", "In Brazzaville, Congo's president spoke.")
    assert "country:CD" in ids("", "Congo signed the deal.")  # the tie goes to the DRC


def test_hint_confirmed_by_rules_or_checked_by_the_model() -> None:
    english = "The president said on Monday that the talks with the delegation were over."
    assert detect_language(english, "en").confidence == RULE_CONFIDENCE
    # no hint, or a hint the text does not bear out: the model decides
    assert detect_language(english).confidence != RULE_CONFIDENCE
    french = "Le président a déclaré lundi que les pourparlers avec la délégation étaient finis."
    assert detect_language(french, "en").code == "fr"
    ukrainian = "Президент заявив, що переговори з делегацією у Києві і Львові завершено."
    assert detect_language(ukrainian, "ru").code == "uk"
    russian = "Президент заявил, что переговоры с делегацией в Москве и Казани завершены."
    assert detect_language(russian, "ru").confidence == RULE_CONFIDENCE


def test_per_script_automata_find_every_script_in_one_text() -> None:
    matcher = Matcher()
    for index, key in enumerate(["csto", "одкб", "հապկ", "多哥", "توغو", "ermənistan"]):
        matcher.add(expand(key, "xx", "term"), Ref(0, index))
    matcher.build()
    text = "CSTO, ОДКБ, ՀԱՊԿ, 多哥, توغو; Ermənistan."
    hits = matcher.scan(normalise(text))
    assert [h.ref.target for h in hits] == [0, 1, 2, 3, 4, 5]
    assert text[hits[0].start : hits[0].end] == "CSTO"
    assert matcher.scan(normalise("nothing here")) == []
