"""Getting a source's bytes politely: one shared httpx.AsyncClient for every source.

Under the client, one small connection pool per origin (``pools.OriginPools``), so that a
request does not walk the kept-alive connections of every other host.

What "politely" means here:
- conditional GET: the last ETag / Last-Modified go back as If-None-Match /
  If-Modified-Since, and a 304 costs the publisher nothing but the headers;
- a per-host limit on concurrent requests and a minimum delay between request starts on
  one host, so a site with many feeds is not hit by all of them at once;
- connect, read and total timeouts; a cap on redirects; a cap on the body size, enforced
  while streaming (the connection is dropped at the cap, so an endless body costs at most
  the cap), after content decoding (a gzip bomb is cut too);
- retries with exponential backoff and jitter on timeouts, broken connections and 5xx;
  429 / 503 with Retry-After wait that long (up to ``retry_after_max_s``, else give up);
- a descriptive User-Agent.

``file://`` URLs and local paths are read from disk, a folder as one document per file,
with a validator built from names, sizes and mtimes so an unchanged folder is "not modified".

Not into the internal network: what a source serves is untrusted. A public feed or page
that redirects to ``http://169.254.169.254/...`` or ``http://127.0.0.1:8080/...`` (or a
listing that links there, with ``same_host: false``) would make the poller fetch the cloud's
instance metadata or an internal service, and publish what it read as an article for every
reader of the dashboard: server-side request forgery. So, from a source whose own URL is
public, every request (redirects included) is refused whose host is or resolves to an
internal address (``runtime.addresses``: not globally routable), before it is made
(``_check_hop``, a lookup per host and minute); and its connection is checked on the socket
(``pools``, ``runtime.egress``), which a name answering one address to the lookup and
another to the connection (DNS rebinding) cannot pass. A source whose own URL is internal
(an intranet feed, a test server on 127.0.0.1) may lead anywhere: its operator chose that
network.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.poller.errors import (
    AddressRefused,
    ConnectError,
    DnsError,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    LocalFileError,
    ParseError,
    PollError,
    ResponseTooLarge,
    TlsError,
    TooManyRedirects,
)
from services.poller.parsers import http_url
from services.poller.pools import INTERNAL_OK, OriginPools
from services.runtime.addresses import InternalHosts, is_internal_address
from services.runtime.egress import InternalPeer, IsInternal, environment_mounts
from services.runtime.redact import shown_url

USER_AGENT = (
    "Tocsin-Poller/0.1 (event-sourced security news monitor; conditional GET, "
    "per-host rate limits; python-httpx)"
)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, application/json;q=0.8, */*;q=0.5"
)
_LOCAL_SUFFIXES = {
    "feed": (".xml", ".rss", ".atom", ".rdf", ".json", ".feed"),
    "page": (".html", ".htm", ".xhtml"),
    "jsonl": (".jsonl", ".ndjson"),
    "telegram": (".html", ".htm"),
}


@dataclass(frozen=True, slots=True)
class FetchOptions:
    user_agent: str = USER_AGENT
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_local_bytes: int = 512 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    politeness_delay_s: float = 1.0
    #: (host, delay) pairs overriding ``politeness_delay_s`` for hosts whose sources opted in
    #: (``SourceConfig.host_delay``, see config.py)
    host_delays: tuple[tuple[str, float], ...] = ()
    #: least seconds between two subscription requests to one WebSub hub: a hub serves many
    #: feeds (FeedBurner's, WordPress's), all subscribed at start; its own gate, so that they
    #: do not queue before the polls of a feed on the same host
    hub_delay_s: float = 0.1
    retries: int = 2
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    max_connections: int = 100
    #: origins (scheme, host, port) with a connection pool kept; least recently used closed
    max_origins: int = 256
    #: proxies (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and CA bundle
    #: (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) from the environment, as httpx reads them
    trust_env: bool = True


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One fetched document: its URL (final, after redirects), bytes and declared type."""

    url: str
    body: bytes
    content_type: str = ""
    charset: str | None = None
    #: the response's ``Link`` header entries that name a WebSub hub or the feed's own URL,
    #: as (rel, absolute URL): the hub to subscribe at (``websub``)
    links: tuple[tuple[str, str], ...] = ()

    @property
    def headers(self) -> dict[str, str]:
        return {"content-type": self.content_type} if self.content_type else {}


