"""``tocsin run --processes``: every service in a process of its own, under one command.

Why: the services of ``tocsin run`` are threads of one interpreter, so they share one core
whatever the machine has (``bench/pipeline.py``: about 0.9 of a core for the whole
pipeline). Here each service runs as ``tocsin serve NAME`` in a child process against the
same log (the SQLite log takes writers from several processes; Kafka is made for it), and
this process keeps what ``tocsin run`` promises: one command, one console, status lines,
Ctrl-C stops everything cleanly, and one service dying stops the others, loudly.

How the children are tied to this process:

- they start in sessions of their own, so the terminal's Ctrl-C reaches this process only,
  which then sends each child exactly one SIGTERM (a second signal would make a service
  exit at once, without finishing its batch);
- their standard input is a pipe this process never writes to (``serve --supervised``):
  when this process ends, however it ends (``kill -9`` included), the pipe closes and each
  child stops as if it had been sent SIGTERM. No child outlives its supervisor.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: How long the children may take to finish their batch after SIGTERM before being killed.
STOP_GRACE_S = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def child_command(name: str, config: Path | None, log_url: str | None) -> list[str]:
    """The command line of one service's process: this interpreter, this package."""
    command = [sys.executable, "-m", "services.cli", "serve", name, "--supervised"]
    if config is not None:
        command += ["--config", str(config)]
    if log_url is not None:
        command += ["--log", log_url]
    return command


def start(names: Sequence[str], config: Path | None, log_url: str | None) -> list[Child]:
    """One child per service; if one cannot be started, those already started are stopped."""
    children: list[Child] = []
    try:
        for name in names:
            process = subprocess.Popen(
                child_command(name, config, log_url),
                stdin=subprocess.PIPE,
                start_new_session=True,
            )
            children.append(Child(name, process))
    except BaseException:
        stop_all(children)
        raise
    return children


def supervise(
    children: Sequence[Child],
    stop: threading.Event,
    *,
    tick: Callable[[], None] | None = None,
    grace_s: float = STOP_GRACE_S,
) -> Child | None:
    """Waits until ``stop`` is set or a child exits, then stops every child.

    Returns the child that exited on its own (the reason to stop), else ``None``."""
    died: Child | None = None
    try:
        while died is None and not stop.wait(0.2):
            died = next((c for c in children if c.process.poll() is not None), None)
            if died is None and tick is not None:
                tick()
    finally:
        stop_all(children, grace_s)
    return died


def stop_all(children: Sequence[Child], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every child still running, then SIGKILL to those still there after
    ``grace_s``."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("service %s did not stop within %.0f s: killing it", child.name, grace_s)
            child.process.kill()
            child.process.wait()
        if child.process.stdin is not None:
            child.process.stdin.close()
