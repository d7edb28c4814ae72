"""Polling faster than once a second: only for sources that declare their host's delay, which
the fetcher then enforces for that host (and the default 1 s for every other host)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from feed_server import FeedServer, Route, rss

from services.eventlog import open_log
from services.poller.assignment import AllSources
from services.poller.config import SourceConfigError, host_delays, load_sources
from services.poller.fetch import HostGate
from services.poller.runner import PollerService
from services.runtime.bootstrap import tocsin_topics
from services.runtime.service import ServiceContext
from services.runtime.settings import Settings


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"every": "250ms"}, "needs 'host_delay'"),
        ({"every": 0.5, "host_delay": 0.8}, "shorter than 'host_delay'"),
        ({"every": "50ms", "host_delay": "50ms"}, "must be at least 0.1 s"),
        ({"every": "10m", "host_delay": 0}, "host_delay: must be at least 0.1 s"),
    ],
)
def test_sub_second_every_needs_a_declared_host_delay(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(SourceConfigError) as err:
        load_sources([{"id": "fast", "url": "https://a.example/f", **entry}])
    assert "sources[0] (id 'fast')" in str(err.value) and message in str(err.value)


def test_host_delays_take_the_smallest_declared_per_host() -> None:
    sources = load_sources(
        [
            {"id": "a", "url": "https://A.example/1", "every": 0.25, "host_delay": 0.25},
            {"id": "b", "url": "https://a.example/2", "every": 1, "host_delay": 0.5},
            {"id": "c", "url": "https://b.example/1", "every": 60},
        ]
    )
    assert host_delays(sources) == {"a.example": 0.25}


def test_the_gate_spaces_requests_per_host_by_its_own_delay() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 2))

    async def main() -> None:
        gate = HostGate(4, 1.0, sleep=sleep, host_delays={"fast.example": 0.2})
        for host in ("fast.example",) * 3 + ("slow.example",) * 2:
            (await gate.enter(host)).release()

    asyncio.run(main())
    assert slept[:2] == pytest.approx([0.2, 0.4], abs=0.02)  # the fast host: 0.2 s apart
    assert slept[2] == pytest.approx(1.0, abs=0.02)  # any other host: the default 1 s


def test_a_fast_source_is_polled_at_its_rate_by_the_serving_poller(
    server: FeedServer, tmp_path: Path
) -> None:
    url = server.add("/fast", Route(rss([("https://news.example/f", "F")])))
    url = url.replace("localhost", "127.0.0.1")
    sources = load_sources(
        [{"id": "f", "url": url, "every": "200ms", "host_delay": "200ms", "jitter": 0}]
    )
    log = open_log(f"sqlite:///{tmp_path / 'fast.db'}")
    log.create_topics(tocsin_topics(Settings()))
    stop = threading.Event()
    svc = PollerService(
        ServiceContext(settings=Settings(), log=log, stop=stop), sources, ownership=AllSources()
    )
    assert dict(svc.options.host_delays) == {"127.0.0.1": 0.2}
    thread = threading.Thread(target=svc.run)
    thread.start()
    time.sleep(2.1)
    stop.set()
    thread.join(timeout=10)
    log.close()
    assert not thread.is_alive()
    assert 5 <= server.count("/fast") <= 12  # ~10 in 2 s; at 1 s politeness it would be 2-3
    assert svc.reports[0].new_articles == 1
