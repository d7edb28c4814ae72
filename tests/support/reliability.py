"""The reliability harness: corpus articles in, a real webhook receiver out, and a census of
the log, for the crash and outage tests (tests/reliability) and bench/reliability.py.

- ``write_articles``: N corpus articles (interleaved over the news files, unique ids, a fixed
  publication time each) as a JSONL archive the poller's ``jsonl`` source reads. Written
  to a temp folder, never into the repo.
- ``Receiver``: a threaded HTTP server on 127.0.0.1 that records every webhook POST (the
  ``Idempotency-Key`` header, the subscription, the alert ids and revisions, a body hash).
  A real receiver dedupes by the key (the notifier's contract); ``Receiver.duplicates``
  counts the repeats it would have dropped, so tests can show them honestly.
- ``census``: what the log holds: articles published and enriched per id, alert events,
  delivery outcomes, dead letters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from cli_setup import TOCSIN

from schemas import (
    AlertDelivered,
    AlertDeliveryFailed,
    AlertRaised,
    ArticleEnriched,
    ArticlePublished,
    Severity,
)
from services.eventlog import EventLog
from services.eventlog.codec import decode

NEWS_FILES = (
    "ru_news_samples.jsonl",
    "bbc_articles_2025a.jsonl",
    "bbc_articles_2025b.jsonl",
    "toi_rss_2022.jsonl",
    "nyt_rss_2022.jsonl",
    "bbc_rss_2022.jsonl",
    "bbc_rss_2021_2023_sample.jsonl",
    "bbc_fulltext_2004_2005.jsonl",
    "ag_news_test_2004_2005.jsonl",
    "reuters21578_1987.jsonl",
)
BASE_TIME = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and (record.get("title") or record.get("body")):
                    yield record


def write_articles(corpus: Path, count: int, path: Path, step_s: float = 20.0) -> int:
    """``count`` corpus articles (fewer if the corpus has fewer) as a JSONL archive; each gets
    a unique id and a fixed publication time (``BASE_TIME`` + i * ``step_s``), so two runs
    over the same file raise the same alerts. Returns the number written."""
    sources = [_records(corpus / "news" / name) for name in NEWS_FILES]
    sources = [
        s for s, name in zip(sources, NEWS_FILES, strict=True) if (corpus / "news" / name).exists()
    ]
    written, seen = 0, set()
    with path.open("w", encoding="utf-8") as out:
        while written < count and sources:
            for source in list(sources):
                record = next(source, None)
                if record is None:
                    sources.remove(source)
                    continue
                ident = str(record.get("id") or hashlib.sha1(line_of(record)).hexdigest())
                extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
                url = extra.get("url") if isinstance(extra.get("url"), str) else None
                if ident in seen or (url and url in seen):
                    continue
                seen.update(x for x in (ident, url) if x)
                when = BASE_TIME + timedelta(seconds=written * step_s)
                record = {**record, "id": ident, "published": when.isoformat(), "extra": extra}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
                if written >= count:
                    break
    return written


def line_of(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True).encode()


@dataclass(frozen=True)
class Delivery:
    key: str
    subscription: str
    alerts: tuple[tuple[str, int], ...]  # (alert id, revision)
    body_sha: str


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST and answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    doc = json.loads(body)
                    alerts = tuple(
                        (str(a["alert_id"]), int(a.get("revision", 0))) for a in doc["alerts"]
                    )
                    sub = str(doc.get("subscription_id", ""))
                except (ValueError, KeyError, TypeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                delivery = Delivery(
                    self.headers.get("Idempotency-Key", ""),
                    sub,
                    alerts,
                    hashlib.sha256(body).hexdigest(),
                )
                with owner._lock:
                    owner.deliveries.append(delivery)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def by_key(self) -> Counter[str]:
        return Counter(d.key for d in self.snapshot())

    def duplicates(self) -> int:
        """Repeats a receiver that dedupes by Idempotency-Key drops."""
        return sum(n - 1 for n in self.by_key().values())

    def alerts_per_subscription(self) -> Counter[tuple[str, str, int]]:
        """(subscription, alert id, revision) -> times received, after deduping by key."""
        first: dict[str, Delivery] = {}
        for d in self.snapshot():
            first.setdefault(d.key, d)
        return Counter((d.subscription, a, r) for d in first.values() for a, r in d.alerts)


#: Broad rules added to the default pack: the corpus is general news, where the default
#: (Caucasus and Central Asia) rules fire rarely; these raise hundreds of story and window
#: alerts, so the exactly-once checks have something to count.
EXTRA_RULES = """
rules:
  - id: rel-russia
    title: Russia named
    severity: high
    when: {entity: country:RU}
  - id: rel-burst
    title: Violence burst in ${key}
    when: {terms: [war, attack*, kill*, bomb*]}
    window: {articles: 3, sources: 1, within: 2h, group_by: country}
