"""Notifier benchmark: deliveries/s to a local webhook receiver, and alert latency
(``alert.raised`` appended -> webhook received) p50/p95/p99 at 50 and 500 alerts/s.

Everything real: the SQLite log in a temporary directory, the notifier service in a thread,
a threaded HTTP receiver on 127.0.0.1. The baseline, measured in the same run, is one httpx
client posting the same bodies to the same receiver as fast as it can (the ceiling a single
webhook subscription could reach). No timing is asserted.

    /work/venv/bin/python bench/notifier.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from schemas import AlertArticle, AlertRaised, Severity, new_event
from schemas.ids import alert_id
from services.eventlog import open_log
from services.eventlog.codec import encode
from services.notifier.runner import NotifierOptions, build
from services.runtime.bootstrap import tocsin_topics
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


class Receiver:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                doc = json.loads(body)
                with receiver.lock:
                    for a in doc.get("alerts", ()):
                        receiver.times.setdefault(a["alert_id"], now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def make_alert(run: str, n: int) -> AlertRaised:
    now = datetime.now(UTC)
    art = f"art_{run}_{n}"
    return AlertRaised(
        alert_id=alert_id("bench", "r1", art),
        rule_id="bench",
        rule_version="r1",
        ruleset_version="rs1",
        severity=Severity.HIGH,
        title=f"Benchmark alert {n}",
        key=art,
        articles=(AlertArticle(article_id=art, source_id="bench", published_at=now),),
        first_seen=now,
        last_seen=now,
        source_count=1,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_notifier(receiver: Receiver, directory: Path, name: str):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{directory / (name + '.db')}"
    cfg = Settings(
        log=url,
        subscriptions=[
            {
                "id": "bench",
                "channel": {"kind": "webhook", "url": receiver.url, "secret": "bench-secret"},
                "delivery": {"rate_per_minute": 1_000_000, "timeout_s": 5},
            }
        ],
    )
    elog = open_log(url)
    elog.create_topics(tocsin_topics(cfg))
    stop = threading.Event()
    service = build(
        ServiceContext(settings=cfg, log=elog, stop=stop), NotifierOptions(alert_url="")
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    return elog, stop, thread


def wait_all(receiver: Receiver, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with receiver.lock:
            if all(i in receiver.times for i in ids):
                return
        time.sleep(0.01)


def throughput(directory: Path, count: int) -> tuple[float, int]:
    receiver = Receiver()
    alerts = [make_alert("tp", n) for n in range(count)]
    elog, stop, thread = run_notifier(receiver, directory, "throughput")
    time.sleep(0.5)
    started = time.time()
    elog.append(
        [
            encode(
                new_event(a, id=a.alert_id, source="/bench"), topic="alerts.raised", key=a.alert_id
            )
            for a in alerts
        ]
    )
    ids = [a.alert_id for a in alerts]
    wait_all(receiver, ids, 120)
    got = sum(1 for i in ids if i in receiver.times)
    elapsed = max(receiver.times.values()) - started
    stop.set()
    thread.join(10)
    elog.close()
    return got / elapsed, got


def baseline(count: int) -> float:
    receiver = Receiver()
    body = json.dumps({"alerts": [make_alert("bl", 0).model_dump(mode="json")]}).encode()
    with httpx.Client(timeout=5) as client:
        started = time.perf_counter()
        for _ in range(count):
            client.post(receiver.url, content=body, headers={"Content-Type": "application/json"})
        return count / (time.perf_counter() - started)


def latency(directory: Path, rate: int, seconds: float) -> dict[str, float]:
    receiver = Receiver()
    elog, stop, thread = run_notifier(receiver, directory, f"latency{rate}")
    time.sleep(0.5)
    appended: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.perf_counter()
    for n in range(total):
        due = start + n / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        a = make_alert(f"lat{rate}", n)
        appended[a.alert_id] = time.time()
        elog.append(
            [
                encode(
                    new_event(a, id=a.alert_id, source="/bench"),
                    topic="alerts.raised",
                    key=a.alert_id,
                )
            ]
        )
    achieved = total / (time.perf_counter() - start)
    wait_all(receiver, list(appended), 60)
    stop.set()
    thread.join(10)
    elog.close()
    lat = [(receiver.times[i] - t) * 1000 for i, t in appended.items() if i in receiver.times]
    return {
        "offered_per_s": rate,
        "achieved_per_s": achieved,
        "received": len(lat),
        "sent": total,
        "p50_ms": percentile(lat, 0.50),
        "p95_ms": percentile(lat, 0.95),
        "p99_ms": percentile(lat, 0.99),
        "mean_ms": statistics.fmean(lat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each latency run")
    parser.add_argument("--count", type=int, default=2000, help="alerts in the throughput burst")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        base = baseline(args.count)
        rate, got = throughput(directory, args.count)
        print(f"throughput: {rate:,.0f} deliveries/s ({got} of {args.count} alerts, burst)")
        print(f"baseline (one httpx client posting serially): {base:,.0f} posts/s")
        print(f"ratio notifier/baseline: {rate / base:.2f}")
        for r in (50, 500):
            res = latency(directory, r, args.seconds)
            print(
                f"latency at {r} alerts/s (achieved {res['achieved_per_s']:.0f}/s, "
                f"{res['received']}/{res['sent']} received): p50 {res['p50_ms']:.1f} ms, "
                f"p95 {res['p95_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, mean {res['mean_ms']:.1f} ms"
            )


if __name__ == "__main__":
    main()
