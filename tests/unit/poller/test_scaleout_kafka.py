"""Two pollers on one Kafka log (the session's broker): they split the sources through the
consumer group on ``sources.polled``, never poll a source twice in one schedule cycle, and
the survivor takes over the sources of a poller that stops.

Each poller is a whole ``PollerService`` (scheduler, shared client, ownership thread) with its
own ``KafkaLog``, as two processes would have, and its own User-Agent, so the HTTP server on
127.0.0.1 can tell who polled which feed when.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
from feed_server import FeedServer, Route, rss
from kafka_broker import delete_topics, kafka_test_url
from pollers import RunningPoller
from waiting import wait_until as _wait

from services.eventlog import open_log
from services.eventlog.base import partition_for_key
from services.poller.config import load_sources
from services.runtime.bootstrap import tocsin_topics, topic
from services.runtime.settings import Settings

pytestmark = pytest.mark.kafka

EVERY_S = 1.0
SOURCES = 12


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> Iterator[Settings]:
    """Settings on the test broker under a prefix of its own; its topics deleted at teardown."""
    url = kafka_test_url(kafka_bootstrap)
    settings = Settings(log=url, topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    topics = tocsin_topics(settings)
    with open_log(url) as log:
        log.create_topics(topics)
    yield settings
    delete_topics(url, [t.name for t in topics])


#: A poller in a process of its own (killed with SIGKILL by the test: no goodbye to the group).
CHILD = """
import json, sys
from services.eventlog import open_log
from services.poller.config import load_sources
from services.poller.fetch import FetchOptions
from services.poller.runner import PollerService
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings

args = json.loads(sys.argv[1])
settings = Settings(log=args["url"], topic_prefix=args["prefix"])
options = FetchOptions(user_agent=args["agent"], politeness_delay_s=0.0, retries=0,
                       connect_timeout_s=1.0, read_timeout_s=1.0, trust_env=False)
log = open_log(args["url"])
PollerService(ServiceContext(settings=settings, log=log), load_sources(args["sources"]),
              options=options).run()
