"""HTTP for the webhook-style channels: one httpx client, status codes -> ``DeliveryError``."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping

import httpx

from services.notifier.channels.base import DeliveryError
from services.runtime.egress import CheckedTransport, environment_mounts
from services.runtime.redact import origin

__all__ = ["ReadError", "client", "post", "retry_after_seconds"]

_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def client(timeout_s: float, checked: bool = False) -> httpx.Client:
    """A channel's client: no redirects followed (a receiver's 3xx is an error). ``checked``
    (a subscription made through the API) checks each connection's peer on the socket
    (``runtime.egress``), with the environment's proxies mounted as httpx would."""
    if not checked:
        return httpx.Client(timeout=timeout_s, follow_redirects=False)
    return httpx.Client(
        timeout=timeout_s,
        follow_redirects=False,
        transport=CheckedTransport(),
        mounts=environment_mounts(True, lambda proxy: httpx.HTTPTransport(proxy=proxy)),
    )


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


#: What is read of a receiver's answer: plenty for an error's detail. One that answers more
#: (a hook pointed at a download, a server streaming forever) is cut off there, its
#: connection closed, rather than read into memory until the notifier dies of it.
_MAX_ANSWER = 64 * 1024


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_ANSWER:
            break
    return b"".join(chunks)[:_MAX_ANSWER]


#: what a receiver's error answer says: a detail for the error, and when to come back
ReadError = Callable[[bytes], tuple[str, float | None]]


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    what: str,
    read_error: ReadError | None = None,
) -> int:
    """POST once; the status code on 2xx, else ``DeliveryError``, which names the URL's
    origin only: errors go to the log file and onto the event log (``alert.delivery_failed``,
    shown by the API and the dashboard), and hook URLs carry credentials in their path.

    Sent as a built ``httpx.Request`` through ``client.send``, not ``client.post``: the
    client's request building (URL merging, cookie header, its default headers) took about a
    fifth of a post's CPU on loopback; ``bench/notifier.py`` went from 684-728 to 755-797
    deliveries/s. The request carries only the channel's headers (give it a User-Agent) and
    the client's timeout. ``read_error`` reads an API's error answer (Telegram's JSON)
    instead of taking its first 200 characters."""
    request = httpx.Request(
        "POST", url, content=body, headers=headers, extensions={"timeout": client.timeout.as_dict()}
    )
    try:
        response = client.send(request, stream=True)
        try:
            answer = _read_capped(response)
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"{what} {origin(url)}: timed out ({type(exc).__name__})", retryable=True
        ) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"{what} {origin(url)}: {type(exc).__name__}: {exc}", retryable=True
        ) from None
    code = response.status_code
    if 200 <= code < 300:
        return code
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    if read_error is not None:
        detail, asked = read_error(answer)
        retry_after = asked if retry_after is None else retry_after
    else:
        detail = answer.decode(response.charset_encoding or "utf-8", "replace")
    detail = " ".join(detail[:200].split())
    raise DeliveryError(
        f"{what} {origin(url)}: HTTP {code} {detail}".rstrip(),
        retryable=code in _RETRYABLE_STATUS,
        retry_after=retry_after,
        status_code=code,
    )
