"""Graceful shutdown: SIGINT/SIGTERM set an event; loops finish their batch, commit and exit."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


def install_signal_handlers(stop: threading.Event) -> None:
    """From the main thread only. A second signal while stopping exits at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(130)
        log.info("%s: finishing the current batch, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
