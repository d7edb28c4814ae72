"""Helpers for tests that read the event log: poll until done, settle a group's rebalance."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.eventlog import Consumer, EventLog, Message, Record


def append_each(log: EventLog, messages: list[Message]) -> None:
    """One record per append: the test broker reports end offsets and times per batch."""
    for m in messages:
        log.append([m])


def drain(consumer: Consumer, expected: int, timeout_s: float = 20.0) -> list[Record]:
    """Poll until ``expected`` records arrived (or the time is up); a group's first join takes a while on Kafka."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(consumer.poll(max_records=500, timeout_s=0.2))
    return out


def settle(
    consumers: list[Consumer], until: Callable[[], bool], timeout_s: float = 20.0
) -> dict[int, list[Record]]:
    """Poll every consumer (heartbeats, rebalances) until a condition holds.

    Returns what each consumer (by index) read meanwhile, so that no record goes unseen.
    """
    seen: dict[int, list[Record]] = {i: [] for i in range(len(consumers))}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for i, c in enumerate(consumers):
            seen[i].extend(c.poll(max_records=500, timeout_s=0.05))
        if until():
            return seen
    raise AssertionError("the consumers did not settle in time")


def settle_apart(
    consumers: list[Consumer], until: Callable[[], bool], timeout_s: float = 30.0
) -> dict[int, list[Record]]:
    """``settle`` with each consumer polled by a thread of its own, as services drive them.

    Polled in turn from one thread, Kafka consumers that join an established group can take
    20 s or more to settle against the test broker (a member's join waits while the other
    is not polling); each in its own thread they settle in about a second.
    """
    seen: dict[int, list[Record]] = {i: [] for i in range(len(consumers))}
    done = threading.Event()
    errors: list[BaseException] = []

    def drive(i: int, consumer: Consumer) -> None:
        try:
            while not done.is_set():
                seen[i].extend(consumer.poll(max_records=500, timeout_s=0.05))
        except BaseException as exc:  # reported by the caller's thread
            errors.append(exc)
            done.set()

    threads = [
        threading.Thread(target=drive, args=(i, c), daemon=True) for i, c in enumerate(consumers)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done.is_set():
            if until():
                return seen
            time.sleep(0.02)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=10)
    if errors:
        raise errors[0]
    raise AssertionError("the consumers did not settle in time")
