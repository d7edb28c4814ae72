"""Deterministic ids: same input, same id; tracking noise does not make a new article."""

from __future__ import annotations

import pytest

from schemas.ids import alert_id, article_id, canonical_url, delivery_id, enrichment_id


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("https://Example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"),
        ("https://example.org/a?id=7&fbclid=XYZ#comments", "https://example.org/a?id=7"),
        ("HTTPS://EXAMPLE.org:443/a", "https://example.org/a"),
        ("http://example.org:8080/a?b=2&a=1", "http://example.org:8080/a?b=2&a=1"),
        ("https://example.org", "https://example.org/"),
        ("  https://example.org/x?gclid=1&page=2  ", "https://example.org/x?page=2"),
        # Yandex's click id and Openstat's marker, on links shared from Russian search
        (
            "https://ria.example/20240101/a.html?ysclid=lq1x2y3z4",
            "https://ria.example/20240101/a.html",
        ),
        ("https://tass.example/x?_openstat=dGVzdDs7Ow&id=9", "https://tass.example/x?id=9"),
        (
            "https://news.example/p?mibextid=Zxz2cZ&igsh=MWQ1&tt_medium=share",
            "https://news.example/p",
        ),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_article_id_ignores_tracking_and_keeps_meaning() -> None:
    a = article_id(url="https://example.org/news/1?utm_campaign=x")
    assert a == article_id(url="https://example.org/news/1#top")
    assert a != article_id(url="https://example.org/news/2")
    assert a.startswith("art_") and len(a) == 36


def test_guid_ids_are_scoped_to_their_source() -> None:
    one = article_id(guid="1234", source_id="feed-a")
    assert one == article_id(guid=" 1234 ", source_id="feed-a")
    assert one != article_id(guid="1234", source_id="feed-b")
    assert article_id(url="https://example.org/x", guid="1234") == article_id(
        url="https://example.org/x"
    )
    with pytest.raises(ValueError, match="URL or a guid"):
        article_id()


def test_derived_ids_depend_on_every_part() -> None:
    assert enrichment_id("art_1", "v1") != enrichment_id("art_1", "v2")
    assert enrichment_id("art_1", "v1", "hash-a") != enrichment_id("art_1", "v1", "hash-b"), (
        "an update"
    )
    assert enrichment_id("art_1", "v1", "hash-a") == enrichment_id("art_1", "v1", "hash-a")
    assert alert_id("r", "1", "art_1") != alert_id("r", "2", "art_1")
    assert alert_id("ab", "c", "k") != alert_id("a", "bc", "k"), (
        "parts are separated, not concatenated"
    )
    assert delivery_id("alr_1", "desk") == delivery_id("alr_1", "desk")
    assert {
        x[:4] for x in (enrichment_id("a", "v"), alert_id("r", "v", "k"), delivery_id("a", "s"))
    } == {
        "enr_",
        "alr_",
        "dlv_",
    }
