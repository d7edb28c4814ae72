"""Where documents are parsed: inline, or in a small pool of parser processes.

Parsing (feedparser's pure-Python SAX handlers above all) is most of a first poll's CPU
time, and it holds the GIL: in the event loop's process it stalls fetching and appending.
A ``ParsePool`` runs the parsers in worker processes, so parsing uses the other cores while
the loop keeps fetching. Only documents of at least ``min_bytes`` go there (below that the
round trip costs more than the parse); a pool of 0 workers parses everything inline (a
document over 256 KiB in a thread, so the loop keeps answering).

Workers come from a ``forkserver`` (never ``fork``: the poller's process has threads: the
log writer, Kafka's I/O, the ownership thread) with the parser modules preloaded, so a
worker starts in milliseconds. A worker that dies on a document (a crash in a C parser,
the OOM killer) breaks the pool: the pool is replaced and the document tried once more in
the new one; if it kills that worker too, the poll fails with ``ParserCrashed`` and the
poller goes on with a fresh pool. Parsing in a separate process isolates such crashes from
the poller itself. A pool that breaks ``MAX_BROKEN_IN_A_ROW`` times without one good parse
in between (workers that cannot start) is given up: later documents are parsed inline,
never the one that was in the pool when it broke.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services.poller.errors import ParserCrashed
from services.poller.fetch import Document
from services.poller.parsers import Parsed

log = logging.getLogger(__name__)

#: Above this size a document is parsed in a thread when there is no pool.
THREAD_ABOVE_BYTES = 262_144
#: After this many pool breakages without a parse in between, parsing moves in-process.
MAX_BROKEN_IN_A_ROW = 3
_PRELOAD = [
    "services.poller.parsers.feeds",
    "services.poller.parsers.jsonl",
    "services.poller.parsers.telegram",
]


def default_workers() -> int:
    """One parser process per core, at most four. On two cores two workers beat one (the
    event loop needs less than a core; the OS balances three busy processes over two)."""
    return max(1, min(4, os.cpu_count() or 1))


def parse_document(kind: str, doc: Document) -> Parsed:
    """Run the parser for ``kind`` (in a worker, or inline). Imports lazily: a worker loads
    trafilatura only if it ever parses a page."""
    parser: Callable[[Document], Parsed]
    if kind == "feed":
        from services.poller.parsers.feeds import parse_feed as parser
    elif kind == "jsonl":
        from services.poller.parsers.jsonl import parse_jsonl as parser
    elif kind == "page":
        from services.poller.parsers.pages import parse_page as parser
    elif kind == "telegram":
        from services.poller.parsers.telegram import parse_telegram as parser
    else:
        raise ValueError(f"no parser for source kind {kind!r}")
    return parser(doc)


class ParsePool:
    """Parses documents for the poller; ``workers=0`` parses inline. Use from one loop."""

    def __init__(
        self,
        workers: int = 0,
        *,
        min_bytes: int = 4096,
        target: Callable[[str, Document], Parsed] = parse_document,
    ) -> None:
        self.workers = max(0, workers)
        self.min_bytes = min_bytes
        self.target = target  # a module-level function (workers import it by name)
        self._executor: ProcessPoolExecutor | None = None
        self.restarts = 0
        self._broken_in_a_row = 0

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Drop a broken pool once, however many of its parses noticed."""
        if self._executor is broken:
            self._executor = None
            self.restarts += 1
            self._broken_in_a_row += 1
            broken.shutdown(wait=False, cancel_futures=True)
            if self._broken_in_a_row >= MAX_BROKEN_IN_A_ROW:
                # workers that cannot even start (a broken environment, an unguarded
                # __main__) must not cost every poll: parse in this process from now on
                log.error(
                    "the parser pool broke %d times in a row: parsing in the poller's "
                    "process from now on",
                    self._broken_in_a_row,
                )
                self.workers = 0
            else:
                log.warning("a parser process died; starting a new parser pool")

    async def parse(self, kind: str, doc: Document) -> Parsed:
        if self.workers == 0 or len(doc.body) < self.min_bytes:
            if len(doc.body) > THREAD_ABOVE_BYTES:
                return await asyncio.to_thread(self.target, kind, doc)
            return self.target(kind, doc)
        loop = asyncio.get_running_loop()
        for _attempt in (1, 2):
            if self.workers == 0:  # the pool was given up on while this document was in it:
                break  # never parse a document that may kill a worker in the poller itself
            pool = self._pool()
            try:
                parsed = await loop.run_in_executor(pool, self.target, kind, doc)
            except BrokenProcessPool:
                self._replace(pool)
                continue
            self._broken_in_a_row = 0
            return parsed
        raise ParserCrashed(
            f"the parser process died on this document ({len(doc.body):,} bytes): "
            "it is not parsed, the poller goes on"
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
