"""Latency of the read API under load: GET /alerts (first page, filtered) and article search,
with 100,000 alerts and 1,000,000 articles in the read model, 50 concurrent clients, against
a real uvicorn on 127.0.0.1 (a subprocess, so the load generator does not share its GIL).

Synthetic rows are written straight into the read model (the same schema the projections
keep; FTS index built in one pass). Prints p50 / p95 / p99 per query, requests per second,
and the ratio to a baseline measured in the same run: GET /healthz (the framework and HTTP
cost with no database work). Target: p99 <= 100 ms.

    python bench/api.py [--articles 1000000] [--alerts 100000] [--requests 1000] [--clients 50]
                        [--workers 1] [--dir DIR (keep/reuse the generated data)]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from services.projections.schema import DDL
from services.projections.store import ReadModel

TOKEN = "bench-token-0123456789abcdef"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WORDS = [
    "armenia",
    "azerbaijan",
    "georgia",
    "russia",
    "turkey",
    "iran",
    "csto",
    "nato",
    "border",
    "shelling",
    "ceasefire",
    "summit",
    "sanctions",
    "energy",
    "pipeline",
    "protest",
    "election",
    "ministry",
    "defence",
    "troops",
    "drone",
    "village",
    "corridor",
    "talks",
    "treaty",
    "peace",
    "refugees",
    "minister",
    "president",
    "parliament",
    "karabakh",
    "syunik",
    "tavush",
    "gas",
]
FILLER = [f"w{i}" for i in range(3000)]
SOURCES = [f"src-{i:02d}" for i in range(40)]
RULES = [f"rule-{i:02d}" for i in range(30)]
COUNTRIES = ["AM", "AZ", "GE", "RU", "TR", "IR"]
SEVERITIES = ["low", "medium", "high", "critical"]


def generate(path: Path, n_articles: int, n_alerts: int) -> None:
    ReadModel(path).close()  # the schema
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    for trig in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
        conn.execute(f"DROP TRIGGER {trig}")
    rnd = random.Random(42)
    started = time.monotonic()

    def articles():
        for i in range(n_articles):
            words = rnd.choices(WORDS, k=4) + rnd.choices(FILLER, k=24)
            title = " ".join(words[:6]).capitalize()
            text = " ".join(words[4:])
            ms = T0 + i * 2_000
            yield (
                i + 1,
                f"art_{i:08d}",
                SOURCES[i % len(SOURCES)],
                f"https://n.example.org/{i}",
                title,
                "",
                text,
                ms,
                ms + 500,
                f"h{i}",
                "en",
                "en",
                "e1",
                ms + 900,
                ms + 500,
                json.dumps(sorted(set(rnd.sample(COUNTRIES, 2)))),
                '["border"]',
                "[]",
            )

    conn.executemany(
        "INSERT INTO articles (id, article_id, source_id, url, title, summary, text, published_ms, fetched_ms,"
        " content_hash, language_hint, language, enricher_version, enriched_ms, enriched_fetched_ms,"
        " countries, tags, entities) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        articles(),
    )
    conn.commit()
    print(f"  articles: {n_articles:,} rows in {time.monotonic() - started:.1f}s", flush=True)
    t = time.monotonic()
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
    conn.commit()
    print(f"  FTS index in {time.monotonic() - t:.1f}s", flush=True)
    t = time.monotonic()
    alerts, links, countries = [], [], []
    for i in range(n_alerts):
        art = rnd.randrange(n_articles)
        ms = T0 + art * 2_000 + 60_000
        sev = rnd.choices(range(4), weights=(5, 3, 2, 1))[0]
        aid = f"alr_{i:08d}"
        alerts.append(
            (
                aid,
                RULES[i % len(RULES)],
                "v1",
                "rs1",
                SEVERITIES[sev],
                sev,
                f"Alert {i} on article {art}",
                "",
                f"art_{art:08d}",
                "{}",
                json.dumps(
                    [
                        {
                            "article_id": f"art_{art:08d}",
                            "source_id": SOURCES[art % 40],
                            "title": "t",
                            "published_at": "2026-01-01T00:00:00Z",
                        }
                    ]
                ),
                "[]",
                json.dumps([SOURCES[art % 40]]),
                1,
                0,
                ms,
                ms,
                ms,
                ms,
                rnd.choices(["open", "acknowledged", "resolved"], weights=(6, 2, 2))[0],
            )
        )
        links.append((aid, f"art_{art:08d}"))
        for c in rnd.sample(COUNTRIES, 2):
            countries.append((c, ms, aid))
    conn.executemany(
        "INSERT INTO alerts (alert_id, rule_id, rule_version, ruleset_version, severity, severity_rank, title,"
        " description, key, labels, articles, evidence, sources, source_count, revision, first_seen_ms,"
        " last_seen_ms, raised_ms, updated_ms, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        alerts,
    )
    conn.executemany("INSERT OR IGNORE INTO alert_articles VALUES (?, ?)", links)
    conn.executemany("INSERT OR IGNORE INTO alert_countries VALUES (?, ?, ?)", countries)
    conn.commit()
    conn.executescript(DDL)  # the triggers again
    conn.execute("ANALYZE")
    conn.commit()
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    print(f"  alerts: {n_alerts:,} rows in {time.monotonic() - t:.1f}s", flush=True)


APP_MODULE = """
from pathlib import Path
from services.api.app import create_app
from services.api.settings import ApiConfig, ApiToken
from services.runtime.bootstrap import open_event_log
from services.runtime.settings import Settings

