"""One small connection pool per origin, behind the poller's one ``httpx.AsyncClient``.

Why: httpcore's pool, on every request, walks every connection it keeps and asks each idle
one whether it expired (``has_expired`` -> ``is_socket_readable``, a syscall). With one
pool for a hundred hosts polled every second that walk was most of the poller's CPU. Here
the client stays one (its redirect policy, headers, timeouts, proxies from the environment,
size caps in the fetcher: all as before) and only the transport under it is split: a request
goes to the pool of its origin (scheme, host, port), so the walk covers that origin's few
connections. Bounds:

- per origin at most ``keepalive`` idle connections kept (the per-host concurrency: the
  host gate never lets more requests run on one host at once);
- at most ``max_connections`` requests on the wire over all origins together (what the one
  pool's ``max_connections`` bounded before); a request waits for a slot up to the pool
  timeout, then fails with ``httpx.PoolTimeout`` as before;
- at most ``max_origins`` pools: the least recently used idle one is closed (its kept-alive
  connections with it) when a new origin would pass the cap;
- a pool idle for longer than the keep-alive expiry holds nothing reusable (its connections
  have expired), so it is closed at the next sweep (at most one a second) rather than at its
  origin's next request: a host polled every few minutes does not hold a socket between polls.

A request that must not reach the internal network (``INTERNAL_OK`` false: a public source's
fetches, redirects included) goes to a pool of its own whose connections are checked on the
socket (``runtime.egress``), so it never reuses a connection that an internal source's fetch
opened to the same name.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpx

from services.runtime.addresses import is_internal_address
from services.runtime.egress import AsyncCheckedTransport, IsInternal

#: request extension: whether this fetch may reach internal addresses (the fetcher sets it
#: from the source's own URL; httpx carries a request's extensions over to its redirects)
INTERNAL_OK = "tocsin.internal_ok"
#: (scheme, host, port, whether the connections are checked)
Origin = tuple[bytes, bytes, int | None, bool]
SWEEP_EVERY_S = 1.0


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool set when it is closed (the request is over)."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class OriginPools(httpx.AsyncBaseTransport):
    """Routes each request to its origin's own ``httpx.AsyncHTTPTransport``, made on first use."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        keepalive: int,
        max_connections: int,
        max_origins: int,
        keepalive_expiry: float | None = 5.0,
        internal: IsInternal = is_internal_address,
    ) -> None:
        self._ssl = ssl_context
        self._internal = internal
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max(1, keepalive),
            keepalive_expiry=keepalive_expiry,
        )
        self._max_origins = max(1, max_origins)
        self._slots = asyncio.Semaphore(max(1, max_connections))
        self._pools: OrderedDict[Origin, httpx.AsyncHTTPTransport] = OrderedDict()
        self._busy: dict[Origin, int] = {}
        self._expiry = keepalive_expiry
        self._idle_since: dict[Origin, float] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        checked = not request.extensions.get(INTERNAL_OK, True)
        origin: Origin = (url.raw_scheme, url.raw_host, url.port, checked)
        await self._acquire_slot(request)
        self._busy[origin] = self._busy.get(origin, 0) + 1
        try:
            pool = await self._pool(origin)
            response = await pool.handle_async_request(request)
        except BaseException:
            self._release(origin)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, lambda: self._release(origin))
        return response

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        self._idle_since.clear()
        for pool in pools:
            await pool.aclose()

    async def _acquire_slot(self, request: httpx.Request) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: no wait
            return
        timeouts = request.extensions.get("timeout", {})
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no free connection in time", request=request) from exc

    def _release(self, origin: Origin) -> None:
        self._slots.release()
        left = self._busy[origin] - 1
        if left:
            self._busy[origin] = left
        else:
            del self._busy[origin]
            if origin in self._pools:
                self._idle_since[origin] = time.monotonic()

    async def _pool(self, origin: Origin) -> httpx.AsyncHTTPTransport:
        """The origin's pool (made on first use); idle pools past the caps are closed."""
        now = time.monotonic()
        if now >= self._next_sweep:
            await self._sweep(now)
        pool = self._pools.get(origin)
        if pool is not None:
            self._pools.move_to_end(origin)
            self._idle_since.pop(origin, None)
            return pool
        pool = self._pools[origin] = (
            AsyncCheckedTransport(verify=self._ssl, limits=self._limits, internal=self._internal)
            if origin[3]
            else httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits)
        )
        while len(self._pools) > self._max_origins:
            idle = next((o for o in self._pools if o not in self._busy), None)
            if idle is None:
                break  # every pool has a request on the wire: over the cap until one ends
            await self._close(idle)
        return pool

    async def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY_S
        if self._expiry is None:
            return
        for origin in [o for o, t in self._idle_since.items() if now - t > self._expiry]:
            # checked again: a request may have taken the pool while an earlier one closed
            since = self._idle_since.get(origin)
            if since is not None and now - since > self._expiry and origin not in self._busy:
                await self._close(origin)

    async def _close(self, origin: Origin) -> None:
        """Forget the pool first (a new request makes a fresh one), then close it."""
        self._idle_since.pop(origin, None)
        pool = self._pools.pop(origin, None)
        if pool is not None:
            await pool.aclose()
