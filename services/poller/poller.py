"""One poll of one source, end to end: fetch, parse, select what is new, append, remember.

The outputs of a poll (its new articles and its ``source.polled`` event) go to the log in
one ``append`` (shared with the polls that finished at the same time: ``appender``): on
SQLite one transaction, so a crash leaves all of them or none. The
in-memory state (known articles, validators) changes only after the append succeeded; a
failed append leaves the state as it was, and the next poll fetches and publishes again
(at-least-once; the deterministic event ids make a repeat harmless).

A feed that changed is parsed without the items its last recorded poll read
(``unchanged``): usually one item of fifty.

A poll never raises: every failure, expected (``PollError``) or not (a parser bug), ends
as a ``source.polled`` event with the error class and a readable message, and the poller
goes on with the other sources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from schemas import PollStatus, SourcePolled
from schemas.ids import article_id, canonical_url
from services.eventlog import EventLog, EventLogError, Message
from services.poller.appender import GroupAppender
from services.poller.config import SourceConfig
from services.poller.core import polled_message, published_message, select_new
from services.poller.errors import NotAFeed, PollError
from services.poller.fetch import Document, Fetcher, FetchResult
from services.poller.parsers import Parsed, RawItem
from services.poller.parsers.discovery import feeds_instead
from services.poller.parsers.pages import listing_links, parse_page
from services.poller.parsing import THREAD_ABOVE_BYTES, ParsePool
from services.poller.state import HealthBook, KnownArticles
from services.poller.unchanged import Reduced, Seen, reduce_feed
from services.poller.websub import Advert, advertised
from services.runtime.clock import Clock, SystemClock
from services.runtime.redact import shown_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topics:
    published: str
    polled: str


@dataclass(slots=True)
class PollReport:
    """What a poll did, for the command line and the tests (the event says the same)."""

    source_id: str
    status: PollStatus
    http_status: int | None = None
    items_seen: int = 0
    new_articles: int = 0
    updates: int = 0
    latency_ms: float = 0.0
    bytes: int = 0
    error_class: str | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)
    appended: bool = False
    #: False when the poll changed nothing and was not recorded (``Poller._quiet``)
    recorded: bool = True
    #: whether the poll read a feed (not one not modified), and if so the WebSub hub it
    #: advertises (``None``: none)
    read_head: bool = False
    advert: Advert | None = None

    @property
    def failed(self) -> bool:
        return self.status in (PollStatus.ERROR, PollStatus.DISABLED)

    def line(self) -> str:
        http = f"http {self.http_status}" if self.http_status is not None else "local"
        head = f"{self.status.value:<12} {self.source_id:<28} {http:<9} items {self.items_seen:<4} new {self.new_articles:<4}"
        tail = f" {self.latency_ms:7.0f} ms"
        if self.error_message:
            tail += f"  {self.error_class or 'warning'}: {self.error_message}"
        return head + tail


def _moved(source: SourceConfig, result: FetchResult) -> list[str]:
    """A warning when the source's URL moved for good (a 301 or 308): feed readers keep the
    new address; here the operator's config does, so the poll says which it is."""
    if result.moved_to is None or result.moved_to == source.url:
        return []
    return [
        f"{source.shown_url} moved permanently to {shown_url(result.moved_to)} "
        "(make that the source's url)"
    ]


