"""``tocsin reenrich``: a new gazetteer is a new enricher version that re-enriches the whole
history under its own group and ids, next to the live version, which stays untouched."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from schemas import ArticleEnriched, ArticlePublished, new_event
from schemas.ids import article_id, content_hash
from services.cli.app import app
from services.enricher.runner import build
from services.eventlog.codec import decode, encode
from services.rules.history import read_events
from services.runtime.bootstrap import open_event_log, topic
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

WHEN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EXTRA = """
entries:
  - id: place:zorbatown
    kind: place
    name: Zorbatown
    countries: [AM]
"""


def _publish(settings: Settings, count: int) -> list[str]:
    ids, messages = [], []
    for n in range(count):
        url = f"https://news.example/{n}"
        title, text = f"Report {n} from Zorbatown", f"Residents of Zorbatown met on day {n}."
        ident = article_id(url=url)
        payload = ArticlePublished(
            article_id=ident,
            url=url,
            title=title,
            text=text,
            published_at=WHEN,
            fetched_at=WHEN,
            source_id="desk",
            language_hint="en",
            content_hash=content_hash(title, text),
        )
        event = new_event(payload, id=ident, source="/test", subject=ident, time=WHEN)
        messages.append(encode(event, topic=topic(settings, "articles.published"), key=ident))
        ids.append(ident)
    with open_event_log(settings) as elog:
        elog.append(messages)
    return ids


def _enriched(settings: Settings) -> list[ArticleEnriched]:
    with open_event_log(settings) as elog:
        return [
            r.event.data
            for r in read_events(elog, topic(settings, "articles.enriched"))
            if isinstance(r.event.data, ArticleEnriched)
        ]


def test_reenrich_with_a_new_gazetteer_adds_a_version_for_every_article(tmp_path: Path) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path}/tocsin.db", topic_prefix="t.")
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA)
    ids = _publish(settings, 20)
    with open_event_log(settings) as elog:  # the live version, A
        live = build(ServiceContext(settings=settings, log=elog))
        live.run_until_idle()
        live_group = live.loop.group
        live_committed = elog.committed(live_group)
    [version_a] = {e.enricher_version for e in _enriched(settings)}

    runner = CliRunner()
    args = ["reenrich", "--gazetteer", str(extra), "--log", settings.log]
    result = runner.invoke(app, args, env={"TOCSIN_TOPIC_PREFIX": "t."}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "20 article(s) enriched" in result.stdout

    events = _enriched(settings)
    per_version = Counter(e.enricher_version for e in events)
    [version_b] = set(per_version) - {version_a}
    assert per_version == {version_a: 20, version_b: 20}
    b_events = [e for e in events if e.enricher_version == version_b]
    assert sorted(e.article.article_id for e in b_events) == sorted(ids)
    assert all("place:zorbatown" in {x.id for x in e.entities} for e in b_events)
    a_events = [e for e in events if e.enricher_version == version_a]
    assert not any("place:zorbatown" in {x.id for x in e.entities} for e in a_events)
    with open_event_log(settings) as elog:
        assert elog.committed(live_group) == live_committed  # the live group is untouched
        assert f"t.enricher.{version_b}" in elog.groups()  # under the prefix, as the topics
        name = topic(settings, "articles.enriched")
        raw = [decode(r) for r in _records(elog, name)]
    assert len({e.id for e in raw}) == 40  # new version, new ids

    # again: the new version's group has caught up, nothing is appended
    result = runner.invoke(app, args, env={"TOCSIN_TOPIC_PREFIX": "t."}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 article(s) enriched" in result.stdout
    assert len(_enriched(settings)) == 40


def test_reenrich_reports_a_bad_gazetteer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries:\n  - id: nokind\n")
    log = f"sqlite:///{tmp_path}/tocsin.db"
    result = CliRunner().invoke(app, ["reenrich", "--gazetteer", str(bad), "--log", log])
    assert result.exit_code == 2
    assert "gazetteer error" in result.output and "bad.yaml" in result.output


def _records(elog, name):  # type: ignore[no-untyped-def]
    total = sum(elog.end_offsets([name]).values())
    out = []
    with elog.consumer([name], group=None) as reader:
        while len(out) < total:
            out += reader.poll(max_records=1000, timeout_s=0.2)
    return out
