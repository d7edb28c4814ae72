"""kill -9 the notifier (a real ``tocsin serve notifier`` process) between sending and
recording: a receiver that answered never gets the alert again, except in the documented
window (killed after the receiver took it, before the outcome was appended), where the
repeat carries the same idempotency key and the receiver drops it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import yaml
from cli_setup import TOCSIN
from notifier_support import Receiver, alert
from service_helpers import append_alerts, outcomes, wait_for

from schemas import AlertDelivered
from services.eventlog import EventLog


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [TOCSIN, "serve", "notifier", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TOCSIN_LOG_LEVEL": "WARNING"},
    )


def write_config(path: Path, log_url: str, subs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"log": log_url, "subscriptions": subs}), encoding="utf-8")
    return path


def hook(ident: str, r: Receiver) -> dict[str, Any]:
    return {
        "id": ident,
        "channel": {"kind": "webhook", "url": r.url, "secret": "k"},
        "delivery": {"timeout_s": 5, "max_attempts": 3, "backoff_initial_s": 0.05},
    }


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_kill_between_answer_and_record_of_another_delivery(
    elog: EventLog, log_url: str, tmp_path: Path, receivers
) -> None:
    """One alert, two subscriptions: A answers and is recorded, B hangs; kill -9; restart.
    The alert is replayed (its commit waited for B) but A is not sent it again."""
    a = Receiver(secret="k")
    b = Receiver(secret="k", script=["hang"])
    receivers += [a, b]
    config = write_config(
        tmp_path / "tocsin.yaml", log_url + "?session_timeout_ms=1500", [hook("a", a), hook("b", b)]
    )
    append_alerts(elog, [alert(1)])
    proc = start(config)
    try:
        wait_for(lambda: len(outcomes(elog)) == 1 and b.count() == 1, timeout_s=20)
        assert elog.committed("notifier").get(_tp(elog)) in (None, 0), "commit waited for B"
        kill(proc)
        b.release.set()
        proc = start(config)
        wait_for(lambda: len(outcomes(elog)) == 2, timeout_s=20)
    finally:
        kill(proc)
    assert a.count() == 1, "A answered and was recorded: never sent again"
    assert b.count() == 2 and b.processed == 1
    assert {o.subscription_id for o in outcomes(elog)} == {"a", "b"}


def test_the_window_is_closed_by_the_idempotency_key(
    elog: EventLog, log_url: str, tmp_path: Path, receivers
) -> None:
    """Killed after the receiver took the alert, before the outcome was appended: the
    restart sends it again with the same key; the receiver acts on it once."""
    r = Receiver(secret="k", script=["kill"])
    receivers.append(r)
    config = write_config(
        tmp_path / "tocsin.yaml", log_url + "?session_timeout_ms=1500", [hook("desk", r)]
    )
    append_alerts(elog, [alert(1)])
    proc = start(config)
    r.kill_pid = proc.pid
    try:
        wait_for(lambda: proc.poll() is not None, timeout_s=20)
        assert outcomes(elog) == [], "killed before recording"
        r.release.set()
        proc = start(config)
        wait_for(lambda: len(outcomes(elog)) == 1, timeout_s=20)
    finally:
        kill(proc)
    assert r.count() == 2
    keys = [x.headers["idempotency-key"] for x in r.received]
    assert keys[0] == keys[1] == outcomes(elog)[0].delivery_id
    assert r.processed == 1, "the receiver dropped the repeat by its idempotency key"
    assert all(x.signed for x in r.received)
    assert isinstance(outcomes(elog)[0], AlertDelivered)


def _tp(elog: EventLog):  # type: ignore[no-untyped-def]
    from services.eventlog import TopicPartition
    from services.eventlog.base import partition_for_key

    parts = elog.list_topics()["alerts.raised"]
    return TopicPartition("alerts.raised", partition_for_key(alert(1).alert_id.encode(), parts))