class Poller:
    """Polls sources against one log. Create and use inside one event loop."""

    def __init__(
        self,
        event_log: EventLog,
        topics: Topics,
        fetcher: Fetcher,
        *,
        known: KnownArticles | None = None,
        health: HealthBook | None = None,
        clock: Clock | None = None,
        writer: ThreadPoolExecutor | None = None,
        parsers: ParsePool | None = None,
    ) -> None:
        self.log = event_log
        self.topics = topics
        self.fetcher = fetcher
        self.known = known or KnownArticles()
        self.health = health or HealthBook()
        self.clock = clock or SystemClock()
        self._writer = writer or ThreadPoolExecutor(max_workers=1, thread_name_prefix="poller-log")
        #: concurrent polls share appends (``appender``: group commit)
        self.appender = GroupAppender(event_log, self._writer)
        #: per source, the quiet polls since its last record (``_quiet``) and the latest of
        #: them: the next record counts them (or ``record_quiet`` records them)
        self._unrecorded: dict[str, tuple[int, SourcePolled]] = {}
        #: per feed, what its last recorded poll read (``unchanged``: those items are not
        #: parsed again)
        self._seen: dict[str, Seen] = {}
        self.parsers = parsers or ParsePool(0)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.parsers.close()

    async def poll_many(
        self, sources: Sequence[SourceConfig], *, force: bool = False
    ) -> list[PollReport]:
        """Poll each source once, concurrently (the fetcher's per-host limits apply)."""
        return list(await asyncio.gather(*(self.poll(s, force=force) for s in sources)))

    async def poll(
        self, source: SourceConfig, *, force: bool = False, pushed: Document | None = None
    ) -> PollReport:
        """Poll one source once. ``force`` polls a source disabled after a 410 anyway.

        ``pushed``: content a WebSub hub pushed (``websub``), read instead of a fetch, without
        the items the last recorded poll read (``unchanged``: a hub may push the whole feed,
        or only its new items). Its new articles are recorded as a poll's, with no HTTP
        status and the source's validators kept (it was not a fetch). A push with nothing
        new is not recorded, and one that cannot be read is not either: the report says
        why (``recorded`` false), and the caller polls the source instead."""
        disabled = self.health.disabled(source.id, source.shown_url)
        if disabled is not None and not force:
            return PollReport(
                source.id,
                PollStatus.DISABLED,
                http_status=disabled.http_status,
                error_class=disabled.error_class,
                error_message=f"not polled: {disabled.error_message}",
            )
        polled_at = self.clock.now()
        started = self.clock.monotonic()
        validators = self.health.validators(source.id, source.shown_url)
        result: FetchResult | None = None
        try:
            if pushed is None:
                result = await self.fetcher.fetch(source.url, validators, source.kind)
            else:
                result = FetchResult(
                    pushed.url, None, False, validators, [pushed], len(pushed.body)
                )
            return await self._read(source, result, polled_at, started, pushed=pushed)
        except PollError as exc:
            status = PollStatus.DISABLED if exc.http_status == 410 else PollStatus.ERROR
            http_status, error = exc.http_status, (exc.error_class, str(exc))
            if status is PollStatus.DISABLED:
                error = (
                    error[0],
                    f"{error[1]}; source disabled: remove it or change its url to poll it again",
                )
        except Exception as exc:  # a bug in a parser or a library: recorded, never fatal
            log.exception("unexpected error polling %s", source.id)
            status, http_status = PollStatus.ERROR, None
            error = (type(exc).__name__, f"unexpected error: {str(exc)[:500]}")
        if pushed is not None:
            return PollReport(
                source.id,
                PollStatus.ERROR,
                error_class=error[0],
                error_message=f"pushed content not read: {error[1][:500]}",
                recorded=False,
            )
        polled = self._polled(
            source,
            polled_at,
            started,
            result,
            status,
            http_status=http_status,
            error=error,
            keep=validators.etag,
            keep_lm=validators.last_modified,
        )
        return await self._commit(source, polled, [], 0, [])

    async def _read(
        self,
        source: SourceConfig,
        result: FetchResult,
        polled_at: datetime,
        started: float,
        *,
        pushed: Document | None,
    ) -> PollReport:
        """A poll's fetched (or pushed) result read, its new articles published."""
        moved = _moved(source, result)
        if result.not_modified:
            polled = self._polled(
                source,
                polled_at,
                started,
                result,
                PollStatus.NOT_MODIFIED,
                warning=moved[0] if moved else None,
            )
            return await self._commit(source, polled, [], 0, moved)
        reduced = await self._reduce(source, result)
        if pushed is None:
            parsed = await self._parse(source, result, reduced)
        elif reduced is not None and not reduced.kept:
            parsed = Parsed()  # a hub that pushes the whole feed: every item read before
        else:  # a push is a feed and nothing else: no discovery of another one
            parsed = await self.parsers.parse(source.kind, reduced.doc if reduced else pushed)
        parsed.warnings[:0] = moved
        selection = select_new(parsed.items, source, polled_at, parsed.language, self.known.hashes)
        polled = self._polled(
            source,
            polled_at,
            started,
            result,
            PollStatus.OK,
            items_seen=selection.seen + parsed.skipped + (reduced.dropped if reduced else 0),
            new_articles=len(selection.articles),
            warning="; ".join(parsed.warnings)[:1000] or None,
        )
        if pushed is not None and not selection.articles:
            return PollReport(
                source.id,
                PollStatus.OK,
                items_seen=polled.items_seen,
                warnings=parsed.warnings,
                recorded=False,
            )
        messages = [published_message(a, self.topics.published) for a in selection.articles]
        report = await self._commit(
            source,
            polled,
            messages,
            sum(a.is_update for a in selection.articles),
            parsed.warnings,
        )
        if report.appended:
            for article in selection.articles:
                self.known.add(article.article_id, article.content_hash)
        if pushed is None and reduced is not None and (report.appended or not report.recorded):
            self._seen[source.id] = reduced.seen  # what was read is on the log
        elif pushed is not None and reduced is not None and report.appended:
            self._seen_pushed(source.id, reduced.seen)
        if pushed is None and source.kind == "feed" and len(result.documents) == 1:
            document = result.documents[0]
            head = reduced if reduced is not None else parsed  # a feed reduced to nothing
            report.read_head = True  # was not parsed: its head was read by ``unchanged``
            report.advert = advertised(document.links, head.hubs, head.self_url, document.url)
        return report

    def _seen_pushed(self, source_id: str, pushed: Seen) -> None:
        """A push's items are on the log: the next poll need not parse them either. Kept
        beside what the last poll read (a hub pushes the new items only) when the pushed
        feed reads alike (the same context: head, URL, type); else the next poll parses them
        again, once, and finds them known."""
        last = self._seen.get(source_id)
        if last is not None and last.context == pushed.context:
            self._seen[source_id] = Seen(last.context, last.items | pushed.items)

    async def _reduce(self, source: SourceConfig, result: FetchResult) -> Reduced | None:
        """The feed without the items its last recorded poll read (``unchanged``), or
        ``None`` (not a feed that can be reduced: parse it whole)."""
        if source.kind != "feed" or len(result.documents) != 1:
            return None
        doc, last = result.documents[0], self._seen.get(source.id)
        try:
            if len(doc.body) > THREAD_ABOVE_BYTES:
                return await asyncio.to_thread(reduce_feed, doc, last)
            return reduce_feed(doc, last)
        except Exception:  # never worse than no reduction: the whole document is parsed
            log.exception("could not look for unchanged items in %s", source.id)
            return None

    async def _parse(
        self, source: SourceConfig, result: FetchResult, reduced: Reduced | None = None
    ) -> Parsed:
        """Parse every document; a folder survives bad files, a single document does not."""
        if source.kind == "page" and source.follow is not None:
            return await self._parse_listing(source, result)
        if source.kind == "telegram" and len(result.documents) == 1:
            return await self._parse_telegram(source, result.documents[0])
        if reduced is not None:
            if not reduced.kept:  # every item was read before: nothing left to parse
                return Parsed()
            return await self.parsers.parse(source.kind, reduced.doc)
        if source.kind == "feed" and len(result.documents) == 1:
            return await self._parse_feed(source, result.documents[0])
        merged = Parsed()
        errors: list[PollError] = []
        for doc in result.documents:
            try:
                parsed = await self.parsers.parse(source.kind, doc)
            except PollError as exc:
                if len(result.documents) == 1:
                    raise
                errors.append(exc)
                merged.warnings.append(f"{doc.url.rsplit('/', 1)[-1]}: {exc.error_class}: {exc}")
                continue
            merged.items.extend(parsed.items)
            merged.skipped += parsed.skipped
            merged.warnings.extend(parsed.warnings)
            merged.language = merged.language or parsed.language
        if errors and not merged.items and len(errors) == len(result.documents):
            raise errors[0]
        return merged

    async def _parse_feed(self, source: SourceConfig, doc: Document) -> Parsed:
        """A feed; or, when the source's URL answers with a web page, the feed the page
        advertises (``discovery``), read on every poll with a warning that names it, so the
        operator can make it the source's URL (and save the page's fetch)."""
        try:
            return await self.parsers.parse("feed", doc)
        except NotAFeed as exc:
            if len(doc.body) > THREAD_ABOVE_BYTES:
                feeds = await asyncio.to_thread(feeds_instead, doc, exc)
            else:
                feeds = feeds_instead(doc, exc)
        feed = await self.fetcher.fetch_plain(feeds[0], found_on=source.url)
        parsed = await self.parsers.parse("feed", feed)
        parsed.warnings.insert(
            0,
            f"{source.shown_url} is a web page: read the feed it advertises, "
            f"{shown_url(feeds[0])} (make that the source's url)",
        )
        return parsed

    async def _parse_listing(self, source: SourceConfig, result: FetchResult) -> Parsed:
        assert source.follow is not None
        merged = Parsed()
        for doc in result.documents:
            links = listing_links(doc, source.follow)
            fresh = [u for u in links if not self._known_url(u)]
            merged.skipped += len(links) - len(fresh)
            pages = await asyncio.gather(
                *(self._follow(u, source.url) for u in fresh), return_exceptions=True
            )
            for link, page in zip(fresh, pages, strict=True):
                if isinstance(page, BaseException):
                    merged.warnings.append(f"{link}: {type(page).__name__}: {page}"[:300])
                    continue
                merged.items.extend(page.items)
                merged.language = merged.language or page.language
        return merged

    async def _parse_telegram(self, source: SourceConfig, doc: Document) -> Parsed:
        """A channel's preview shows its latest twenty or so posts. After a gap (the poller
        down, a burst of posts between two polls) the posts before those are on earlier
        pages: they are read back, up to the source's ``read_back`` pages in all, until a page
        holds a post already published, so that none is lost. A source never polled
        successfully reads its latest page only: the channel's history is not an alert."""
        page = await self.parsers.parse("telegram", doc)
        merged = Parsed(list(page.items), warnings=list(page.warnings), skipped=page.skipped)
        health = self.health.by_source.get(source.id)
        if health is None or health.last_ok is None or health.last.url != source.shown_url:
            return merged
        for _ in range(source.read_back - 1):
            if not page.earlier or not page.items or self._any_known(page.items):
                return merged
            try:
                earlier = await self.fetcher.fetch_plain(page.earlier, found_on=source.url)
                page = await self.parsers.parse("telegram", earlier)
            except PollError as exc:
                merged.warnings.append(f"earlier posts: {exc.error_class}: {exc}"[:300])
                return merged
            merged.items[:0] = page.items
            merged.skipped += page.skipped
        if page.earlier and page.items and not self._any_known(page.items):
            merged.warnings.append(
                f"more than {source.read_back} pages of posts since the last poll: the older "
                "ones were not read (poll this channel more often, or raise its read_back)"
            )
        return merged

    def _any_known(self, items: Iterable[RawItem]) -> bool:
        return any(item.url is not None and self._known_url(item.url) for item in items)

    def _known_url(self, url: str) -> bool:
        """Whether the article at ``url`` was published already."""
        return article_id(url=canonical_url(url)) in self.known

    async def _follow(self, url: str, found_on: str) -> Parsed:
        doc = await self.fetcher.fetch_plain(url, found_on=found_on)
        return await asyncio.to_thread(parse_page, doc)

    def _polled(
        self,
        source: SourceConfig,
        polled_at: datetime,
        started: float,
        result: FetchResult | None,
        status: PollStatus,
        *,
        http_status: int | None = None,
        items_seen: int = 0,
        new_articles: int = 0,
        error: tuple[str, str] | None = None,
        warning: str | None = None,
        keep: str | None = None,
        keep_lm: str | None = None,
    ) -> SourcePolled:
        return SourcePolled(
            source_id=source.id,
            url=source.shown_url,
            polled_at=polled_at,
            status=status,
            http_status=result.http_status if result is not None else http_status,
            latency_ms=round(max(0.0, (self.clock.monotonic() - started) * 1000), 3),
            bytes=result.bytes if result is not None else 0,
            items_seen=items_seen,
            new_articles=new_articles,
            # after a failure the old validators stay: the next poll must fetch in full
            etag=result.validators.etag if result is not None and not error else keep,
            last_modified=(
                result.validators.last_modified if result is not None and not error else keep_lm
            ),
            error_class=error[0] if error else None,
            error_message=error[1] if error else warning,
        )

    async def _commit(
        self,
        source: SourceConfig,
        polled: SourcePolled,
        messages: list[Message],
        updates: int,
        warnings: list[str],
    ) -> PollReport:
        report = PollReport(
            source.id,
            polled.status,
            http_status=polled.http_status,
            items_seen=polled.items_seen,
            new_articles=polled.new_articles,
            updates=updates,
            latency_ms=polled.latency_ms,
            bytes=polled.bytes,
            error_class=polled.error_class,
            error_message=polled.error_message,
            warnings=list(warnings),
        )
        if not messages and not warnings and self._quiet(source, polled):
            report.recorded = False  # nothing to say that the last recorded poll did not
            quiet = self._unrecorded.get(source.id, (0, polled))[0] + 1
            self._unrecorded[source.id] = (quiet, polled)
            return report
        unrecorded = self._unrecorded.get(source.id, (0, polled))[0]
        if unrecorded:  # the record stands for the quiet polls before it too (error rates)
            polled = polled.model_copy(update={"polls": 1 + unrecorded})
        batch = [*messages, polled_message(polled, self.topics.polled)]
        try:
            await self.appender.append(batch)
        except EventLogError as exc:
            log.error("could not append the outcome of polling %s: %s", source.id, exc)
            report.status = PollStatus.ERROR
            report.error_class = type(exc).__name__
            report.error_message = f"event log unavailable, nothing recorded: {exc}"
            return report
        report.appended = True
        self._unrecorded.pop(source.id, None)
        self.health.apply_polled(polled)
        return report

    def last_polled_at(self, source_id: str) -> datetime | None:
        """The source's latest poll known here: on the log (by whichever poller made it) or
        quiet and not recorded yet (by this one)."""
        health = self.health.by_source.get(source_id)
        quiet = self._unrecorded.get(source_id)
        known = [
            *(() if health is None else (health.last.polled_at,)),
            *(() if quiet is None else (quiet[1].polled_at,)),
        ]
        return max(known, default=None)

    def unrecorded(self, source_id: str) -> int:
        """Quiet polls of the source not on the log yet."""
        return self._unrecorded.get(source_id, (0, None))[0]

    async def record_quiet(self, source_ids: Iterable[str] | None = None) -> int:
        """Records the quiet polls not on the log yet (of every source, or of these): at a
        clean stop, and when a source's partition moved to another poller, so that no poll
        goes uncounted (error rates). One record per source: its latest quiet poll, standing
        for all of them (``polls``). Raises ``EventLogError``; returns the polls recorded."""
        wanted = list(self._unrecorded if source_ids is None else source_ids)
        # claimed before the append: a poll finishing meanwhile does not count them again
        claimed = {sid: self._unrecorded.pop(sid) for sid in wanted if sid in self._unrecorded}
        if not claimed:
            return 0
        records = [last.model_copy(update={"polls": count}) for count, last in claimed.values()]
        try:
            await self.appender.append([polled_message(p, self.topics.polled) for p in records])
        except BaseException:
            for sid, (count, last) in claimed.items():  # the next record counts them
                current = self._unrecorded.get(sid)
                self._unrecorded[sid] = (
                    (count + current[0], current[1]) if current else (count, last)
                )
            raise
        for polled in records:
            self.health.apply_polled(polled)
        return sum(polled.polls for polled in records)

    def _quiet(self, source: SourceConfig, polled: SourcePolled) -> bool:
        """Whether this poll may go unrecorded: it changed nothing (not modified, or nothing
        new) since the source's last recorded poll, which is recent enough.

        Why: a source polled every half second would otherwise add 172,800 events a day to
        the log and rows to the read model, each saying "nothing new". A recorded poll
        stays the source's health (its status, HTTP code and validators are still true); a
        new article, a failure, a warning or any change of state is always recorded. Half
        an interval of slack keeps a source polled once per ``record_quiet_every`` (its
        jitter would otherwise skip every other poll)."""
        if source.record_quiet_every <= 0 or source.cron:
            return False
        if polled.status not in (PollStatus.OK, PollStatus.NOT_MODIFIED) or polled.new_articles:
            return False
        health = self.health.by_source.get(source.id)
        if health is None:
            return False
        last = health.last
        if (
            last.status is not polled.status
            or last.url != polled.url
            or last.http_status != polled.http_status
            or (last.etag, last.last_modified) != (polled.etag, polled.last_modified)
            or last.error_message is not None
        ):
            return False
        age = (polled.polled_at - last.polled_at).total_seconds()
        return 0 <= age < source.record_quiet_every - source.interval_s / 2
