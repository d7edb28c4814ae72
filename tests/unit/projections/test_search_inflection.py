"""Article search finds a word's inflected forms, as a rule's term does: the region's
languages decline names, so "Армения" stood for a third of the Russian articles about
Armenia. Real Russian articles of the corpus, and short written texts in the other
languages (marked as written); read model, API and dashboard as they serve search."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import readside_events as ev

from services.projections import queries
from services.projections.store import ReadModel
from services.text.inflection import inflected_prefixes

WRITTEN = {  # written for this test: names in their cases
    1: ("Переговоры в Баку", "Делегация Армении прибыла в Баку. Граница с Арменией закрыта."),
    2: ("Հայաստանի ԱԳՆ", "Հայաստանի արտաքին գործերի նախարարը հանդիպեց գործընկերոջը։"),
    3: ("აფხაზეთში დაძაბულობაა", "საქართველოს მთავრობამ განცხადება გაავრცელა."),
    4: ("Ermənistanın mövqeyi", "Azərbaycanın XİN Ermənistanla sərhəd barədə danışdı."),
    5: ("Armenia and Azerbaijan", "Armenian and Azerbaijani envoys met in Brussels."),
    6: ("Армения и ОДКБ", "Армения заморозила участие в ОДКБ."),
    7: ("საზღვრის ინციდენტი", "მეზობლებმა სროლა გაიგეს."),  # syncope: საზღვარი, მეზობელი
}


def _ids(conn: sqlite3.Connection, q: str) -> set[int]:
    page = queries.search_articles(conn, q=q, limit=100)
    return {int(a["article_id"].removeprefix("art_")) for a in page.items}


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "read.db"
    with ReadModel(path) as store:
        for n, (title, text) in WRITTEN.items():
            store.apply(ev.published(ev.article(n, title=title, text=text)))
        store.commit()
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    return connection


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Армения", {1, 6}),  # Армении, Арменией; Армения
        ("Армении", {1, 6}),  # a case form typed: its ending comes off
        ("Арменией", {1, 6}),
        ("=Армения", {6}),  # the word alone
        ("Հայաստան", {2}),  # Հայաստանի
        ("Հայաստանի", {2}),
        ("აფხაზეთი", {3}),  # აფხაზეთში
        ("საქართველო", {3}),  # საქართველოს
        ("საზღვარი", {7}),  # საზღვრის: the vowel of the last syllable drops
        ("მეზობელი", {7}),  # მეზობლებმა
        ("=საზღვარი", set()),
        ("Ermənistan", {4}),  # Ermənistanın, Ermənistanla
        ("Ermənistanın", {4}),
        ("Azərbaycan", {4}),  # Azərbaycanın
        ("Armenia", {5}),  # English names do not inflect: not "Armenian"
        ("Armenia*", {5}),  # a prefix asked for
        ("Армения Баку", {1}),  # every word must match
        ("ОДКБ", {6}),
    ],
)
def test_a_word_finds_its_inflected_forms(
    conn: sqlite3.Connection, q: str, found: set[int]
) -> None:
    assert _ids(conn, q) == found


def test_the_snippet_marks_the_inflected_form(conn: sqlite3.Connection) -> None:
    page = queries.search_articles(conn, q="Армения", limit=10, snippets=True)
    (hit,) = [a for a in page.items if a["article_id"] == "art_0001"]
    text, marks = hit["snippet"]["text"], hit["snippet"]["marks"]
    assert {text[start:end] for start, end in marks} == {"Армении", "Арменией"}


def test_corpus_russian_articles_are_found_in_every_case(corpus: Path, tmp_path: Path) -> None:
    """Over the corpus's Russian articles: "Россия" and "Москва" find every article that
    has the word in any case, as a rule's term would, where the word alone found fewer."""
    path = tmp_path / "read.db"
    records = [
        json.loads(line)
        for line in (corpus / "news" / "ru_news_samples.jsonl").open(encoding="utf-8")
    ]
    with ReadModel(path) as store:
        for n, record in enumerate(records, 1):
            store.apply(ev.published(ev.article(n, title=record["title"], text=record["body"])))
        store.commit()
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    for name, forms in {
        "Россия": r"\bросси(я|и|ю|ей|ею)\b",
        "Москва": r"\bмоскв(а|ы|е|у|ой|ою)\b",
    }.items():
        expected = {
            n
            for n, r in enumerate(records, 1)
            if re.search(forms, f"{r['title']} {r['body']}".lower())
        }
        alone = _ids(connection, "=" + name)
        assert len(expected) >= 10 and len(alone) < len(expected)
        assert expected <= _ids(connection, name)


def test_words_that_do_not_inflect_here_are_searched_as_written() -> None:
    assert [inflected_prefixes(w) for w in ("мир", "Lachin", "Nagorno-Karabakh", "x1")] == [()] * 4
    assert queries.fts_query('Армения "OR" мир') == '"Армени"* """OR""" "мир"'


def test_a_georgian_word_that_may_syncopate_is_searched_by_both_starts() -> None:
    assert inflected_prefixes("საზღვარი") == ("საზღვარ", "საზღვრ")
    assert inflected_prefixes("აფხაზეთი") == ("აფხაზეთ",)  # -ეთ: no sonorant, no syncope
    assert queries.fts_query("საზღვარი Lachin") == '("საზღვარ"* OR "საზღვრ"*) "Lachin"'