def app():
    settings = Settings(log="sqlite:///{dir}/log.db")
    config = ApiConfig(read_model=Path("{dir}/read.db"), tokens=(ApiToken(name="bench", token="{token}"),))
    return create_app(config, settings, open_event_log(settings))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(url: str, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Every path requested once, ``clients`` keep-alive connections at a time; latencies in
    ms and the wall time. A minimal HTTP/1.1 client on asyncio streams: httpx's async pool
    tops out near 180 requests/s with 50 connections here, so it measured itself, not the
    server."""
    host, port = url.removeprefix("http://").split(":")
    queue = list(reversed(paths))
    latencies: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue:
                path = queue.pop()
                t = time.perf_counter()
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
                )
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                latencies.append((time.perf_counter() - t) * 1000)
                if b" 200 " not in status:
                    raise RuntimeError(f"{path}: {status!r} {body[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    tmp = args.dir or Path(tempfile.mkdtemp(prefix="tocsin-bench-api-"))
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "read.db"
    if not db.exists():
        print(
            f"generating {args.articles:,} articles and {args.alerts:,} alerts in {db}", flush=True
        )
        t = time.monotonic()
        generate(db, args.articles, args.alerts)
        print(
            f"generated in {time.monotonic() - t:.1f}s ({db.stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )
    port = free_port()
    (tmp / "tocsin_bench_app.py").write_text(APP_MODULE.format(dir=tmp, token=TOKEN))
    root = str(Path(__file__).resolve().parents[1])
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tocsin_bench_app:app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{root}"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        rnd = random.Random(7)
        n = args.requests
        cases = {
            "baseline GET /healthz": ["/healthz"] * n,
            "GET /alerts (first page, 50)": ["/alerts?limit=50"] * n,
            "GET /alerts filtered (rule, severity>=high, status)": [
                f"/alerts?limit=50&rule={rnd.choice(RULES)}&min_severity=high&status=open"
                for _ in range(n)
            ],
            "GET /alerts filtered (country)": [
                f"/alerts?limit=50&country={rnd.choice(COUNTRIES)}" for _ in range(n)
            ],
            "GET /articles?q= (one word)": [
                f"/articles?limit=20&q={rnd.choice(WORDS)}" for _ in range(n)
            ],
            "GET /articles?q= (two words)": [
                f"/articles?limit=20&q={rnd.choice(WORDS)}+{rnd.choice(FILLER)}" for _ in range(n)
            ],
        }
        asyncio.run(
            load(url, ["/alerts?limit=50", "/articles?q=border"] * 50, args.clients)
        )  # warm up
        print(
            f"\n{args.clients} concurrent clients, {n} requests per case, uvicorn workers={args.workers}"
        )
        print(
            f"{'case':55s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'p99/base':>9s}"
        )
        base_p99 = None
        for name, paths in cases.items():
            lat, wall = asyncio.run(load(url, paths, args.clients))
            p50, p95, p99 = pct(lat, 50), pct(lat, 95), pct(lat, 99)
            base_p99 = base_p99 or p99
            verdict = (
                "" if name.startswith("baseline") else ("  ok" if p99 <= 100 else "  over target")
            )
            print(
                f"{name:55s} {p50:8.1f} {p95:8.1f} {p99:8.1f} {len(lat) / wall:8.0f} {p99 / base_p99:9.2f}{verdict}"
            )
        print("\ntarget: p99 <= 100 ms")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
