"""Where a redirect or a followed link may lead the poller: not from a public source into
an internal network.

Why: what a source serves is untrusted. A public feed or page that redirects to
``http://169.254.169.254/...``, ``http://127.0.0.1:8080/...`` or a ``10.x`` address (or a
listing page that links there, with ``same_host: false``) would make the poller fetch the
cloud's instance metadata or an internal service, and publish what it read as an article
for every reader of the dashboard: server-side request forgery. A source whose own URL is
internal (an intranet feed, a test server on 127.0.0.1) may lead anywhere: its operator
chose that network.

Internal is ``services.runtime.addresses``'s (not globally routable), as for the API's
webhook URLs. A host name is internal when any address it resolves to is. The check
resolves the name itself, shortly before the connection does, for a clear error before
any connection. A name whose answer changes in between (DNS rebinding) is caught on the
socket: a public source's fetches go through pools whose connections are checked
(``pools``, ``runtime.egress``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable

from services.runtime.addresses import first_internal, is_internal_address

__all__ = ["AddressGuard", "resolves_internal"]

#: host -> whether it is internal; the default resolves it (``AddressGuard``)
InternalHost = Callable[[str], Awaitable[bool]]


async def resolves_internal(host: str) -> bool:
    """Whether ``host`` (a name or an address literal) is or resolves to an internal
    address; a name that does not resolve is not (the fetch reports the DNS error)."""
    try:
        return is_internal_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return first_internal(infos) is not None


class AddressGuard:
    """Whether a host is internal, remembered for ``ttl_s`` (a lookup per host and minute,
    not per request). ``internal_host`` replaces the resolution (tests)."""

    def __init__(self, internal_host: InternalHost | None = None, ttl_s: float = 60.0) -> None:
        self._internal_host = internal_host or resolves_internal
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, bool]] = {}

    async def internal(self, host: str) -> bool:
        host = host.lower()
        now = time.monotonic()
        known = self._known.get(host)
        if known is not None and known[0] > now:
            return known[1]
        found = await self._internal_host(host)
        if len(self._known) > 10_000:  # many hosts over a long run: start again
            self._known.clear()
        self._known[host] = (now + self._ttl_s, found)
        return found
