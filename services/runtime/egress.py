"""How Tocsin's HTTP clients leave the machine: through the environment's proxies, and,
toward a destination that untrusted input chose, never into the internal network.

Two services connect where untrusted input points: the poller follows a public source's
redirects and links, the notifier posts to subscriptions made through the API. Each checks
the host name first (``addresses``: a clear error before any connection, a lookup per host
and minute). But a name can give that lookup a public address and the connection, a moment
later, an internal one (DNS rebinding: an attacker's name server answering with a zero
TTL). The check that a name cannot fool is made on the socket: ``PeerCheck`` and
``AsyncPeerCheck`` are httpcore network backends that refuse a connection whose peer is
internal right after it is made, before a byte is sent on it (``InternalPeer``).

Proxies: httpx honours ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` only
when it builds its own transport. A client given a transport of its own (the poller's
per-origin pools, a checked transport) mounts them itself: ``environment_mounts``. Through a
proxy the socket's peer is the proxy, which resolves the name, so the socket check does not
apply there; the name check still does.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpcore
import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading, as its clients do

from services.runtime.addresses import Address, address_of, is_internal_address
from services.runtime.redact import shown_url
from services.runtime.settings import ConfigError

__all__ = [
    "AsyncCheckedTransport",
    "AsyncPeerCheck",
    "CheckedTransport",
    "InternalPeer",
    "PeerCheck",
    "check_socket",
    "environment_mounts",
]

Transport = TypeVar("Transport")
#: whether a connected peer's address is internal (tests replace it: their servers are all
#: on 127.0.0.1)
IsInternal = Callable[[Address], bool]
SocketOptions = Iterable[Any] | None
#: a Unix socket is on this machine: never where a checked connection may go
_NO_UNIX_SOCKET = "a checked connection does not go to a Unix socket"


class InternalPeer(Exception):
    """A connection reached an internal address that the host name's check did not show."""

    def __init__(self, host: str, port: int, address: Address) -> None:
        super().__init__(f"the connection to {host}:{port} reached {address}, an internal address")
        self.host, self.port, self.address = host, port, address


def environment_mounts(
    trust_env: bool, proxy_transport: Callable[[httpx.Proxy], Transport]
) -> dict[str, Transport | None]:
    """httpx ``mounts`` for the environment's proxies, as httpx itself reads them: a proxy
    transport per proxied scheme, ``None`` (the client's own transport) for ``NO_PROXY``
    hosts. Empty when ``trust_env`` is off or no proxy is set. A proxy that cannot be used
    (an unknown scheme, a malformed URL) is a ``ConfigError`` that names it."""
    if not trust_env:
        return {}
    mounts: dict[str, Transport | None] = {}
    for pattern, url in get_environment_proxies().items():
        if url is None:
            mounts[pattern] = None
            continue
        try:
            mounts[pattern] = proxy_transport(httpx.Proxy(url))
        except (ValueError, ImportError, httpx.InvalidURL) as exc:
            # httpx's own message repeats the URL, secrets and all: not shown
            why = str(exc) if isinstance(exc, ImportError) else "an unknown scheme or a bad URL"
            raise ConfigError(
                f"the environment's proxy for {pattern} ({shown_url(url)}) cannot be used: "
                f"{why} (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY take http, https, socks5 or "
                "socks5h)"
            ) from None
    return mounts


def _peer(stream: httpcore.NetworkStream | httpcore.AsyncNetworkStream) -> Address:
    """The connected peer's address; unspecified (internal: refused) when the stream does
    not tell, so that a check that cannot be made fails closed."""
    peer = stream.get_extra_info("server_addr")
    if not peer:
        return ipaddress.IPv4Address(0)  # 0.0.0.0
    return address_of(peer)


def check_socket(
    sock: socket.socket, host: str, port: int, internal: IsInternal = is_internal_address
) -> None:
    """For clients that are not httpx (SMTP): closes ``sock`` and raises ``InternalPeer``
    when its peer is internal."""
    address = address_of(sock.getpeername())
    if internal(address):
        sock.close()
        raise InternalPeer(host, port, address)


class PeerCheck(httpcore.NetworkBackend):
    """httpcore's own backend, with every TCP connection's peer checked once it connects."""

    def __init__(self, internal: IsInternal = is_internal_address) -> None:
        self._backend = httpcore.SyncBackend()
        self._internal = internal

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        address = _peer(stream)
        if self._internal(address):
            stream.close()
            raise InternalPeer(host, port, address)
        return stream

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError(_NO_UNIX_SOCKET)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class AsyncPeerCheck(httpcore.AsyncNetworkBackend):
    """``PeerCheck`` for asyncio clients (httpcore's AnyIO backend underneath)."""

    def __init__(self, internal: IsInternal = is_internal_address) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._internal = internal

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        address = _peer(stream)
        if self._internal(address):
            await stream.aclose()
            raise InternalPeer(host, port, address)
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(_NO_UNIX_SOCKET)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _pool_options(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> dict[str, Any]:
    """What httpx gives the pool it builds, for the pool that replaces it."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
    return {
        "ssl_context": context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose connections are checked (``PeerCheck``).

    httpx 0.28 takes no network backend, so the pool it builds is replaced by one built
    the same way with ours (``_pool`` is what its ``handle_request`` sends through; httpx is
    pinned below 0.29, and tests/unit/runtime/test_egress.py fails if that changes)."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable
        internal: IsInternal = is_internal_address,
    ) -> None:
        options = _pool_options(verify, limits)
        super().__init__(verify=options["ssl_context"], limits=limits)
        self._pool = httpcore.ConnectionPool(**options, network_backend=PeerCheck(internal))


class AsyncCheckedTransport(httpx.AsyncHTTPTransport):
    """``CheckedTransport`` for ``httpx.AsyncClient`` (``AsyncPeerCheck``)."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable
        internal: IsInternal = is_internal_address,
    ) -> None:
        options = _pool_options(verify, limits)
        super().__init__(verify=options["ssl_context"], limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            **options, network_backend=AsyncPeerCheck(internal)
        )
