"""URLs and hosts that users submit (webhook channels, SMTP servers): http(s) only, and no
private, loopback, link-local or otherwise internal address (``services.runtime.addresses``)
unless the operator allows them.

Host names are resolved and every address checked. A name that does not resolve now is
accepted (DNS may be down or the name not yet live): the notifier checks again when it
delivers (``services/notifier/channels/guard.py``). Call this from a worker thread:
resolution blocks.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from services.runtime.addresses import internal_address_of

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
    check_host(host, allow_private=allow_private)
    return url


def check_host(host: str, *, allow_private: bool) -> None:
    """``UnsafeUrl`` when ``host`` (a URL's, an SMTP server's) is or resolves to an internal
    address, unless the operator allows them."""
    if allow_private:
        return
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        raise UnsafeUrl(f"host {host!r} is loopback")
    address = internal_address_of(host)  # a name that does not resolve now: see above
    if address is None:
        return
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass  # a name
    else:
        raise UnsafeUrl(f"address {host} is private, loopback or link-local")
    raise UnsafeUrl(f"host {host!r} resolves to {address}, a private or internal address")
