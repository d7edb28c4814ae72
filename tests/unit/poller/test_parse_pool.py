"""Parsing in worker processes: the same items and the same error classes as inline, and a
worker that dies on a document costs that document only (the pool is replaced)."""

from __future__ import annotations

import asyncio

import pytest
from feed_server import FAST, FeedServer, Route, crashing_parse, rss

from schemas import PollStatus
from services.eventlog import EventLog
from services.poller.config import load_sources
from services.poller.errors import NotAFeed, ParserCrashed
from services.poller.fetch import Document
from services.poller.parsing import MAX_BROKEN_IN_A_ROW, ParsePool
from services.poller.runner import PollerService
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

BIG = 5000  # over the pool's min_bytes, so these documents really go to a worker


def _feed(n: int) -> bytes:
    items = [(f"https://news.example/{n}/{i}", f"Story {n}.{i} " + "x" * 200) for i in range(25)]
    return rss(items)


def test_pool_and_inline_parse_alike_and_errors_cross_back() -> None:
    docs = [Document(f"http://127.0.0.1/f{n}", _feed(n), "application/rss+xml") for n in range(4)]
    assert all(len(d.body) > BIG for d in docs)
    html = Document("http://127.0.0.1/h", b"<html><body>" + b"<p>no feed</p>" * 500, "text/html")

    async def run(pool: ParsePool) -> tuple[list[object], BaseException]:
        try:
            parsed = [await pool.parse("feed", d) for d in docs]
            with pytest.raises(NotAFeed) as caught:
                await pool.parse("feed", html)
            return [p.items for p in parsed], caught.value
        finally:
            pool.close()

    inline, inline_error = asyncio.run(run(ParsePool(0)))
    pooled, pooled_error = asyncio.run(run(ParsePool(2)))
    assert pooled == inline and len(inline[0]) == 25  # type: ignore[arg-type]
    assert str(pooled_error) == str(inline_error) and "HTML" in str(pooled_error)


def test_a_dying_worker_costs_one_document_and_the_pool_recovers() -> None:
    good = Document("http://127.0.0.1/good", _feed(1), "application/rss+xml")
    bad = Document("http://127.0.0.1/bad", b"CRASH" + b" " * BIG, "application/rss+xml")

    async def run() -> tuple[int, int]:
        pool = ParsePool(1, target=crashing_parse)
        try:
            assert len((await pool.parse("feed", good)).items) == 25
            with pytest.raises(ParserCrashed, match="died on this document"):
                await pool.parse("feed", bad)
            assert len((await pool.parse("feed", good)).items) == 25  # a fresh pool works
            assert pool.workers == 1
            return pool.restarts, pool.workers
        finally:
            pool.close()

    restarts, workers = asyncio.run(run())
    assert restarts == 2 and workers == 1


def test_a_pool_that_keeps_breaking_falls_back_to_inline_parsing() -> None:
    bad = Document("http://127.0.0.1/bad", b"CRASH" + b" " * BIG, "application/rss+xml")
    good = Document("http://127.0.0.1/good", _feed(2), "application/rss+xml")

    async def run() -> ParsePool:
        pool = ParsePool(1, target=crashing_parse)
        for _ in range(MAX_BROKEN_IN_A_ROW):
            with pytest.raises(ParserCrashed):
                await pool.parse("feed", bad)
            if pool.workers == 0:
                break
        assert pool.workers == 0
        assert len((await pool.parse("feed", good)).items) == 25  # parsed in-process now
        pool.close()
        return pool

    assert asyncio.run(run()).restarts == MAX_BROKEN_IN_A_ROW


def test_service_with_parser_processes_polls_like_without(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    raw = [{"id": f"f{n}", "url": server.add(f"/f{n}.xml", Route(_feed(n)))} for n in range(6)]
    raw.append({"id": "html", "url": server.add("/page", Route(b"<html>" * 2000, "text/html"))})
    sources = load_sources(raw)
    svc = PollerService(
        ServiceContext(settings=Settings(), log=sqlite_log), sources, options=FAST, parse_workers=2
    )
    svc.run_until_idle()
    by_id = {r.source_id: r for r in svc.reports}
    assert all(by_id[f"f{n}"].status is PollStatus.OK for n in range(6))
    assert sum(by_id[f"f{n}"].new_articles for n in range(6)) == 150
    assert by_id["html"].error_class == "NotAFeed"
