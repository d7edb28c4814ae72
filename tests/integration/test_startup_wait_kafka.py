"""A service started while its broker is unreachable waits for it (reporting each attempt)
instead of exiting, and runs once the broker answers; without ``startup_wait_s`` it fails at
once with a clear line. The outage is a TCP proxy in front of the session broker that is
not listening yet (bootstrap goes through it; the broker's advertised address does not)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka_broker import kafka_test_url
from reliability import TOCSIN, TcpProxy, clean_env

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [TOCSIN, "serve", "enricher", "--log", url],
        cwd=cwd,
        env=clean_env(TOCSIN_TOPIC_PREFIX=f"wait{uuid.uuid4().hex[:8]}.", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout_s
    while needle not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    return seen


def test_a_service_started_during_an_outage_waits_then_runs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    host, port = kafka_bootstrap.rsplit(":", 1)
    proxy = TcpProxy((host, int(port)), _free_port())  # not listening: the outage
    url = kafka_test_url(f"127.0.0.1:{proxy.port}")
    proc = _serve(url, tmp_path, TOCSIN_RUNTIME__RETRY_MAX_S="1")
    try:
        seen = _read_until(proc, "waiting for the event log", 30)
        assert "waiting for the event log" in seen and f"127.0.0.1:{proxy.port}" in seen, seen
        assert proc.poll() is None, "it waits instead of exiting"
        proxy.restore()
        seen += _read_until(proc, "enricher running on", 60)
        assert "enricher running on" in seen, seen
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
        assert proc.returncode == 0, seen + rest
    finally:
        proxy.cut()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_a_startup_wait_it_fails_at_once_with_one_line(tmp_path: Path) -> None:
    url = kafka_test_url(f"127.0.0.1:{_free_port()}")  # nothing listens there
    started = time.monotonic()
    proc = _serve(url, tmp_path, TOCSIN_RUNTIME__STARTUP_WAIT_S="0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "event log unavailable" in err and "Traceback" not in err, err
    assert time.monotonic() - started < 30