@dataclass(slots=True)
class FetchResult:
    url: str
    http_status: int | None
    not_modified: bool
    validators: Validators
    documents: list[Document] = field(default_factory=list)
    bytes: int = 0
    attempts: int = 1
    #: where the URL moved for good (its first redirects were 301 or 308), if it did
    moved_to: str | None = None


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """``text/xml; charset=ISO-8859-1`` -> (``text/xml``, ``iso-8859-1``)."""
    if not value:
        return "", None
    msg = EmailMessage()
    msg["content-type"] = value
    charset: object = msg.get_param("charset")
    return msg.get_content_type(), (str(charset).strip().lower() if charset else None)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def translate(exc: BaseException, url: str, options: FetchOptions) -> PollError:  # noqa: PLR0911
    """The one place where httpx's (and the socket layer's) exceptions become ours. Their
    messages, recorded on the log, show the URL without credentials."""
    host = urlsplit(url).hostname or url
    url = shown_url(url)
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain)
    if isinstance(exc, InternalPeer):  # the name looked public; the socket says otherwise
        return AddressRefused(
            f"refused to fetch {url}: {exc}, and this source's own URL is not internal "
            "(the name's lookup gave a public address: DNS rebinding?)"
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(
            f"more than {options.max_redirects} redirects (a redirect loop?) from {url}"
        )
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        kinds: dict[type[BaseException], str] = {
            httpx.ConnectTimeout: f"connecting took over {options.connect_timeout_s:g} s",
            httpx.ReadTimeout: f"the server sent nothing for {options.read_timeout_s:g} s",
            httpx.PoolTimeout: "no free connection in time",
        }
        kind = kinds.get(type(exc), f"no complete answer within {options.total_timeout_s:g} s")
        return FetchTimeout(f"timeout fetching {url}: {kind}")
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        s in text
        for s in ("Name or service not known", "nodename nor servname", "No address associated")
    ):
        return DnsError(f"DNS lookup failed for host {host!r}: the name does not resolve")
    if "Temporary failure in name resolution" in text:
        err = DnsError(f"DNS lookup for host {host!r} failed temporarily")
        return err
    if any(isinstance(e, ssl.SSLError) for e in chain) or "CERTIFICATE" in text or "SSL" in text:
        return TlsError(f"TLS failed for {host!r}: {_short(chain[-1])}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError(f"unsupported URL (only http and https can be fetched): {url}")
    if isinstance(exc, httpx.DecodingError):
        return ParseError(f"the response's content encoding is broken: {_short(exc)}")
    if isinstance(exc, (httpx.ConnectError, httpx.NetworkError, httpx.RemoteProtocolError)):
        return ConnectError(f"connection to {host!r} failed: {_short(chain[-1])}")
    if isinstance(exc, httpx.HTTPError):
        return FetchError(f"HTTP error fetching {url}: {_short(exc)}")
    return FetchError(f"unexpected error fetching {url}: {type(exc).__name__}: {_short(exc)}")


def _moved_permanently(response: httpx.Response) -> str | None:
    """Where the requested URL moved for good: the target of its redirects that are
    permanent (301, 308) from the first hop on; None when the first is not (a 302 says
    nothing of the address to keep)."""
    moved = None
    # each hop with the response it led to (no hop, no redirect: the zip is empty)
    for hop, after in zip(response.history, [*response.history[1:], response], strict=False):
        if hop.status_code not in (301, 308):
            break
        moved = str(after.url)
    return moved


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HostGate:
    """Per-host concurrency limit plus a minimum delay between request starts on a host."""

    def __init__(
        self,
        concurrency: int,
        delay_s: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        host_delays: Mapping[str, float] | None = None,
    ) -> None:
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay_s)
        self._host_delays = {h: max(0.0, d) for h, d in (host_delays or {}).items()}
        self._sleep = sleep
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    async def enter(self, host: str) -> asyncio.Semaphore:
        sem = self._semaphores.setdefault(host, asyncio.Semaphore(self._concurrency))
        await sem.acquire()
        delay = self._host_delays.get(host, self._delay)
        if delay:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            self._next_start[host] = start + delay
            if start > now:
                await self._sleep(start - now)
        return sem


