"""What counts as an internal address, for every part of Tocsin that decides where it may
connect: the API refusing a webhook URL, the poller refusing a public source's redirect or
link into the internal network.

Internal means not globally routable (``ipaddress``'s ``is_global`` is false): loopback,
private, link-local, shared (100.64/10), documentation and benchmarking ranges, reserved,
multicast, unspecified; an IPv4-mapped IPv6 address is judged as its IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

__all__ = ["Address", "first_internal", "is_internal_address"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal_address(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def first_internal(infos: Iterable[tuple[Any, ...]]) -> Address | None:
    """The first internal address among ``getaddrinfo``'s results (an IPv6 zone dropped),
    else None."""
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if is_internal_address(address):
            return address
    return None
