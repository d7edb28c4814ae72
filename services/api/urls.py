"""URLs that users submit (webhook channels): http(s) only, and no private, loopback,
link-local or otherwise internal address (``services.runtime.addresses``) unless the
operator allows them.

Host names are resolved and every address checked. A name that does not resolve now is
accepted (DNS may be down or the name not yet live): the notifier checks again when it
delivers. Call this from a worker thread: resolution blocks.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from services.runtime.addresses import first_internal, is_internal_address

MAX_URL = 2000


class UnsafeUrl(ValueError):
    pass


def check_url(url: str, *, allow_private: bool) -> str:
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"scheme {parts.scheme or '(none)'!r} is not allowed: use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in the URL are not allowed: use the channel's secret")
    try:
        _ = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"bad port: {exc}") from None
    return url if allow_private else _check_host(url, host)


def _check_host(url: str, host: str) -> str:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        raise UnsafeUrl(f"host {host!r} is loopback")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if is_internal_address(literal):
            raise UnsafeUrl(f"address {host} is private, loopback or link-local")
        return url
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return url  # see the module docstring
    address = first_internal(infos)
    if address is not None:
        raise UnsafeUrl(f"host {host!r} resolves to {address}, a private or internal address")
    return url