"""


def write_config(
    folder: Path,
    *,
    log: str,
    articles: Path,
    receiver_url: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A tocsin.yaml: the JSONL source, the default rules plus ``EXTRA_RULES``, two webhook
    subscriptions (everything; high severity and above)."""
    rules = folder / "extra-rules.yaml"
    rules.write_text(EXTRA_RULES, encoding="utf-8")
    config: dict[str, Any] = {
        "log": log,
        "sources": [
            {"id": "corpus", "kind": "jsonl", "url": str(articles), "every": "1h", "jitter": 0}
        ],
        "rules": ["default", str(rules)],
        "subscriptions": [
            {
                "id": "everything",
                "channel": {"kind": "webhook", "url": receiver_url},
                "delivery": {"timeout_s": 5, "max_attempts": 20, "rate_per_minute": 100_000},
            },
            {
                "id": "severe",
                "match": {"min_severity": "high"},
                "channel": {"kind": "webhook", "url": receiver_url},
                "delivery": {"timeout_s": 5, "max_attempts": 20, "rate_per_minute": 100_000},
            },
            {  # the default rate limit: a flood goes out as digests (see the notifier)
                "id": "flood",
                "channel": {"kind": "webhook", "url": receiver_url},
                "delivery": {"timeout_s": 5, "max_attempts": 20},
            },
        ],
        "runtime": {"batch_size": 100, "poll_timeout_s": 0.1, "retry_max_s": 2.0},
        "api": {"port": 0, "read_model": str(folder / "read.db")},
    }
    config.update(extra or {})
    path = folder / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def clean_env(**overrides: str) -> dict[str, str]:
    """The process environment without the caller's TOCSIN_* settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env.update(overrides)
    return env


@dataclass
class Census:
    published: Counter[str] = field(default_factory=Counter)  # article id -> events
    enriched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (article, version)
    alert_events: Counter[str] = field(default_factory=Counter)  # event id -> records
    alerts: dict[str, AlertRaised] = field(default_factory=dict)  # event id -> alert
    delivered: Counter[str] = field(default_factory=Counter)  # delivery id -> outcomes
    failed: int = 0
    deadletters: int = 0
    #: (article, version) -> the distinct enriched payloads seen: a repeat must be identical
    enriched_payloads: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: alert event id -> the distinct alert payloads seen
    alert_payloads: dict[str, set[str]] = field(default_factory=dict)

    def alert_signatures(self) -> Counter[tuple[str, int, tuple[str, ...]]]:
        """Alerts by what they are, not by id: (rule, revision, article ids)."""
        return Counter(
            (a.rule_id, a.revision, tuple(sorted(x.article_id for x in a.articles)))
            for a in self.alerts.values()
        )


def _read_to_end(elog: EventLog, name: str, timeout_s: float = 120.0) -> Iterator[Any]:
    if name not in elog.list_topics():
        return
    ends = elog.end_offsets([name])
    wanted = sum(ends.values())
    got = 0
    deadline = time.monotonic() + timeout_s
    with elog.consumer([name], group=None) as reader:
        for tp in ends:
            reader.seek(tp, 0)
        while got < wanted and time.monotonic() < deadline:
            for record in reader.poll(max_records=5000, timeout_s=0.2):
                if record.offset < ends.get(record.tp, 0):
                    got += 1
                    yield record
    if got < wanted:
        raise AssertionError(f"read only {got} of {wanted} records of {name}")


def _read_quiet(elog: EventLog, name: str, quiet_s: float = 0.8) -> Iterator[Any]:
    """Every record of ``name``, read from the start until nothing came for ``quiet_s``: on
    Tansu end offsets are per batch, so "up to the end offset" would stop short."""
    if name not in elog.list_topics():
        return
    with elog.consumer([name], group=None) as reader:
        for tp in elog.end_offsets([name]):
            reader.seek(tp, 0)
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = reader.poll(max_records=5000, timeout_s=0.2)
            if batch:
                last = time.monotonic()
            yield from batch


def census(elog: EventLog, prefix: str = "", *, kafka: bool = False) -> Census:
    """What the log holds (``kafka``: read each topic until quiet, see ``_read_quiet``)."""
    _read = _read_quiet if kafka else _read_to_end
    out = Census()
    for record in _read(elog, f"{prefix}articles.published"):
        event = decode(record)
        if isinstance(event.data, ArticlePublished):
            out.published[event.data.article_id] += 1
    for record in _read(elog, f"{prefix}articles.enriched"):
        event = decode(record)
        if isinstance(event.data, ArticleEnriched):
            key = (event.data.article.article_id, event.data.enricher_version)
            out.enriched[key] += 1
            out.enriched_payloads.setdefault(key, set()).add(event.data.model_dump_json())
    for record in _read(elog, f"{prefix}alerts.raised"):
        event = decode(record)
        if isinstance(event.data, AlertRaised):
            out.alert_events[event.id] += 1
            out.alerts[event.id] = event.data
            out.alert_payloads.setdefault(event.id, set()).add(event.data.model_dump_json())
    for record in _read(elog, f"{prefix}alerts.delivered"):
        event = decode(record)
        if isinstance(event.data, AlertDelivered):
            out.delivered[event.data.delivery_id] += 1
        elif isinstance(event.data, AlertDeliveryFailed):
            out.failed += 1
    out.deadletters = sum(1 for _ in _read(elog, f"{prefix}deadletter"))
    return out


# -- running tocsin as the user does --------------------------------------------------------


@dataclass
class KillReport:
    kills: int = 0
    moments: list[float] = field(default_factory=list)
    records: list[int] = field(default_factory=list)  # records on the log after each kill
    final_seconds: float = 0.0
    final_records: int = 0


def run_until_idle(config: Path, cwd: Path, env: dict[str, str], timeout_s: float = 600) -> float:
    """``tocsin run --until-idle``; returns its duration; fails loudly on a non-zero exit."""
    start = time.monotonic()
    result = subprocess.run(
        [TOCSIN, "run", "--until-idle", "--status-every", "0", "--config", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"tocsin run failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return time.monotonic() - start


def run_with_kills(
    config: Path,
    cwd: Path,
    env: dict[str, str],
    *,
    log_url: str,
    kills: int,
    window_s: tuple[float, float],
    seed: int,
) -> KillReport:
    """``tocsin run`` (all services, threads) killed with SIGKILL at ``kills`` random moments
    in ``window_s`` after each start, restarted each time; then ``--until-idle`` to finish.
    A run that exits by itself is a crash of its own: it fails with its stderr."""
    rng = random.Random(seed)
    report = KillReport()
    command = [TOCSIN, "run", "--status-every", "0", "--config", str(config)]
    errors = cwd / "run.stderr"
    for _ in range(kills):
        moment = rng.uniform(*window_s)
        with errors.open("wb") as stderr:
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            try:
                code = proc.wait(timeout=moment)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                report.kills += 1
                report.moments.append(round(moment, 2))
            else:
                tail = errors.read_text(errors="replace")[-4000:]
                raise AssertionError(f"tocsin run exited by itself ({code}):\n{tail}")
        report.records.append(_records_on(log_url))
    report.final_seconds = run_until_idle(config, cwd, env)
    report.final_records = _records_on(log_url)
    return report


def _records_on(log_url: str) -> int:
    from services.eventlog import open_log

    with open_log(log_url) as elog:
        return sum(elog.end_offsets().values())


# -- services as separate processes (the Kafka deployment) --------------------------------

SERVICES = ("poller", "enricher", "rules", "notifier")


class ServiceProcesses:
    """``tocsin serve NAME`` for each service, as its own process; kill and restart at will.
    Each process's stderr goes to ``<folder>/<name>.<n>.log`` (the reports of retries)."""

    def __init__(self, config: Path, cwd: Path, env: dict[str, str], names=SERVICES) -> None:  # type: ignore[no-untyped-def]
        self.config, self.cwd, self.env, self.names = config, cwd, env, tuple(names)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()
        self.logs: list[Path] = []

    def start(self, name: str) -> None:
        self.starts[name] += 1
        log = self.cwd / f"{name}.{self.starts[name]}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:
            self.procs[name] = subprocess.Popen(
                [TOCSIN, "serve", name, "--config", str(self.config)],
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                log = self.cwd / f"{name}.{self.starts[name]}.log"
                tail = log.read_text(errors="replace")[-4000:]
                raise AssertionError(f"{name} exited by itself ({proc.returncode}):\n{tail}")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def __enter__(self) -> ServiceProcesses:
        self.start_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_for(
    check: Callable[[], bool],
    timeout_s: float,
    every_s: float = 1.0,
    alive: Callable[[], None] | None = None,
) -> bool:
    """Poll ``check`` until it holds or ``timeout_s`` passed (Kafka: count output records,
    never trust lag == 0 on Tansu)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        if check():
            return True
        time.sleep(every_s)
    return check()


class TcpProxy:
    """A TCP forwarder on 127.0.0.1:``port`` to ``target``; ``cut()`` closes the listener and
    every open connection (clients see the broker vanish), ``restore()`` listens again on
    the same port. The broker must advertise the proxy's address, so that clients reconnect
    through it."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target, self.port = target, port
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cuts = 0

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self.cuts += 1
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()


# -- order-independent checks (Kafka) --------------------------------------------------------
#
# Windowed and story rules depend on the order articles reach the rules service: which
# articles share a window when it fires (and so its key), which copy of a story comes
# first. On SQLite one process reads the partitions in a repeatable order; on Kafka the
# partitions interleave differently from run to run, so a clean run and a killed run can
# legitimately raise different window keys. What must hold whatever the order is checked
# here: no alert raised twice, and every alert on the log delivered exactly once.


def raised_twice(run: Census, rules: dict[str, timedelta | None]) -> list[str]:
    """Alerts that duplicate another: a story rule's article in two alerts, or a windowed
    rule's group alerted again before its suppression ran out. ``rules``: rule id ->
    suppress for windowed rules, None for story rules (rules not named are not checked).

    Suppression as the rules engine defines it (services/rules/engine.py): for one rule and
    group, a new alert is raised only by an article at least ``suppress`` after the open
    alert's first article. That article is the newest of the new alert's first revision
    (its ``last_seen``); the new alert's ``first_seen`` is its window's oldest member and may
    lie well within the previous alert's suppression (a burst that goes on)."""
    first_revision: dict[str, AlertRaised] = {}
    last_revision: dict[str, AlertRaised] = {}
    for alert in sorted(run.alerts.values(), key=lambda a: a.revision):
        first_revision.setdefault(alert.alert_id, alert)
        last_revision[alert.alert_id] = alert  # the last revision holds every article
    problems: list[str] = []
    seen_articles: dict[tuple[str, str], str] = {}
    groups: dict[tuple[str, str], list[AlertRaised]] = {}
    for alert in last_revision.values():
        if alert.rule_id not in rules:
            continue
        if rules[alert.rule_id] is None:
            for article in alert.articles:
                other = seen_articles.setdefault(
                    (alert.rule_id, article.article_id), alert.alert_id
                )
                if other != alert.alert_id:
                    problems.append(
                        f"{alert.rule_id}: {article.article_id} in {other} and {alert.alert_id}"
                    )
        else:
            group = alert.key.rsplit("@", 1)[0]
            groups.setdefault((alert.rule_id, group), []).append(first_revision[alert.alert_id])
    for (rule_id, group), alerts in groups.items():
        suppress = rules[rule_id]
        assert suppress is not None
        alerts.sort(key=lambda a: a.last_seen)
        for before, after in pairwise(alerts):
            if after.last_seen - before.first_seen < suppress:
                problems.append(
                    f"{rule_id}: {group} alerted by {before.alert_id} and, "
                    f"{after.last_seen - before.first_seen} later, by {after.alert_id}"
                )
    return problems


def expected_deliveries(run: Census) -> set[tuple[str, str]]:
    """(subscription, alert id) the two immediate subscriptions of ``write_config`` must get
    for the alerts on the log (first revisions only: ``updates`` is off)."""
    out: set[tuple[str, str]] = set()
    for alert in run.alerts.values():
        out.add(("everything", alert.alert_id))
        if alert.severity.rank >= Severity.HIGH.rank:
            out.add(("severe", alert.alert_id))
    return out


def received(
    rx: Receiver, subscriptions: tuple[str, ...] = ("everything", "severe")
) -> Counter[tuple[str, str]]:
    """(subscription, alert id) -> times received, after deduping by Idempotency-Key."""
    return Counter(
        {(s, a): n for (s, a, _), n in rx.alerts_per_subscription().items() if s in subscriptions}
    )


def rule_kinds(folder: Path) -> dict[str, timedelta | None]:
    """Rule id -> suppression for windowed rules, None for story rules (see raised_twice);
    ``folder`` holds the config ``write_config`` wrote."""
    from services.rules.loader import load_rules

    ruleset = load_rules(["default", str(folder / "extra-rules.yaml")])
    return {
        r.id: (r.rule.suppress if r.rule.window or r.rule.spike else None) for r in ruleset.rules
    }


def settled(
    url: str, prefix: str, clean: Census, rx: Receiver, quiet_s: float = 5.0
) -> Callable[[], bool]:
    """A check for ``wait_for``: every article through, every alert on the log at the
    receiver, and no alert appeared on the log for ``quiet_s``. Why the quiet time: the
    rest can hold while the rules service is still working through its last enriched
    articles, and a late alert would then be on the log but not yet at the receiver."""
    from services.eventlog import open_log

    last: tuple[frozenset[str], float] | None = None

    def check() -> bool:
        nonlocal last
        with open_log(url) as elog:
            now = census(elog, prefix, kafka=True)
        alerts = frozenset(now.alert_events)
        if last is None or last[0] != alerts:
            last = (alerts, time.monotonic())
        done = (
            len(now.published) >= len(clean.published)
            and len(now.enriched) >= len(clean.enriched)
            and bool(now.alerts)
            and set(received(rx)) >= expected_deliveries(now)
        )
        return done and time.monotonic() - last[1] >= quiet_s

    return check


def progress(run: Census, clean: Census, rx: Receiver) -> str:
    """Where a run stands against the clean one (failure messages, the bench)."""
    want = expected_deliveries(run)
    return (
        f"published {len(run.published)}/{len(clean.published)}, "
        f"enriched {len(run.enriched)}/{len(clean.enriched)}, "
        f"alerts {len(run.alert_events)} (clean run {len(clean.alert_events)}, "
        f"{len(set(run.alert_events) & set(clean.alert_events))} the same), "
        f"delivered {len(set(received(rx)) & want)}/{len(want)}, "
        f"dead letters {run.deadletters}, failed deliveries {run.failed}"
    )


def check_end_state(run: Census, clean: Census, rx: Receiver, folder: Path) -> dict[str, int]:
    """The assertions both Kafka proofs share; returns the honest repeat counts."""
    assert set(run.published) == set(clean.published)
    assert set(run.enriched) == set(clean.enriched)
    assert run.failed == 0 and run.deadletters == 0
    twice = raised_twice(run, rule_kinds(folder))
    assert twice == [], f"{len(twice)} alerts raised twice: {twice[:10]}"
    got = received(rx)
    expected = expected_deliveries(run)
    assert set(got) == expected, (
        "each alert on the log reached the receiver: "
        f"not received {sorted(expected - set(got))[:5]} ({len(expected - set(got))}), "
        f"received but not on the log {sorted(set(got) - expected)[:5]} "
        f"({len(set(got) - expected)})"
    )
    assert set(got.values()) == {1}, "after deduping by key, each alert exactly once"
    # the default pack's story rules do not depend on arrival order: the same as clean
    story = {
        rid for rid, kind in rule_kinds(folder).items() if kind is None and rid != "rel-russia"
    }
    assert {e for e, a in run.alerts.items() if a.rule_id in story} == {
        e for e, a in clean.alerts.items() if a.rule_id in story
    }
    # At-least-once on Kafka: a batch whose outputs were appended but whose offsets were not
    # committed (a kill, a cut connection) is processed again. Its outputs come back with the
    # same ids and the same payloads (idempotent outputs), which consumers drop by id.
    changed = {k: v for k, v in run.enriched_payloads.items() if len(v) > 1}
    assert changed == {}, "a repeated enrichment must be the same event, not a new one"
    changed_alerts = sorted(k for k, v in run.alert_payloads.items() if len(v) > 1)
    assert changed_alerts == [], "a repeated alert must be the same event, not a new one"
    return {
        "published_repeats": sum(run.published.values()) - len(run.published),
        "enriched_repeats": sum(run.enriched.values()) - len(run.enriched),
        "alert_event_repeats": sum(run.alert_events.values()) - len(run.alert_events),
        "receiver_key_repeats": rx.duplicates(),
    }


class TansuBehindProxy:
    """A Tansu broker of its own whose advertised listener is a ``TcpProxy`` in front of it,
    so that every client connection (bootstrap and the advertised one) goes through the
    proxy and ``proxy.cut()`` is an outage for all of them."""

    def __init__(self, binary: str, *, log_path: Path) -> None:
        from kafka_broker import _free_port

        self.binary, self.log_path = binary, log_path
        self.broker_port, proxy_port = _free_port(), _free_port()
        self.proxy = TcpProxy(("127.0.0.1", self.broker_port), proxy_port)
        self.bootstrap = f"127.0.0.1:{proxy_port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> TansuBehindProxy:
        from kafka_broker import _die_with_parent, api_versions_ok

        self.proxy.restore()
        with self.log_path.open("ab") as output:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.broker_port}",
                    "--advertised-listener-url",
                    f"tcp://{self.bootstrap}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
                env={**os.environ, "RUST_LOG": "warn"},
            )
        deadline = time.monotonic() + 10
        while not api_versions_ok("127.0.0.1", self.broker_port):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.__exit__()
                raise RuntimeError("tansu did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proxy.cut()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
