"""Group commit: the outcomes of concurrent polls go to the log together.

Why: every poll appends (its new articles and its ``source.polled`` event), so 100 sources
polled every 0.25 s are 400 appends a second, each a write transaction made by one writer
thread. Appended one by one they queue behind each other: in ``bench/pipeline.py`` (100
feeds every 0.25 s, 100 articles/s) the append of a poll waited 260 ms at the median and
1.6 s at p99 behind the others, most of the pipeline's latency; grouped, about 20 messages
per append, 27 ms and 210 ms. Here the polls that finish while an append is running wait
for the next one, which takes all of them in one call (one transaction on SQLite): the
number of appends per second adapts to the load, and no poll waits for more than one
append ahead.

What a poll relies on is unchanged: its batch lands whole (on SQLite inside one
transaction with the other polls' batches; a crash leaves all of them or none) and the poll
learns whether it landed before it changes its state. When a joint append fails, each
batch is appended again alone, so that one poll's bad batch (a message the broker refuses)
never fails the polls that were grouped with it; a log that is down (``RetryableError``)
fails each of them at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor

from services.eventlog import EventLog, Message, RetryableError

__all__ = ["GroupAppender"]

#: Messages per joint append at most (a poll's batch is never split).
MAX_MESSAGES = 5_000


class GroupAppender:
    """``await append(batch)`` from the polls of one event loop; the appends run on
    ``writer`` (one thread: the log's calls block)."""

    def __init__(
        self, event_log: EventLog, writer: Executor, max_messages: int = MAX_MESSAGES
    ) -> None:
        self.log = event_log
        self.writer = writer
        self.max_messages = max_messages
        self._pending: list[tuple[Sequence[Message], asyncio.Future[None]]] = []
        self._draining: asyncio.Task[None] | None = None
        #: appends made and batches they carried (for tests and the curious)
        self.appends = 0
        self.batches = 0

    async def append(self, batch: Sequence[Message]) -> None:
        """Returns once ``batch`` is on the log; raises what its append raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((batch, done))
        if self._draining is None or self._draining.done():
            self._draining = loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._pending:
            group = self._take()
            await self._append_group(group)

    def _take(self) -> list[tuple[Sequence[Message], asyncio.Future[None]]]:
        taken, size = 0, 0
        for batch, _ in self._pending:
            if taken and size + len(batch) > self.max_messages:
                break
            taken += 1
            size += len(batch)
        group, self._pending = self._pending[:taken], self._pending[taken:]
        return group

    async def _append_group(
        self, group: list[tuple[Sequence[Message], asyncio.Future[None]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        messages = [m for batch, _ in group for m in batch]
        try:
            await loop.run_in_executor(self.writer, self.log.append, messages)
        except Exception as exc:
            if len(group) == 1 or isinstance(exc, RetryableError):  # the log itself is down
                for _, done in group:
                    _settle(done, exc)
                return
            # Alone, each batch gets its own outcome: one bad batch fails only its poll.
            for batch, done in group:
                try:
                    await loop.run_in_executor(self.writer, self.log.append, batch)
                except Exception as alone:
                    _settle(done, alone)
                else:
                    self._count(1)
                    _settle(done, None)
            return
        self._count(len(group))
        for _, done in group:
            _settle(done, None)

    def _count(self, batches: int) -> None:
        self.appends += 1
        self.batches += batches


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the poll was cancelled while it waited
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