"""


def _per_source(
    server: FeedServer, since: float, until: float
) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for when, path, agent in list(server.timeline):
        if since <= when < until:
            out[path].append((when, agent))
    return out


def _assert_one_poll_per_cycle(
    polls: dict[str, list[tuple[float, str]]], paths: list[str], cycles: float
) -> None:
    for path in paths:
        times = sorted(t for t, _ in polls.get(path, []))
        assert len(times) >= int(cycles) - 1, f"{path} polled {len(times)} times in {cycles} cycles"
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # two pollers on one source would put two requests into one cycle
        assert all(g > EVERY_S / 2 for g in gaps), f"{path} polled twice in a cycle: {gaps}"
        assert len(times) <= cycles + 1, f"{path} polled {len(times)} times in {cycles} cycles"


def test_two_pollers_on_kafka_split_the_sources_and_the_survivor_takes_over(
    kafka_settings: Settings, server: FeedServer
) -> None:
    paths = [f"/feed/{i}" for i in range(SOURCES)]
    raw = [
        {
            "id": f"src-{i}",
            "url": server.add(path, Route(rss([(f"https://news.example/{i}/a", f"Story {i}")]))),
            "every": EVERY_S,
            "jitter": 0,
        }
        for i, path in enumerate(paths)
    ]
    sources = load_sources(raw)
    partitions = {f"/feed/{i}": partition_for_key(f"src-{i}".encode(), 3) for i in range(SOURCES)}
    assert len(set(partitions.values())) == 3  # the sources cover every partition
    url = kafka_settings.log
    a = RunningPoller("a", kafka_settings, url, sources).start()
    b: RunningPoller | None = None
    try:
        _wait(lambda: a.owned == {0, 1, 2}, "the first poller owns every partition")
        b = RunningPoller("b", kafka_settings, url, sources).start()
        pb = b
        _wait(
            lambda: (
                bool(pb.owned)
                and bool(a.owned)
                and not a.owned & pb.owned
                and a.owned | pb.owned == {0, 1, 2}
            ),
            "the second poller gets a share, disjoint from the first's",
        )
        split_a, split_b = a.owned, b.owned
        start = time.monotonic() + 0.5  # polls started before the split have finished
        time.sleep(0.5 + 3 * EVERY_S)
        window = _per_source(server, start, time.monotonic())
        assert (a.owned, b.owned) == (split_a, split_b), "the split must hold while measured"
        _assert_one_poll_per_cycle(window, paths, 3)
        for path in paths:
            agents = {agent for _, agent in window[path]}
            owner = "a" if partitions[path] in split_a else "b"
            assert agents == {f"tocsin-test-{owner}"}, (path, agents, owner)
        by_agent = {agent for polls in window.values() for _, agent in polls}
        assert by_agent == {"tocsin-test-a", "tocsin-test-b"}

        # poller b goes away: a takes its partitions back and polls all the sources
        b.stop()
        stopped = time.monotonic()
        _wait(lambda: a.owned == {0, 1, 2}, "the survivor owns every partition again")
        start = time.monotonic() + 0.5
        time.sleep(0.5 + 3 * EVERY_S)
        after = _per_source(server, start, time.monotonic())
        print("\n".join(r.line() for r in a.service.reports[-40:]))
        print(sorted((round(t - start, 2), p) for p, v in after.items() for t, _ in v))
        _assert_one_poll_per_cycle(after, paths, 3)
        assert {agent for polls in after.values() for _, agent in polls} == {"tocsin-test-a"}
        late_b = [
            (t - stopped, p)
            for t, p, agent in server.timeline
            if agent == "tocsin-test-b" and t > stopped
        ]
        assert not late_b, f"the stopped poller polled after it stopped: {late_b}"

        # and through the joins and the takeover too, no source was polled twice in a cycle
        whole = _per_source(server, 0.0, time.monotonic())
        for path in paths:
            times = sorted(t for t, _ in whole[path])
            gaps = [round(b - x, 3) for x, b in itertools.pairwise(times)]
            assert min(gaps) > EVERY_S / 2, f"{path} polled twice in a cycle: {gaps}"

        # every poll of every source is on the log, once per request, with nothing duplicated
        with (
            open_log(url) as reader,
            reader.consumer([topic(kafka_settings, "articles.published")], group=None) as consumer,
        ):
            keys: list[bytes | None] = []
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(keys) < SOURCES:
                keys.extend(r.key for r in consumer.poll(1000, 0.2))
        assert len(keys) == SOURCES == len(set(keys)), "each article published exactly once"
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_a_killed_poller_process_loses_its_sources_to_the_survivor(
    kafka_settings: Settings, server: FeedServer
) -> None:
    paths = [f"/feed/{i}" for i in range(SOURCES)]
    raw = [
        {
            "id": f"src-{i}",
            "url": server.add(path, Route(rss([(f"https://news.example/{i}/k", f"Kill {i}")]))),
            "every": EVERY_S,
            "jitter": 0,
        }
        for i, path in enumerate(paths)
    ]
    url = kafka_settings.log
    a = RunningPoller("a", kafka_settings, url, load_sources(raw)).start()
    child: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: a.owned == {0, 1, 2}, "the first poller owns every partition")
        args = {
            "url": url,
            "prefix": kafka_settings.topic_prefix,
            "agent": "tocsin-test-child",
            "sources": raw,
        }
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        _wait(
            lambda: bool(a.owned) and a.owned != {0, 1, 2},
            "the child poller takes a share",
            timeout_s=30,
        )
        _wait(
            lambda: any(agent == "tocsin-test-child" for _, _, agent in server.timeline),
            "the child poller polls its share",
        )
        child_share = {0, 1, 2} - a.owned
        time.sleep(2 * EVERY_S)
        child_paths = {p for _, p, agent in server.timeline if agent == "tocsin-test-child"}
        assert child_paths == {
            p
            for i, p in enumerate(paths)
            if partition_for_key(f"src-{i}".encode(), 3) in child_share
        }

        child.send_signal(signal.SIGKILL)  # dies without leaving the group
        child.wait(timeout=10)
        killed = time.monotonic()
        _wait(lambda: a.owned == {0, 1, 2}, "the survivor takes the dead poller's partitions")
        takeover = time.monotonic() - killed
        assert takeover < 15, f"takeover took {takeover:.1f} s"
        start = time.monotonic() + 0.5
        time.sleep(0.5 + 3 * EVERY_S)
        after = _per_source(server, start, time.monotonic())
        _assert_one_poll_per_cycle(after, paths, 3)
        assert {agent for polls in after.values() for _, agent in polls} == {"tocsin-test-a"}
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        a.stop()
