"""The enricher service end to end on a real SQLite log: published -> enriched, a poison
record to the dead-letter topic, a redelivery that changes nothing, a new version that
re-enriches history under its own group."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from schemas import ArticleEnriched, CloudEvent, DeadLetter
from services.enricher import EnricherSettings
from services.enricher.runner import build
from services.eventlog import EventLog, Message, Record
from services.eventlog.codec import decode, encode
from services.registry import service_factory
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.metrics import DEADLETTERED
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

Published = Callable[..., CloudEvent]

ARTICLES = [
    ("https://example.org/1", "Shelling near the border", "Armenia and Azerbaijan traded fire."),
    ("https://example.org/2", "ОДКБ", "Саммит ОДКБ прошёл в Ереване."),
    ("https://example.org/3", "Markets", "Shares rose in London on Friday."),
]


def read_all(log: EventLog, name: str) -> list[Record]:
    total = sum(log.end_offsets([name]).values())
    out: list[Record] = []
    with log.consumer([name], group=None) as reader:
        while len(out) < total:
            out += reader.poll(max_records=1000, timeout_s=0.2)
    return out


def publish(log: EventLog, settings: Settings, events: list[CloudEvent]) -> None:
    name = topic(settings, "articles.published")
    log.append([encode(e, topic=name, key=e.data.article_id) for e in events])


def test_service_enriches_and_deadletters(tmp_path: Path, published: Published) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path / 'tocsin.db'}", topic_prefix="t.")
    events = [published(url, title, text) for url, title, text in ARTICLES]
    with open_event_log(settings) as log:
        publish(log, settings, events[:2])
        # a poison record: not JSON at all, then one with no text to enrich
        raw = topic(settings, "articles.published")
        log.append([Message(topic=raw, key=b"x", value=b"{not json")])
        publish(log, settings, [published("https://example.org/empty", " ", "")])
        publish(log, settings, events[2:])

        context = ServiceContext(settings=settings, log=log)
        service = service_factory("enricher")(context)
        service.run_until_idle()

        enriched = [decode(r) for r in read_all(log, topic(settings, "articles.enriched"))]
        dead = [decode(r) for r in read_all(log, topic(settings, "deadletter"))]
        assert context.metrics.total(DEADLETTERED) == 2

    by_article = {e.data.article.article_id: e for e in enriched}
    assert set(by_article) == {e.data.article_id for e in events}
    first = by_article[events[0].data.article_id].data
    assert isinstance(first, ArticleEnriched)
    assert {"AM", "AZ"} <= set(first.countries)
    second = by_article[events[1].data.article_id].data
    assert {"org:csto", "place:yerevan"} <= {e.id for e in second.entities}
    assert second.language.code == "ru"

    reasons = sorted(d.data.reason for d in dead if isinstance(d.data, DeadLetter))
    assert len(reasons) == 2
    assert any("not a valid Tocsin event" in r or "JSON" in r for r in reasons)
    assert any("no title, summary or text" in r for r in reasons)


def test_restart_and_new_version(tmp_path: Path, published: Published) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path / 'tocsin.db'}")
    events = [published(url, title, text) for url, title, text in ARTICLES]
    extra = tmp_path / "desk.yaml"
    extra.write_text(
        "entries:\n  - id: place:london\n    kind: place\n    name: London\n    countries: [GB]\n",
        encoding="utf-8",
    )
    with open_event_log(settings) as log:
        publish(log, settings, events)
        build(ServiceContext(settings=settings, log=log)).run_until_idle()
        # the live version again: nothing left to do, nothing appended
        build(ServiceContext(settings=settings, log=log)).run_until_idle()
        enriched_topic = topic(settings, "articles.enriched")
        live = [decode(r) for r in read_all(log, enriched_topic)]
        assert len(live) == 3
        # a new version (new data) re-reads history from the start under its own group
        service = build(
            ServiceContext(settings=settings, log=log), EnricherSettings(gazetteer=(extra,))
        )
        service.run_until_idle()
        both = [decode(r) for r in read_all(log, enriched_topic)]
        groups = log.groups()

    assert len(both) == 6
    versions = {e.data.enricher_version for e in both}
    assert len(versions) == 2
    assert len({e.id for e in both}) == 6  # new version, new ids
    assert sum(g.startswith("enricher.") for g in groups) == 2
    markets = [e for e in both if e.data.article.article_id == events[2].data.article_id]
    found = [{x.id for x in e.data.entities} for e in markets]
    assert sum("place:london" in ids for ids in found) == 1
