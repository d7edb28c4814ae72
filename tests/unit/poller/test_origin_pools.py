"""Per-origin connection pools under the fetcher's one client, against real servers on 127.0.0.1.

Each ``FeedServer`` listens on its own port, so each is its own origin. What must hold:
connections are reused within an origin; a new origin past ``max_origins`` closes the least
recently used idle pool (its connections with it); pools idle past the keep-alive expiry are
closed; ``max_connections`` still bounds the requests on the wire over all origins together,
and waiting past the pool timeout is ``httpx.PoolTimeout`` (a ``FetchTimeout`` for the poller).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from feed_server import FAST, FeedServer, Route

from services.poller.errors import FetchTimeout
from services.poller.fetch import Fetcher, Validators, translate
from services.poller.pools import OriginPools


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    started = [FeedServer().start() for _ in range(3)]
    yield started
    for srv in started:
        srv.stop()


def _pools(fetcher: Fetcher) -> OriginPools:
    transport = fetcher.client._transport
    assert isinstance(transport, OriginPools)
    return transport


def test_each_origin_reuses_its_connection_and_the_lru_cap_closes_the_oldest(
    servers: list[FeedServer],
) -> None:
    urls = [srv.add("/f", Route(b"<rss/>")) for srv in servers]
    opts = replace(FAST, max_origins=2)

    async def go() -> tuple[list[int], int]:
        fetcher = Fetcher(opts)
        try:
            statuses = []
            for url in (urls[0], urls[1], urls[0], urls[1]):  # two origins: both kept
                statuses.append((await fetcher.fetch(url, Validators())).http_status or 0)
            assert len(_pools(fetcher)) == 2
            statuses.append((await fetcher.fetch(urls[2], Validators())).http_status or 0)
            kept = len(_pools(fetcher))  # the third origin closed the least recently used
            statuses.append((await fetcher.fetch(urls[0], Validators())).http_status or 0)
            return statuses, kept
        finally:
            await fetcher.aclose()

    statuses, kept = asyncio.run(go())
    assert statuses == [200] * 6
    assert kept == 2
    # origin 0 was the least recently used when origin 2 came: its connection was closed,
    # so its third request needed a new one; origin 1 was never evicted
    assert [srv.connections for srv in servers] == [2, 1, 1]


def test_pools_idle_past_the_keepalive_expiry_are_closed() -> None:
    async def go() -> list[int]:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        pools = OriginPools(
            ssl_context=ssl_context,
            keepalive=2,
            max_connections=10,
            max_origins=10,
            keepalive_expiry=0.05,
        )
        srvs = [FeedServer().start() for _ in range(2)]
        try:
            urls = [s.add("/f", Route(b"ok")) for s in srvs]
            async with httpx.AsyncClient(transport=pools) as client:
                sizes = []
                for url in urls:
                    assert (await client.get(url)).status_code == 200
                sizes.append(len(pools))
                await asyncio.sleep(1.1)  # past the expiry and the sweep interval
                assert (await client.get(urls[0])).status_code == 200
                sizes.append(len(pools))
                return sizes
        finally:
            for s in srvs:
                s.stop()

    assert asyncio.run(go()) == [2, 1]


def test_max_connections_bounds_requests_over_all_origins(servers: list[FeedServer]) -> None:
    urls = [srv.add("/slow", Route(b"<rss/>", delay_s=0.2)) for srv in servers[:2]]
    opts = replace(FAST, max_connections=1, total_timeout_s=5.0)

    async def go() -> float:
        fetcher = Fetcher(opts)
        try:
            started = time.monotonic()
            results = await asyncio.gather(*(fetcher.fetch(u, Validators()) for u in urls))
            assert [r.http_status for r in results] == [200, 200]
            return time.monotonic() - started
        finally:
            await fetcher.aclose()

    assert asyncio.run(go()) >= 0.4  # two origins, one slot: one after the other


def test_waiting_past_the_pool_timeout_is_a_fetch_timeout(servers: list[FeedServer]) -> None:
    hang = servers[0].add("/hang", Route(hang=True))
    other = servers[1].add("/f", Route(b"<rss/>"))
    pools = OriginPools(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        keepalive=2,
        max_connections=1,
        max_origins=10,
    )

    async def go() -> httpx.PoolTimeout:
        timeout = httpx.Timeout(connect=1.0, read=10.0, write=1.0, pool=0.3)
        async with httpx.AsyncClient(transport=pools, timeout=timeout) as client:
            holder = asyncio.create_task(client.get(hang))
            await asyncio.sleep(0.1)  # the hanging request holds the only slot
            with pytest.raises(httpx.PoolTimeout) as caught:
                await client.get(other)
            holder.cancel()
            with pytest.raises(asyncio.CancelledError):
                await holder
            # the slot came back with the cancelled request: the next one goes through
            assert (await client.get(other)).status_code == 200
            return caught.value

    exc = asyncio.run(go())
    error = translate(exc, other, FAST)
    assert isinstance(error, FetchTimeout) and "no free connection in time" in str(error)
