"""Backtest jobs: ``tocsin rules test FILE --since --until --format json`` run for the API.

Why a subprocess: the rules engine belongs to the rules service, and services never import
each other; the CLI is its published interface. (An event-driven job, a
``backtest.requested`` event the rules service answers on the log, would survive restarts
and scale out, but needs new event types and a consumer in services/rules: a later step.)

How a job runs
    ``POST /backtests`` validates the request and saves the job as ``queued`` in the jobs
    database (``backtests.db`` beside the read model: the read model has one writer, the
    projection, and is rebuilt from the log, where jobs are not). A bounded pool
    (``backtest_concurrency`` workers, at most ``backtest_max_pending`` jobs waiting or
    running, 429 beyond) runs each job in a private temporary directory holding the
    uploaded rule file and a minimal config (the log URL, the topic prefix and the Kafka
    options needed to read the log: no API tokens, no subscriptions, no sources). The child
    gets a cleaned environment (no ``TOCSIN_*`` nor any other variable that may hold a
    secret), its own session, and ``backtest_timeout_s``; on timeout its whole process
    group is killed. Its JSON output (capped) becomes the job's result; a non-zero exit
    becomes the job's error, with the temporary paths replaced by ``rules.yaml``.

A job still queued or running when the API stops is marked failed ("interrupted"): at
shutdown, whose subprocess is killed, or at the next start when the process that owned it
(``owner`` = host:pid) is gone. Several API workers can share the jobs database: each runs
the jobs it accepted and leaves the others' alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from services.projections.queries import iso, to_ms
from services.runtime.clock import Clock
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 20_000_000
MAX_ERROR_CHARS = 4000
#: environment variables a child may see (nothing else: secrets live in the environment)
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT", "HOME")
DEFAULT_COMMAND = (sys.executable, "-c", "from services.cli import main; main()")

DDL = """
CREATE TABLE IF NOT EXISTS backtests (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    requested_by TEXT NOT NULL,
    owner TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    examples INTEGER NOT NULL,
    rules_sha256 TEXT NOT NULL,
    rules_bytes INTEGER NOT NULL,
    result TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS backtests_created ON backtests (created_ms);
"""


class Busy(Exception):
    """Too many jobs waiting or running."""


class JobStore:
    """The jobs table; one connection behind a lock (jobs are few and small)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(DDL)
        self._lock = threading.Lock()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _job(row: sqlite3.Row, *, with_result: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "job_id": row["job_id"],
        "status": row["status"],
        "created_at": iso(row["created_ms"]),
        "started_at": iso(row["started_ms"]),
        "finished_at": iso(row["finished_ms"]),
        "requested_by": row["requested_by"],
        "since": iso(row["since_ms"]),
        "until": iso(row["until_ms"]),
        "examples": row["examples"],
        "rules_sha256": row["rules_sha256"],
        "rules_bytes": row["rules_bytes"],
        "error": row["error"],
    }
    if with_result:
        out["result"] = None if row["result"] is None else json.loads(row["result"])
    return out


class BacktestRunner:
    def __init__(
        self,
        db_path: Path,
        settings: Settings,
        clock: Clock,
        *,
        concurrency: int,
        timeout_s: float,
        max_pending: int,
        command: Sequence[str] = DEFAULT_COMMAND,
    ) -> None:
        self.store = JobStore(db_path)
        self.settings = settings
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.command = tuple(command)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="tocsin-backtest")
        self._lock = threading.Lock()
        self._pending = 0
        self._children: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._sweep()

    def _sweep(self) -> None:
        """Jobs whose owner process on this host is gone will never finish: mark them."""
        host = socket.gethostname()
        for row in self.store.execute(
            "SELECT job_id, owner FROM backtests WHERE status IN ('queued', 'running')"
        ):
            owner_host, _, pid = str(row["owner"]).rpartition(":")
            if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                self._interrupted(row["job_id"])

    def _interrupted(self, job_id: str) -> None:
        self.store.execute(
            "UPDATE backtests SET status = 'failed', finished_ms = ?,"
            " error = 'interrupted: the API stopped before the job finished'"
            " WHERE job_id = ? AND status IN ('queued', 'running')",
            (self._now(), job_id),
        )

    def _now(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    # -- the API's side ---------------------------------------------------------------------

    def submit(
        self, *, rules: str, since: datetime, until: datetime, examples: int, by: str
    ) -> dict[str, Any]:
        with self._lock:
            if self._closed:
                raise Busy("the API is stopping")
            if self._pending >= self.max_pending:
                raise Busy(f"{self._pending} backtests are waiting or running; try again later")
            self._pending += 1
        data = rules.encode()
        job_id = "bkt_" + uuid.uuid4().hex
        self.store.execute(
            "INSERT INTO backtests (job_id, status, created_ms, requested_by, owner, since_ms,"
            " until_ms, examples, rules_sha256, rules_bytes)"
            " VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                self._now(),
                by,
                self.owner,
                to_ms(since),
                to_ms(until),
                examples,
                hashlib.sha256(data).hexdigest(),
                len(data),
            ),
        )
        self._pool.submit(self._run, job_id, rules, since, until, examples)
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.store.execute("SELECT * FROM backtests WHERE job_id = ?", (job_id,))
        return _job(rows[0], with_result=True) if rows else None

    def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = self.store.execute(
            "SELECT * FROM backtests ORDER BY created_ms DESC, job_id DESC LIMIT ?", (limit,)
        )
        return [_job(r, with_result=False) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            children = list(self._children)
        for child in children:
            _kill(child)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for row in self.store.execute(
            "SELECT job_id FROM backtests WHERE owner = ? AND status IN ('queued', 'running')",
            (self.owner,),
        ):
            self._interrupted(row["job_id"])
        self.store.close()

    # -- the worker's side ------------------------------------------------------------------

    def _finish(self, job_id: str, *, result: Any = None, error: str | None = None) -> None:
        self.store.execute(
            "UPDATE backtests SET status = ?, finished_ms = ?, result = ?, error = ?"
            " WHERE job_id = ?",
            (
                "failed" if error is not None else "succeeded",
                self._now(),
                None if result is None else json.dumps(result, ensure_ascii=False),
                None if error is None else error[-MAX_ERROR_CHARS:],
                job_id,
            ),
        )

    def _run(
        self, job_id: str, rules: str, since: datetime, until: datetime, examples: int
    ) -> None:
        try:
            if self._closed:
                return
            self.store.execute(
                "UPDATE backtests SET status = 'running', started_ms = ? WHERE job_id = ?",
                (self._now(), job_id),
            )
            try:
                result, error = self._execute(rules, since, until, examples)
            except Exception as exc:  # the job fails; the runner goes on
                log.warning("backtest %s failed to run", job_id, exc_info=True)
                result, error = None, f"the backtest could not run: {type(exc).__name__}"
            if not self._closed:
                self._finish(job_id, result=result, error=error)
        finally:
            with self._lock:
                self._pending -= 1

    def _config(self) -> dict[str, Any]:
        """What the child needs to read the log, and nothing else."""
        kafka = self.settings.kafka.model_dump(mode="json", exclude_none=True)
        if self.settings.kafka.sasl_plain_password is not None:
            kafka["sasl_plain_password"] = (
                self.settings.kafka.sasl_plain_password.get_secret_value()
            )
        return {
            "log": self.settings.log,
            "topic_prefix": self.settings.topic_prefix,
            "kafka": kafka,
        }

    def _execute(
        self, rules: str, since: datetime, until: datetime, examples: int
    ) -> tuple[Any, str | None]:
        with tempfile.TemporaryDirectory(prefix="tocsin-backtest-") as tmp:
            work = Path(tmp)
            rule_file = work / "rules.yaml"
            rule_file.write_text(rules, encoding="utf-8")
            config = work / "config.yaml"
            config.touch(mode=0o600)
            config.write_text(json.dumps(self._config()), encoding="utf-8")  # JSON is YAML
            argv = [
                *self.command,
                "rules",
                "test",
                str(rule_file),
                "--since",
                since.isoformat(),
                "--until",
                until.isoformat(),
                "--examples",
                str(examples),
                "--format",
                "json",
                "--config",
                str(config),
            ]
            env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED}
            with open(work / "out", "wb") as out, open(work / "err", "wb") as err:
                child = subprocess.Popen(
                    argv, stdout=out, stderr=err, env=env, start_new_session=True
                )
                with self._lock:
                    self._children.add(child)
                try:
                    code = child.wait(timeout=self.timeout_s)
                except subprocess.TimeoutExpired:
                    _kill(child)
                    return None, f"timed out after {self.timeout_s:g} s"
                finally:
                    with self._lock:
                        self._children.discard(child)
            stderr = (work / "err").read_bytes()[-MAX_ERROR_CHARS * 4 :].decode("utf-8", "replace")
            stderr = stderr.replace(str(rule_file), "rules.yaml").replace(str(work), "<job>")
            if code != 0:
                if code < 0:
                    return None, f"the backtest was killed by signal {-code}"
                return None, stderr.strip() or f"the backtest exited with status {code}"
            size = (work / "out").stat().st_size
            if size > MAX_OUTPUT_BYTES:
                return None, f"the result is larger than {MAX_OUTPUT_BYTES} bytes"
            try:
                rows = json.loads((work / "out").read_bytes())
            except ValueError:
                return None, "the backtest printed something that is not JSON"
            return {"rules": rows}, None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=5)
