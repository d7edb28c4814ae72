"""Feeds in a legacy charset of a non-Latin script that declare UTF-8 or no charset at all
(a Russian site in windows-1251 or KOI8-R) are read in their charset; Latin feeds that
feedparser reads right stay exactly as it reads them. Pages sent with a plainly wrong HTTP
charset are read in their own. Real Russian articles of the corpus, and feedparser's own
charset test feeds."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from services.poller.fetch import Document
from services.poller.parsers.charsets import undeclared_charset
from services.poller.parsers.feeds import parse_feed
from services.poller.parsers.pages import parse_page
from services.poller.parsing import parse_document


def rss(items: list[tuple[str, str]], declaration: str) -> str:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{i}</link>"
        f"<description>{escape(text)}</description></item>"
        for i, (title, text) in enumerate(items)
    )
    return (
        f'{declaration}<rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example/</link>{body}</channel></rss>"
    )


def russian(corpus: Path, charset: str, count: int = 8) -> list[tuple[str, str]]:
    """Corpus articles whose title and first 400 characters the charset can write."""
    out = []
    for line in (corpus / "news" / "ru_news_samples.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        title, text = record["title"].strip(), " ".join(record["body"][:400].split())
        try:
            (title + text).encode(charset)
        except UnicodeEncodeError:
            continue
        if title and text:
            out.append((title, text))
        if len(out) == count:
            break
    return out


DECLARATIONS = [
    # (XML declaration, HTTP content type, HTTP charset)
    ('<?xml version="1.0" encoding="utf-8"?>', "application/rss+xml", None),
    ('<?xml version="1.0"?>', "application/rss+xml", None),
    ('<?xml version="1.0"?>', "text/xml", None),
    ('<?xml version="1.0"?>', "application/rss+xml", "utf-8"),
    ("", "", None),
]


@pytest.mark.parametrize("charset", ["windows-1251", "KOI8-R"])
@pytest.mark.parametrize(("declaration", "content_type", "http_charset"), DECLARATIONS)
def test_a_russian_feed_in_an_undeclared_charset_is_read_in_it(
    corpus: Path, charset: str, declaration: str, content_type: str, http_charset: str | None
) -> None:
    """Before: "Россия" came out as "Ðîññèÿ", and no name in the feed was found."""
    articles = russian(corpus, charset)
    assert len(articles) >= 5
    body = rss(articles, declaration).encode(charset)
    parsed = parse_feed(Document("https://news.example/rss", body, content_type, http_charset))
    assert [(i.title, i.summary) for i in parsed.items] == articles
    (warning,) = parsed.warnings
    declared = "utf-8" if "utf-8" in f"{declaration} {http_charset}" else "no charset"
    assert warning.startswith(f"the feed is written in {charset} but declares {declared}")


def test_a_declared_charset_is_still_read_as_declared(corpus: Path) -> None:
    articles = russian(corpus, "windows-1251")
    body = rss(articles, '<?xml version="1.0" encoding="windows-1251"?>').encode("windows-1251")
    parsed = parse_feed(Document("https://news.example/rss", body, "application/rss+xml"))
    assert [(i.title, i.summary) for i in parsed.items] == articles
    assert parsed.warnings == []


def latin(corpus: Path, count: int = 60) -> list[tuple[str, str]]:
    """Corpus articles with letters outside ASCII that windows-1252 can write (é, ü, ñ...)."""
    out = []
    for path in sorted((corpus / "news").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            title, text = (
                (record["title"] or "").strip(),
                " ".join((record["body"] or "")[:600].split()),
            )
            letters = [c for c in title + text if not c.isascii() and c.isalpha()]
            if not title or not letters:
                continue
            try:
                (title + text).encode("windows-1252")
            except UnicodeEncodeError:
                continue
            out.append((title, text))
            if len(out) == count:
                return out
    return out


WRITTEN = [  # short texts in languages the corpus does not hold, marked as written
    (
        "Élection à Erevan : le général s'exprime",
        "Le ministère a déclaré que la frontière était fermée, déjà évoqué à Bakou.",
    ),
    (
        "Grenzstreit: Außenminister äußert Bedenken",
        "Die Verhandlungen über die Grenzöffnung wurden gestört; Bürger müssen Umwege fahren.",
    ),
    (
        "Öresund: säkerhetsläget är oförändrat",
        "Försvarsministern sade att övningen på Gotland fortsätter.",
    ),
    (
        "El ministro de Defensa habló en Ereván",
        "La reunión terminó sin acuerdo; según fuentes, habrá otra reunión en diciembre.",
    ),
]


def test_latin_feeds_read_as_windows_1252_are_left_as_they_are(corpus: Path) -> None:
    articles = latin(corpus) + WRITTEN
    assert len(articles) > 40
    for i in range(0, len(articles), 4):
        group = articles[i : i + 4]
        body = rss(group, '<?xml version="1.0"?>').encode("windows-1252")
        assert undeclared_charset(body) is None, group
        parsed = parse_feed(Document("https://news.example/rss", body, "application/rss+xml"))
        assert [(item.title, item.summary) for item in parsed.items] == group


@pytest.mark.parametrize(
    ("name", "charset", "expected"),
    [
        ("koi8r.xml", "KOI8-R", "Как пережить новогоднюю ночь"),
        ("windows1255.xml", "windows-1255", "האם תדפיס נייר של אתר אינטרנט"),
    ],
)
def test_feedparsers_own_charset_tests(
    corpus: Path, name: str, charset: str, expected: str
) -> None:
    """Its files say what they hold ("Expect: encoding == 'KOI8-R'"); feedparser reads them
    right only with chardet installed, which Tocsin does not need."""
    body = (corpus / "feeds" / "feedparser" / "tests" / "illformed" / "chardet" / name).read_bytes()
    assert undeclared_charset(body) == charset
    assert expected in body.decode(charset)
    (warning,) = parse_feed(Document("https://news.example/rss", body)).warnings
    assert warning.startswith(f"the feed is written in {charset} but declares no charset")


def page(title: str, paragraphs: list[str], meta: str = "") -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<html><head>{meta}<title>{escape(title)}</title></head><body><article>"
        f"<h1>{escape(title)}</h1>{body}</article></body></html>"
    )


@pytest.mark.parametrize("meta", ["", '<meta charset="windows-1251">'])
def test_a_page_sent_as_utf8_but_written_in_windows_1251_is_read_in_it(
    corpus: Path, meta: str
) -> None:
    """Before: every Cyrillic letter came out as U+FFFD."""
    title, text = russian(corpus, "windows-1251", count=1)[0]
    paragraphs = [text[:200], text[200:]]
    body = page(title, paragraphs, meta).encode("windows-1251")
    (item,) = parse_page(Document("https://news.example/a", body, "text/html", "utf-8")).items
    assert item.title == title
    assert paragraphs[0].split()[0] in item.text
    assert "\ufffd" not in item.title + item.text


@pytest.mark.parametrize("kind", ["jsonl", "json feed"])
def test_a_charset_python_does_not_know_is_read_as_utf8(kind: str) -> None:
    """Before: a JSONL archive sent as "charset=utf8mb4" failed every poll with a
    LookupError, and a JSON Feed was "not valid JSON"."""
    title = "Пашинян и Алиев встретились"  # written
    if kind == "jsonl":
        body = json.dumps({"id": "1", "title": title, "body": "x"}, ensure_ascii=False)
        doc = Document(
            "https://news.example/a.jsonl", body.encode(), "application/jsonl", "utf8mb4"
        )
        parsed = parse_document("jsonl", doc)
    else:
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "W",
            "items": [{"id": "1", "url": "https://news.example/1", "title": title}],
        }
        body = json.dumps(feed, ensure_ascii=False)
        doc = Document("https://news.example/f.json", body.encode(), "application/json", "utf8mb4")
        parsed = parse_document("feed", doc)
    assert [i.title for i in parsed.items] == [title]
    assert parsed.warnings == ["unknown charset 'utf8mb4' in the response: read as UTF-8"]
