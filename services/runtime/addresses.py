"""What counts as an internal address, for every part of Tocsin that decides where it may
connect: the API refusing a webhook URL, the notifier refusing to deliver to one that
resolves there later, the poller refusing a public source's redirect or link into the
internal network.

Internal means not globally routable (``ipaddress``'s ``is_global`` is false): loopback,
private, link-local, shared (100.64/10), documentation and benchmarking ranges, reserved,
multicast, unspecified; an IPv4-mapped IPv6 address is judged as its IPv4 address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "Address",
    "InternalHosts",
    "address_of",
    "first_internal",
    "internal_address_of",
    "is_internal_address",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal_address(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def address_of(sockaddr: tuple[Any, ...]) -> Address:
    """The address of a socket address (``getaddrinfo``'s, ``getpeername``'s), its IPv6
    zone dropped."""
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])


def first_internal(infos: Iterable[tuple[Any, ...]]) -> Address | None:
    """The first internal address among ``getaddrinfo``'s results, else None."""
    for info in infos:
        address = address_of(info[4])
        if is_internal_address(address):
            return address
    return None


def internal_address_of(host: str) -> Address | None:
    """The internal address ``host`` (a name or an address literal) is or resolves to, if
    any. A name that does not resolve has none: whoever connects reports the DNS error.
    Blocks while resolving."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return address if is_internal_address(address) else None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return first_internal(infos)


class InternalHosts:
    """``internal_address_of``, remembered for ``ttl_s`` per host (a lookup per host and
    minute, not per delivery or fetch); thread-safe, with a face for event loops
    (``internal_async``). ``resolve`` replaces the lookup (tests)."""

    def __init__(
        self,
        ttl_s: float = 60.0,
        resolve: Callable[[str], Address | None] = internal_address_of,
    ) -> None:
        self._ttl_s = ttl_s
        self._resolve = resolve
        self._known: dict[str, tuple[float, Address | None]] = {}
        self._lock = threading.Lock()

    def internal(self, host: str) -> Address | None:
        """The internal address ``host`` is or resolves to, if any. Blocks on a lookup."""
        host = host.lower()
        known = self._remembered(host)
        if known is not None:
            return known[1]
        found = self._resolve(host)
        with self._lock:
            if len(self._known) > 10_000:  # many hosts over a long run: start again
                self._known.clear()
            self._known[host] = (time.monotonic() + self._ttl_s, found)
        return found

    async def internal_async(self, host: str) -> Address | None:
        """``internal`` for an event loop: a lookup runs in the loop's default executor (as
        ``loop.getaddrinfo`` would); a remembered answer is given at once."""
        known = self._remembered(host.lower())
        if known is not None:
            return known[1]
        return await asyncio.to_thread(self.internal, host)

    def _remembered(self, host: str) -> tuple[float, Address | None] | None:
        with self._lock:
            known = self._known.get(host)
        return known if known is not None and known[0] > time.monotonic() else None