class Fetcher:
    """Fetches sources with one shared ``httpx.AsyncClient``. Create inside the event loop.

    ``transport`` replaces the per-origin pools (``httpx.MockTransport`` in narrow tests);
    ``hosts`` replaces the lookup that tells internal hosts, and ``internal_address`` the test
    of a connected socket's peer, so that tests on 127.0.0.1 can stand for a public source."""

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        hosts: InternalHosts | None = None,
        internal_address: IsInternal = is_internal_address,
    ) -> None:
        self.options = opts = options or FetchOptions()
        self._hosts = hosts or InternalHosts()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._gate = HostGate(
            opts.per_host_concurrency,
            opts.politeness_delay_s,
            sleep=sleep,
            host_delays=dict(opts.host_delays),
        )
        self._hub_gate = HostGate(opts.per_host_concurrency, opts.hub_delay_s, sleep=sleep)
        # one TLS context (CA bundle loaded once) for every origin, as the one pool had
        context = httpx.create_ssl_context(trust_env=opts.trust_env)
        if transport is None:
            transport = OriginPools(
                ssl_context=context,
                keepalive=opts.per_host_concurrency,
                max_connections=opts.max_connections,
                max_origins=opts.max_origins,
                internal=internal_address,
            )
        limits = httpx.Limits(
            max_connections=opts.max_connections,
            max_keepalive_connections=opts.max_connections,
        )
        # httpx reads the environment's proxies only for a transport it builds itself
        mounts = environment_mounts(
            opts.trust_env,
            lambda proxy: httpx.AsyncHTTPTransport(proxy=proxy, verify=context, limits=limits),
        )
        self.client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=opts.max_redirects,
            timeout=httpx.Timeout(
                connect=opts.connect_timeout_s,
                read=opts.read_timeout_s,
                write=opts.read_timeout_s,
                pool=opts.total_timeout_s,
            ),
            headers={"User-Agent": opts.user_agent, "Accept": ACCEPT},
            transport=transport,
            mounts=mounts,
            trust_env=opts.trust_env,
            event_hooks={"request": [self._check_hop]},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str, validators: Validators, kind: str = "feed") -> FetchResult:
        """Fetch a remote URL (with retries) or read a local file or folder."""
        if urlsplit(url).scheme in ("http", "https"):
            return await self._fetch_remote(url, validators)
        return await asyncio.to_thread(self._read_local, url, validators, kind)

    async def fetch_plain(self, url: str, *, found_on: str | None = None) -> Document:
        """One unconditional GET (for links followed from a listing page: ``found_on``, whose
        host decides whether the link may lead to an internal address)."""
        result = await self._fetch_remote(url, Validators(), found_on)
        return result.documents[0]

    async def post_form(
        self, url: str, form: Mapping[str, str], *, found_on: str
    ) -> tuple[int, str]:
        """One form POST: a WebSub subscription request to the hub that the feed at
        ``found_on`` names. Returns the status and the start of the answer. Not retried (the
        subscriber backs off itself), no redirect followed; an internal hub is refused as a
        fetch from ``found_on`` would be (a public feed must not make Tocsin POST into the
        internal network). Raises ``PollError``."""
        host = (urlsplit(url).hostname or "").lower()
        sem = await self._hub_gate.enter(host)
        try:
            async with asyncio.timeout(self.options.total_timeout_s):
                trusted = (urlsplit(found_on).hostname or "").lower()
                internal_ok = await self._hosts.internal_async(trusted) is not None
                async with self.client.stream(
                    "POST",
                    url,
                    data=dict(form),
                    follow_redirects=False,
                    extensions={INTERNAL_OK: internal_ok},
                ) as response:
                    start = b""
                    async for chunk in response.aiter_bytes():
                        start += chunk
                        if len(start) >= 300:
                            break  # a hub's explanation is a line, not a download
                    return response.status_code, start[:300].decode("utf-8", "replace")
        except PollError:
            raise
        except Exception as exc:
            raise translate(exc, url, self.options) from exc
        finally:
            sem.release()

    # -- remote ----------------------------------------------------------------------------

    async def _fetch_remote(
        self, url: str, validators: Validators, found_on: str | None = None
    ) -> FetchResult:
        opts = self.options
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._attempt(url, validators, found_on)
                result.attempts = attempt
                return result
            except PollError as exc:
                if not exc.retryable or attempt > opts.retries:
                    raise
                delay = self._backoff(attempt)
                if isinstance(exc, HttpStatusError) and exc.retry_after_s is not None:
                    if exc.retry_after_s > opts.retry_after_max_s:
                        raise HttpStatusError(
                            f"{exc} (Retry-After {exc.retry_after_s:g} s is beyond "
                            f"{opts.retry_after_max_s:g} s: not retried in this poll)",
                            http_status=exc.http_status or 429,
                            retry_after_s=exc.retry_after_s,
                        ) from exc
                    delay = exc.retry_after_s
                await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter: base * 2^(n-1), capped, times a factor in [0.5, 1.5)."""
        base: float = min(
            self.options.backoff_max_s, self.options.backoff_initial_s * 2.0 ** (attempt - 1)
        )
        return base * (0.5 + self._rng.random())

    async def _attempt(
        self, url: str, validators: Validators, found_on: str | None = None
    ) -> FetchResult:
        opts = self.options
        headers: dict[str, str] = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        host = (urlsplit(url).hostname or "").lower()
        sem = await self._gate.enter(host)
        try:
            async with asyncio.timeout(opts.total_timeout_s):
                # a source whose own URL (or listing page) is internal may lead anywhere
                trusted = (urlsplit(found_on or url).hostname or "").lower()
                internal_ok = await self._hosts.internal_async(trusted) is not None
                return await self._get(url, headers, validators, internal_ok)
        except PollError:
            raise
        except Exception as exc:  # httpx / socket / timeout: translated in one place
            raise translate(exc, url, opts) from exc
        finally:
            sem.release()

    async def _check_hop(self, request: httpx.Request) -> None:
        """Before every request, redirects included (an httpx request hook): from a public
        source, no internal host (see the module's docstring)."""
        if request.extensions.get(INTERNAL_OK, True):
            return
        host = request.url.host
        if await self._hosts.internal_async(host) is not None:
            raise AddressRefused(
                f"refused to fetch {shown_url(str(request.url))}: {host} is an internal "
                "address (loopback, private or link-local) and this source's own URL is not"
            )

    async def _get(
        self, url: str, headers: dict[str, str], old: Validators, internal_ok: bool = True
    ) -> FetchResult:
        opts = self.options
        extensions = {INTERNAL_OK: internal_ok}
        async with self.client.stream("GET", url, headers=headers, extensions=extensions) as resp:
            final = str(resp.url)
            status = resp.status_code
            moved_to = _moved_permanently(resp)
            if status == 304:
                # read the (empty) body to its end: httpcore keeps a connection for the
                # next request only once the response is complete, else every 304 costs a
                # new connection (and a TLS handshake) to the publisher
                await resp.aread()
                return FetchResult(
                    url=final,
                    http_status=304,
                    not_modified=True,
                    moved_to=moved_to,
                    validators=Validators(
                        resp.headers.get("etag") or old.etag,
                        resp.headers.get("last-modified") or old.last_modified,
                    ),
                )
            if status >= 400:
                raise HttpStatusError(
                    _status_message(status, resp.reason_phrase, final),
                    http_status=status,
                    retry_after_s=retry_after_seconds(resp.headers.get("retry-after")),
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > opts.max_bytes:
                raise ResponseTooLarge(
                    f"the response declares {int(declared):,} bytes, over the cap of {opts.max_bytes:,}",
                    http_status=status,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > opts.max_bytes:
                    raise ResponseTooLarge(
                        f"the response went past the cap of {opts.max_bytes:,} bytes: cut there",
                        http_status=status,
                    )
                chunks.append(chunk)
            content_type, charset = parse_content_type(resp.headers.get("content-type"))
            return FetchResult(
                url=final,
                http_status=status,
                not_modified=False,
                validators=Validators(resp.headers.get("etag"), resp.headers.get("last-modified")),
                documents=[
                    Document(final, b"".join(chunks), content_type, charset, _hub_links(resp))
                ],
                bytes=size,
                moved_to=moved_to,
            )

    # -- local -----------------------------------------------------------------------------

    def _read_local(self, url: str, validators: Validators, kind: str) -> FetchResult:
        parts = urlsplit(url)
        path = Path(parts.path if parts.scheme == "file" else url).expanduser()
        try:
            if path.is_dir():
                suffixes = _LOCAL_SUFFIXES.get(kind, ())
                files = sorted(
                    p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes
                )
            elif path.is_file():
                files = [path]
            else:
                raise LocalFileError(f"no such file or folder: {path}")
            stats = [(p, p.stat()) for p in files]
        except OSError as exc:
            raise LocalFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        digest = hashlib.sha256()
        for p, st in stats:
            digest.update(f"{p.name}\x1f{st.st_size}\x1f{st.st_mtime_ns}\x1e".encode())
        etag = f'"local-{digest.hexdigest()[:24]}"'
        if validators.etag == etag:
            return FetchResult(url, None, True, Validators(etag=etag))
        documents: list[Document] = []
        total = 0
        for p, st in stats:
            if st.st_size > self.options.max_local_bytes:
                raise ResponseTooLarge(
                    f"{p} has {st.st_size:,} bytes, over the local cap of {self.options.max_local_bytes:,}"
                )
            try:
                body = p.read_bytes()
            except OSError as exc:
                raise LocalFileError(f"cannot read {p}: {exc.strerror or exc}") from exc
            total += len(body)
            documents.append(Document(p.resolve().as_uri(), body, _guess_type(p)))
        return FetchResult(url, None, False, Validators(etag=etag), documents, total)


def _hub_links(resp: httpx.Response) -> tuple[tuple[str, str], ...]:
    """The ``Link`` header's hub and self, resolved against the response's URL."""
    if "link" not in resp.headers:
        return ()
    found: list[tuple[str, str]] = []
    try:
        links = resp.links
    except Exception:  # a malformed header is no hub, not a failed poll
        return ()
    for rel in ("hub", "self"):
        url = http_url(links.get(rel, {}).get("url"), str(resp.url))
        if url is not None:
            found.append((rel, url))
    return tuple(found)


def _guess_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm", ".xhtml"):
        return "text/html"
    if suffix == ".json":
        return "application/json"
    if suffix in (".jsonl", ".ndjson"):
        return "application/x-ndjson"
    return "application/xml"


def _status_message(status: int, reason: str, url: str) -> str:
    hint = {
        404: "not found: the feed moved or was removed",
        410: "gone: the publisher removed this feed for good",
        401: "authentication required",
        403: "forbidden: the site refuses this client",
        429: "too many requests: rate limited by the site",
    }.get(status, reason or "error")
    return f"HTTP {status} from {shown_url(url)}: {hint}"
