"""Every file under corpus/feeds served over HTTP: none crashes the poller, the well-formed
ones yield their items (rss-parser's expected outputs are the independent oracle)."""

from __future__ import annotations

import json
from pathlib import Path

from feed_server import FAST, FeedServer, Route

from schemas import PollStatus
from services.eventlog import open_log
from services.poller.config import load_sources
from services.poller.errors import PollError
from services.poller.runner import PollerService
from services.runtime.bootstrap import tocsin_topics
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

OUR_ERRORS = {c.__name__ for c in (PollError, *PollError.__subclasses__())} | {
    c.__name__ for sub in PollError.__subclasses__() for c in sub.__subclasses__()
}


def _manifest(corpus: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for suite in ("feedparser", "rss-parser", "feedjira"):
        rows += [
            json.loads(x)
            for x in (corpus / "feeds" / suite / "MANIFEST.jsonl").read_text().splitlines()
            if x.strip()
        ]
    return rows


def test_every_corpus_feed_is_polled_without_crashing(corpus: Path, server: FeedServer) -> None:
    rows = _manifest(corpus)
    on_disk = {
        str(p.relative_to(corpus / "feeds"))
        for p in (corpus / "feeds").rglob("*")
        if p.is_file() and p.name != "MANIFEST.jsonl" and "/test/output/" not in str(p)
    }
    listed = {str(r["path"]) for r in rows}
    assert listed <= on_disk
    raw_sources = []
    for i, path in enumerate(sorted(on_disk)):
        row = next((r for r in rows if r["path"] == path), {})
        headers = dict(row.get("http_headers") or {})  # type: ignore[call-overload]
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        url = server.add(
            f"/f{i}",
            Route((corpus / "feeds" / path).read_bytes(), ctype, headers=extra, conditional=False),
        )
        raw_sources.append({"id": f"f{i}", "url": url, "labels": {"path": path}})
    sources = load_sources(raw_sources)
    log = open_log("memory://corpus-feeds")
    log.create_topics(tocsin_topics(Settings()))
    svc = PollerService(ServiceContext(settings=Settings(), log=log), sources, options=FAST)
    svc.run_until_idle()
    assert len(svc.reports) == len(sources)
    path_of = {s.id: s.labels["path"] for s in sources}
    by_path = {path_of[r.source_id]: r for r in svc.reports}
    unexpected = [
        (p, r.error_class, r.error_message)
        for p, r in by_path.items()
        if r.error_class and r.error_class not in OUR_ERRORS
    ]
    assert unexpected == []  # no crash, no untranslated exception: only our error classes
    assert all(r.appended for r in svc.reports)  # every poll left its source.polled event

    # rss-parser: its expected outputs list the items each feed has
    checked = 0
    for row in rows:
        out = row.get("expected_output")
        if not out or not row.get("expat_wellformed"):
            continue
        expected = json.loads((corpus / "feeds" / str(out)).read_bytes().decode("utf-8", "replace"))
        items = expected.get("feed", expected).get("items", [])
        report = by_path[str(row["path"])]
        assert report.status is PollStatus.OK, (row["path"], report.error_message)
        assert report.items_seen == len(items), row["path"]
        checked += 1
    assert checked >= 15
    rss_parser_new = sum(r.new_articles for p, r in by_path.items() if p.startswith("rss-parser/"))
    assert rss_parser_new > 100  # (feeds that repeat another's links publish nothing twice)

    # strictly well-formed feeds of the other suites parse (zero entries allowed for
    # feedparser's synthetic single-element tests); the ill-formed ones fail cleanly or recover
    ok = [p for p, r in by_path.items() if r.status is PollStatus.OK]
    wellformed = [
        str(r["path"]) for r in rows if r.get("expat_wellformed") and not r.get("expects_bozo")
    ]
    failed_wellformed = [
        (p, by_path[p].error_class, by_path[p].error_message)
        for p in wellformed
        if by_path[p].status is not PollStatus.OK
    ]
    assert len(failed_wellformed) <= len(wellformed) // 50, failed_wellformed[:10]
    assert sum(by_path[p].items_seen for p in ok) > 1500
    feedjira_items = sum(
        r.items_seen
        for p, r in by_path.items()
        if p.startswith("feedjira/") and r.status is PollStatus.OK
    )
    assert feedjira_items > 100
    log.close()
