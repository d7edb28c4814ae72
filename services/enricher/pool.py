"""Enrichment in worker processes, so that it runs beside the other services, not between them.

Why: under ``tocsin run`` every service is a thread of one interpreter, and the enricher's
analysis (about 1 ms an article, pure Python) holds the GIL the whole time: the poller's
fetches, the rules and the notifier wait for it. ``EnrichPool`` is the consumer loop's
batch handler (``services.runtime.loop.BatchHandler``): the consumer thread reads a batch,
hands the records' bytes to worker processes that decode, enrich and encode them, and
appends what comes back, in the same transaction as the offsets (nothing about commits or
dead letters changes: the loop treats a record's returned exception as if the handler had
raised it).

Same outputs as inline: each worker builds the enricher from the same ``EnricherSettings``
and refuses to start unless its version is the service's, and enrichment is a pure function
of the input event (deterministic ids, the input's time), so where a record was enriched
never shows in the output.

Workers come from a ``forkserver`` (never ``fork``: the process has threads). They take a
few seconds to start (gazetteer and language model); until they all answered, batches are
enriched inline. A worker that dies (a crash in a C extension, the OOM killer) breaks the
pool: that batch is enriched inline and a new pool started; after ``MAX_BROKEN_IN_A_ROW``
breakages without a good batch between them, or if the workers cannot start at all, the
pool is given up and the enricher goes on inline. The other way round, a worker whose
service process is gone (``kill -9``: nobody shuts the pool down) exits within a second
(``_watch``): otherwise it would wait for work forever, holding its gazetteer in memory
and the forkserver alive.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from services.enricher.core import Enricher
from services.enricher.settings import EnricherSettings, build_enricher
from services.eventlog import Message, PoisonRecordError, Record
from services.eventlog.codec import decode, encode

__all__ = ["MAX_BROKEN_IN_A_ROW", "EnrichPool", "auto_workers", "enrich_records"]

log = logging.getLogger(__name__)

MAX_BROKEN_IN_A_ROW = 3
#: Below this many records per worker a batch is not split further (the hand-over costs more).
MIN_CHUNK = 8

Outcome = Sequence[Message] | Exception


def auto_workers() -> int:
    """One worker per core this process may use, less the one its own threads need; at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(4, cores - 1))


def enrich_records(enricher: Enricher, topic: str, records: Sequence[Record]) -> list[Outcome]:
    """Each record's ``article.enriched`` message, or the exception it raised (the runner's
    handler, with the encoding the loop would do)."""
    out: list[Outcome] = []
    for record in records:
        try:
            event = enricher.enrich(decode(record))
            key = event.data.article.article_id
            out.append([encode(event, topic=topic, key=key)])
        except Exception as exc:
            out.append(exc)
    return out


# -- the worker side ------------------------------------------------------------------------

#: In a worker process: "enricher" -> (the enricher, the output topic), set by its initializer.
_WORKER: dict[str, tuple[Enricher, str]] = {}


def _process_mark(pid: int) -> str | None:
    """Something that identifies a live process across pid reuse (its start time), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)  # no /proc: at least whether the pid is alive
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "alive"


def _watch(pid: int, every_s: float = 1.0) -> None:
    """Exit this worker when the service process ``pid`` is gone."""
    mark = _process_mark(pid)
    while True:
        time.sleep(every_s)
        if _process_mark(pid) != mark:
            os._exit(0)


def _start_worker(settings: EnricherSettings, version: str, topic: str, service_pid: int) -> None:
    threading.Thread(target=_watch, args=(service_pid,), name="watch-service", daemon=True).start()
    enricher = build_enricher(settings)
    if enricher.version != version:
        raise RuntimeError(
            f"the enricher worker built version {enricher.version}, the service runs {version}"
        )
    enricher.analyser.analyse("Warm-up", "Armenia and Azerbaijan.", "en")  # lazy loads
    _WORKER["enricher"] = (enricher, topic)


def _ready() -> bool:
    return "enricher" in _WORKER


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling, else one that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object, back from our own bytes
    except Exception:
        kind = PoisonRecordError if isinstance(exc, PoisonRecordError) else RuntimeError
        return kind(f"{type(exc).__name__}: {exc}")
    return exc


def _enrich_chunk(items: list[tuple[str, int, int, bytes]]) -> list[Outcome]:
    enricher, topic = _WORKER["enricher"]  # set by the initializer before any call
    records = [Record(t, p, o, 0, None, v) for t, p, o, v in items]
    return [
        o if not isinstance(o, Exception) else _portable(o)
        for o in enrich_records(enricher, topic, records)
    ]


# -- the service side -----------------------------------------------------------------------


class EnrichPool:
    """The enricher's batch handler: worker processes when they are up, inline otherwise.
    Call ``start()`` first, from the thread that runs the loop; ``close()`` at the end."""

    def __init__(
        self,
        enricher: Enricher,
        settings: EnricherSettings,
        topic: str,
        workers: int,
    ) -> None:
        self.enricher = enricher
        self.settings = settings
        self.topic = topic
        self.workers = max(0, workers)
        self.restarts = 0
        self.pooled_batches = 0
        self._executor: ProcessPoolExecutor | None = None
        self._warming: list[Future[bool]] = []
        self._ready = False
        self._broken_in_a_row = 0

    def start(self) -> None:
        """Start the workers in the background; batches go inline until they answered."""
        if self.workers == 0 or self._executor is not None:
            return
        context = multiprocessing.get_context("forkserver")
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self.settings, self.enricher.version, self.topic, os.getpid()),
        )
        self._ready = False
        self._warming = [self._executor.submit(_ready) for _ in range(self.workers)]

    def _up(self) -> bool:
        if self._ready:
            return True
        if self._executor is None or not all(f.done() for f in self._warming):
            return False
        try:
            for future in self._warming:
                future.result()
        except BrokenProcessPool:
            log.exception("enricher workers could not start")
            self._broken(self._executor)
            return False
        self._ready = True
        log.info("enricher: %d worker process(es) up", self.workers)
        return True

    def __call__(self, records: Sequence[Record]) -> list[Outcome]:
        executor = self._executor
        if executor is None or not self._up():
            return enrich_records(self.enricher, self.topic, records)
        n = min(self.workers, max(1, math.ceil(len(records) / MIN_CHUNK)))
        size = math.ceil(len(records) / n)
        out: list[Outcome] = []
        try:
            futures = [
                executor.submit(
                    _enrich_chunk,
                    [(r.topic, r.partition, r.offset, r.value) for r in records[i : i + size]],
                )
                for i in range(0, len(records), size)
            ]
            for future in futures:
                out.extend(future.result())
        except BrokenProcessPool:
            # Never hand the same records to the next pool: one of them may be what killed it.
            self._broken(executor)
            return enrich_records(self.enricher, self.topic, records)
        self._broken_in_a_row = 0
        self.pooled_batches += 1
        return out

    def _broken(self, executor: ProcessPoolExecutor) -> None:
        executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
        self._ready = False
        self._broken_in_a_row += 1
        if self._broken_in_a_row >= MAX_BROKEN_IN_A_ROW:
            log.error(
                "the enricher's worker pool broke %d times in a row: enriching inline from now on",
                self._broken_in_a_row,
            )
            self.workers = 0
            return
        log.warning("an enricher worker process died; starting a new pool")
        self.restarts += 1
        self.start()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._ready = False
