"""Waiting in tests for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    cond: Callable[[], bool],
    what: str = "the condition",
    *,
    timeout_s: float = 20.0,
    every_s: float = 0.02,
) -> None:
    """Return once ``cond()`` holds; ``AssertionError`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"not reached in {timeout_s:g} s: {what}")
