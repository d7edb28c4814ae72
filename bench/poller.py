"""Poller benchmark: 1,000 local feeds of 20 items, the 304 pass, the state rebuild, extraction.

    /work/venv/bin/python bench/poller.py [--feeds 1000] [--items 20] [--rebuild-ids 1000000]

1. A subprocess serves N RSS feeds on 127.0.0.1 (a small asyncio HTTP/1.1 server with
   keep-alive, ETag and Last-Modified). Baseline in the same run: fetching every feed with
   the bare httpx client, no parsing, no log.
2. First pass: every feed polled once by the poller (fetch, feedparser, events, SQLite log).
   Targets: <= 10 s. Second pass, after a restart (state rebuilt from the log): every answer
   is 304. Target: <= 3 s.
3. State rebuild over a synthetic articles.published holding ``--rebuild-ids`` records.
4. Main-text extraction on corpus/pages/article-extraction-benchmark: mean token-level F1
   against the ground truth (target >= 0.93); baseline: all the page's text.
5. A changed feed: 50 corpus articles, then one more on top (the oldest gone), parsed as
   the poller parses it (``services.poller.unchanged``: the 49 items the last poll read are
   left out) against the baseline, the whole document through feedparser.
6. Text repair: ``tidy`` (what every title and text goes through) over the corpus news,
   with ftfy's mojibake repair against the baseline, ``tidy`` without it; and how many
   articles the repair changed.
Local feeds share one host, so the per-host limit is raised for the bench (printed). The
first pass parses in the poller's default parser processes (``services.poller.parsing``).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def feed_body(n: int, items: int) -> bytes:
    parts = [
        f"<item><title>Feed {n} story {i}: talks on the border</title>"
        f"<link>https://news{n % 50}.example/{n}/story-{i}?utm_source=rss</link>"
        f"<guid>https://news{n % 50}.example/{n}/story-{i}</guid>"
        f"<pubDate>Tue, 29 Nov 2022 09:{i:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Summary {i} of feed {n}: ministers of Armenia and Azerbaijan met "
        f"in Brussels to discuss the border commission and transport links.&lt;/p&gt;</description>"
        f"</item>"
        for i in range(items)
    ]
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
        f"<link>https://news{n % 50}.example/</link><language>en</language>{''.join(parts)}"
        f"</channel></rss>"
    ).encode()


# -- the server (runs in a subprocess: python bench/poller.py --serve PORT N ITEMS) ----------


def serve(port: int, feeds: int, items: int) -> None:
    bodies = {f"/feed/{n}": feed_body(n, items) for n in range(feeds)}
    etags = {path: f'"{hash(body) & 0xFFFFFFFF:x}"' for path, body in bodies.items()}
    last_modified = "Tue, 29 Nov 2022 09:30:00 GMT"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                body = bodies.get(path)
                if body is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                elif headers.get("if-none-match") == etags[path]:
                    writer.write(
                        f"HTTP/1.1 304 Not Modified\r\nETag: {etags[path]}\r\n"
                        f"Last-Modified: {last_modified}\r\n\r\n".encode()
                    )
                else:
                    writer.write(
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                        f"Content-Length: {len(body)}\r\nETag: {etags[path]}\r\n"
                        f"Last-Modified: {last_modified}\r\n\r\n".encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the bench server did not start")


# -- the measurements ----------------------------------------------------------------------


def bench_polling(feeds: int, items: int) -> None:
    import httpx

    from services.eventlog import open_log
    from services.poller.config import load_sources
    from services.poller.fetch import FetchOptions
    from services.poller.runner import PollerService
    from services.runtime.bootstrap import tocsin_topics
    from services.runtime.service import ServiceContext
    from services.runtime.settings import Settings

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(feeds), str(items)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        urls = [f"http://127.0.0.1:{port}/feed/{n}" for n in range(feeds)]

        async def baseline() -> float:
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=8)) as client:
                sem = asyncio.Semaphore(8)

                async def get(u: str) -> None:
                    async with sem:
                        (await client.get(u)).raise_for_status()

                started = time.perf_counter()
                await asyncio.gather(*(get(u) for u in urls))
                return time.perf_counter() - started

        base = asyncio.run(baseline())
        options = FetchOptions(
            per_host_concurrency=8, politeness_delay_s=0.0, max_connections=16, trust_env=False
        )
        sources = load_sources([{"id": f"feed-{n}", "url": u} for n, u in enumerate(urls)])
        with tempfile.TemporaryDirectory() as tmp:
            log = open_log(f"sqlite:///{tmp}/bench.db")
            log.create_topics(tocsin_topics(Settings()))
            ctx = ServiceContext(settings=Settings(), log=log)
            first = PollerService(ctx, sources, options=options)
            started = time.perf_counter()
            first.run_until_idle()
            t1 = time.perf_counter() - started
            new = sum(r.new_articles for r in first.reports)
            failed = sum(r.failed for r in first.reports)
            second = PollerService(ctx, sources, options=options)
            started = time.perf_counter()
            second.run_until_idle()
            t2 = time.perf_counter() - started
            not_modified = sum(r.status.value == "not_modified" for r in second.reports)
            log.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    from services.poller.parsing import default_workers

    print(
        f"polling: {feeds} feeds x {items} items on 127.0.0.1 (per-host limit 8, no delay, "
        f"{default_workers()} parser processes)"
    )
    print(f"  baseline, bare httpx GET of every feed:   {base:6.2f} s")
    print(
        f"  first pass (fetch+parse+events+log):      {t1:6.2f} s  {new / t1:8.0f} articles/s  "
        f"{new} new, {failed} failed  target <= 10 s  ratio to baseline {t1 / base:.1f}x"
    )
    print(
        f"  second pass after restart (all 304):      {t2:6.2f} s  {not_modified}/{feeds} not modified  "
        f"target <= 3 s  ratio to baseline {t2 / base:.1f}x  (incl. rebuild {second.rebuild_seconds:.2f} s)"
    )


def bench_rebuild(count: int) -> None:
    from services.eventlog import Message, open_log
    from services.poller.core import HASH_HEADER
    from services.poller.state import rebuild_known
    from services.runtime.bootstrap import tocsin_topics
    from services.runtime.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        log = open_log(f"sqlite:///{tmp}/rebuild.db")
        log.create_topics(tocsin_topics(Settings()))
        started = time.perf_counter()
        batch: list[Message] = []
        for i in range(count):
            art = f"art_{i:032x}"
            batch.append(
                Message(
                    "articles.published",
                    b'{"type":"tocsin.article.published.v1"}',
                    key=art.encode(),
                    headers=(
                        ("ce_type", b"tocsin.article.published.v1"),
                        (HASH_HEADER, f"{i:032x}".encode()),
                    ),
                )
            )
            if len(batch) == 20_000:
                log.append(batch)
                batch = []
        if batch:
            log.append(batch)
        fill = time.perf_counter() - started
        known, seconds, _ = rebuild_known(log, "articles.published")
        log.close()
        size = os.path.getsize(f"{tmp}/rebuild.db")
    assert len(known) == count
    print(
        f"state rebuild: {count:,} article ids from articles.published (SQLite, {size / 1e6:.0f} MB): "
        f"{seconds:.2f} s ({count / seconds:,.0f} ids/s); baseline, appending them: {fill:.2f} s "
        f"(ratio {seconds / fill:.2f})"
    )


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def f1(got: str, want: str) -> float:
    g, w = _tokens(got), _tokens(want)
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def bench_extraction(corpus: Path) -> None:
    from services.poller.parsers.html import html_to_text
    from services.poller.parsers.pages import extract_text

    folder = corpus / "pages" / "article-extraction-benchmark"
    truth = json.loads((folder / "ground-truth.json").read_text())
    scores, naive = [], []
    started = time.perf_counter()
    for page_id, expected in sorted(truth.items()):
        html = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        scores.append(f1(extract_text(html, expected.get("url")), expected["articleBody"]))
    seconds = time.perf_counter() - started
    for page_id, expected in sorted(truth.items()):
        html = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        naive.append(f1(html_to_text(html.decode("utf-8", "replace")), expected["articleBody"]))
    mean, base = sum(scores) / len(scores), sum(naive) / len(naive)
    print(
        f"extraction: {len(scores)} pages, trafilatura mean token F1 {mean:.3f} (target >= 0.93), "
        f"{len(scores) / seconds:.0f} pages/s; baseline all page text F1 {base:.3f} (ratio {mean / base:.2f})"
    )


def bench_changed_feed(corpus: Path, items: int = 50, runs: int = 20) -> None:
    from html import escape

    from services.poller.fetch import Document
    from services.poller.parsers.feeds import parse_feed
    from services.poller.unchanged import reduce_feed

    articles = []
    for path in sorted((corpus / "news").glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for _, line in zip(range(20), handle, strict=False):  # every dataset
                articles.append(json.loads(line))
    articles = articles[: items + 1]

    def document(window: list[dict[str, str]]) -> Document:
        body = "".join(
            f"<item><title>{escape(a.get('title') or '')}</title>"
            f"<link>https://news.example/{escape(a['id'])}</link>"
            f"<description>{escape(a.get('body') or '')}</description></item>"
            for a in window
        )
        xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title><link>https://news.example/</link>{body}</channel></rss>'
        return Document("https://news.example/feed.xml", xml.encode(), "application/rss+xml")

    before, after = document(articles[1:]), document(articles[:items])
    last = reduce_feed(before, None)
    assert last is not None

    def per_change(work: Any) -> float:
        started = time.perf_counter()
        for _ in range(runs):
            work()
        return (time.perf_counter() - started) / runs * 1000

    def reduced() -> int:
        out = reduce_feed(after, last.seen)
        assert out is not None and out.kept == 1
        return len(parse_feed(out.doc).items)

    whole = per_change(lambda: parse_feed(after))
    fast = per_change(reduced)
    print(
        f"changed feed ({items} items, {len(after.body) / 1024:.0f} KiB, 1 new): "
        f"{fast:.2f} ms per change without the unchanged items; baseline the whole feed "
        f"through feedparser {whole:.2f} ms (ratio {fast / whole:.3f})"
    )


def bench_repair(corpus: Path) -> None:
    from services.poller.parsers import html

    texts = []
    for path in sorted((corpus / "news").glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts.append((record.get("title") or "", record.get("body") or ""))

    def per_article() -> float:
        started = time.perf_counter()
        for title, body in texts:
            html.tidy(title)
            html.tidy(body)
        return (time.perf_counter() - started) / len(texts) * 1e6

    repaired = sum(html.repair(t) != t or html.repair(b) != b for t, b in texts)
    with_repair = min(per_article() for _ in range(3))
    original = html.repair
    html.repair = lambda text: text  # the baseline: no repair
    try:
        without = min(per_article() for _ in range(3))
    finally:
        html.repair = original
    print(
        f"text repair ({len(texts):,} articles, {repaired} repaired): tidy {with_repair:.1f} us "
        f"per article; baseline without the repair {without:.1f} us "
        f"(ratio {with_repair / without:.2f})"
    )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--rebuild-ids", type=int, default=1_000_000)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")),
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["polling", "rebuild", "extraction", "changed", "repair"],
    )
    args = parser.parse_args()
    if "polling" not in args.skip:
        bench_polling(args.feeds, args.items)
    if "rebuild" not in args.skip and args.rebuild_ids:
        bench_rebuild(args.rebuild_ids)
    if "extraction" not in args.skip:
        if (args.corpus / "pages").is_dir():
            bench_extraction(args.corpus)
        else:
            print(f"extraction: skipped, no corpus at {args.corpus}")
    if "changed" not in args.skip:
        if (args.corpus / "news").is_dir():
            bench_changed_feed(args.corpus)
        else:
            print(f"changed feed: skipped, no corpus at {args.corpus}")
    if "repair" not in args.skip:
        if (args.corpus / "news").is_dir():
            bench_repair(args.corpus)
        else:
            print(f"text repair: skipped, no corpus at {args.corpus}")


if __name__ == "__main__":
    main()
