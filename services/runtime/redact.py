"""What logs, recorded events and screens may show of a URL.

Why: URLs carry credentials. Slack's and Mattermost's hooks carry theirs in the path, a paid
feed its key in the query (``?key=``, ``?token=``), a feed behind Basic auth its user and
password in the user info (``https://user:pass@``). Log files, the event log (read by every
consumer, shown by the API and the dashboard) and error messages are not secret stores: the
process that fetches or posts uses the URL as configured, everything else shows one of
these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    import httpx

__all__ = ["REDACTED", "origin", "shown_url"]

REDACTED = "[redacted]"
#: Query parameter names holding one of these are taken for credentials: key, apikey,
#: api_key, token, access_token, auth, secret, password, passwd, sig, signature,
#: X-Amz-Credential, session... (a parameter such as ``keyword`` is hidden too: only shown
#: URLs lose it, the fetch keeps it).
_CREDENTIAL_WORDS = (
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "auth",
    "sig",
    "credential",
    "session",
)


def origin(url: httpx.URL | str) -> str:
    """``scheme://host[:port]`` of a URL: for what must not show a path (a hook's, whose
    path is its credential)."""
    import httpx  # here: every ``tocsin`` command sets up logging, few make requests

    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except httpx.InvalidURL:
        return "(invalid URL)"
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"  # no userinfo, path or query


def shown_url(url: str) -> str:
    """``url`` without its user info, and with the value of every query parameter whose name
    looks like a credential replaced by ``[redacted]``; the rest exactly as written, so the
    same URL always shows the same. Local paths pass unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.netloc and not parts.query:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(_shown_parameter(p) for p in parts.query.split("&")) if parts.query else ""
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _shown_parameter(parameter: str) -> str:
    name, equals, _value = parameter.partition("=")
    lowered = unquote(name).lower()
    if equals and any(word in lowered for word in _CREDENTIAL_WORDS):
        return f"{name}={REDACTED}"
    return parameter
