"""Crash proof on the SQLite log: ``tocsin run`` (every service in one process) is killed
with SIGKILL at 10 random moments over a corpus run and restarted each time, then run with
``--until-idle``. At the end every article was published and enriched exactly once (the
clean run's ids), no alert event was appended twice nor any alert raised twice, the default
pack's alerts are the clean run's, and the receiver got every alert once per subscription.

Windowed alerts are checked by invariants (``raised_twice``), not by id against the clean
run: which articles share a window when it fires depends on the order the rules service
sees them, and the threads of ``tocsin run`` interleave differently from ``--until-idle``.

Exactly once at the receiver is by ``Idempotency-Key``, the notifier's contract: a kill
after the receiver answered and before the outcome was recorded re-sends the same message
with the same key, and a receiver drops repeats of a key it knows. The test counts those
repeats (``raw_repeats``) rather than hiding them, and checks that after deduping by key
every (subscription, alert) arrived exactly once. The ``flood`` subscription keeps
the default rate limit, so floods go out as digests; a digest re-planned after a crash may
list an alert again under a new key: counted, and every alert must arrive at least once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reliability import (
    Receiver,
    census,
    check_end_state,
    clean_env,
    run_until_idle,
    run_with_kills,
    write_articles,
    write_config,
)

from services.eventlog import open_log

ARTICLES = int(os.environ.get("TOCSIN_RELIABILITY_ARTICLES", "2000"))
URL_OPTIONS = "?session_timeout_ms=1000&heartbeat_interval_ms=100"


def _one_run(folder: Path, articles: Path, rx: Receiver) -> tuple[str, Path]:
    folder.mkdir()
    log = f"sqlite:///{folder}/data/tocsin.db{URL_OPTIONS}"
    return log, write_config(folder, log=log, articles=articles, receiver_url=rx.url)


@pytest.mark.slow
def test_sigkill_ten_times_loses_and_duplicates_nothing(corpus: Path, tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    count = write_articles(corpus, ARTICLES, articles)
    env = clean_env()
    with Receiver() as clean_rx, Receiver() as crash_rx:
        clean_log, clean_cfg = _one_run(tmp_path / "clean", articles, clean_rx)
        clean_seconds = run_until_idle(clean_cfg, clean_cfg.parent, env)
        crash_log, crash_cfg = _one_run(tmp_path / "crash", articles, crash_rx)
        report = run_with_kills(
            crash_cfg,
            crash_cfg.parent,
            env,
            log_url=crash_log,
            kills=10,
            window_s=(0.5, max(1.5, clean_seconds / 2)),
            seed=20261127,
        )
        with open_log(clean_log) as elog:
            clean = census(elog)
        with open_log(crash_log) as elog:
            crashed = census(elog)

    print(
        f"\n{count} articles; clean run {clean_seconds:.1f}s; kills at {report.moments}; "
        f"records after each kill {report.records}; "
        f"final run {report.final_seconds:.1f}s; alerts {len(clean.alert_events)}; "
        f"receiver repeats by key: clean {clean_rx.duplicates()}, crash {crash_rx.duplicates()}"
    )
    assert report.kills == 10
    assert report.records == sorted(report.records), "nothing is ever lost from the log"
    assert report.records[4] > 0, "the early kills must land after work began"
    assert report.records[-1] < report.final_records, "the kills must land before the end"
    assert len(clean.alert_events) >= 20, "the input must raise alerts to count"
    for run in (clean, crashed):
        assert len(run.published) == count and set(run.published.values()) == {1}
        assert len(run.enriched) == count and set(run.enriched.values()) == {1}
        assert set(run.alert_events.values()) == {1}, "no alert event appended twice"
        assert set(run.delivered.values()) == {1}, "one recorded outcome per delivery"
    repeats = check_end_state(crashed, clean, crash_rx, tmp_path / "crash")
    print(f"repeats {repeats}")
    # the flood subscription (digests): every alert arrived at least once; repeats counted
    flood = {a: n for (s, a, _), n in crash_rx.alerts_per_subscription().items() if s == "flood"}
    assert set(flood) == {e.alert_id for e in crashed.alerts.values()}
    print(f"flood digests: {sum(n - 1 for n in flood.values())} alert(s) listed again")
