"""The notifier against real webhook receivers on 127.0.0.1 and the real SQLite log."""

from __future__ import annotations

import time
from typing import Any

from notifier_support import Receiver, alert
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from schemas import AlertDelivered, AlertDeliveryFailed, Severity
from services.alerting.subscriptions import parse_subscription
from services.eventlog import EventLog
from services.notifier.core import delivery_key

FAST = {"timeout_s": 0.5, "max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 2.0}


def hook(ident: str, r: Receiver, **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"kind": "webhook", "url": r.url}
    if r.secret:
        channel["secret"] = r.secret
    return {
        "id": ident,
        "channel": channel,
        "delivery": {**FAST, **extra.pop("delivery", {})},
        **extra,
    }


def test_signed_deliveries_once_each_and_recorded(elog: EventLog, log_url: str, receivers) -> None:
    everything = Receiver(secret="s3cret-one")
    critical = Receiver(secret="s3cret-two")
    receivers += [everything, critical]
    cfg = settings(
        log_url,
        [hook("all", everything), hook("crit", critical, match={"min_severity": "critical"})],
    )
    alerts = [alert(1), alert(2, severity=Severity.CRITICAL), alert(3, severity=Severity.LOW)]
    append_alerts(elog, alerts)
    with running(elog, cfg):
        wait_for(lambda: len(outcomes(elog)) == 4)
    assert everything.count() == 3 and critical.count() == 1
    assert all(r.signed for r in everything.received + critical.received)
    body = critical.received[0].json()
    assert body["type"] == "tocsin.alert"
    assert body["alerts"][0]["alert_id"] == alerts[1].alert_id
    assert body["alerts"][0]["evidence"][0]["snippet"] == alerts[1].evidence[0].snippet
    assert body["alerts"][0]["links"] == {
        "articles": ["https://news.example.org/a/2"],
        "alert": f"https://tocsin.example/alerts/{alerts[1].alert_id}",
    }
    sub = parse_subscription(hook("crit", critical, match={"min_severity": "critical"}))
    assert critical.received[0].headers["idempotency-key"] == delivery_key(sub, alerts[1])
    recorded = outcomes(elog)
    assert all(isinstance(o, AlertDelivered) and o.status_code == 200 for o in recorded)
    assert len({o.delivery_id for o in recorded}) == 4

    # A restart and a redelivered alert (the same event appended again) send nothing more.
    append_alerts(elog, alerts[:2])
    with running(elog, cfg) as service:
        wait_for(lambda: service.marks.offsets() != {} and service.marks.pending() == 0)
        time.sleep(0.3)
    assert everything.count() == 3 and critical.count() == 1
    assert len(outcomes(elog)) == 4


def test_a_wrong_secret_does_not_verify(elog: EventLog, log_url: str, receivers) -> None:
    r = Receiver(secret="receiver-secret")
    receivers.append(r)
    sub = hook("x", r)
    sub["channel"]["secret"] = "another-secret"
    append_alerts(elog, [alert(1)])
    with running(elog, settings(log_url, [sub])):
        wait_for(lambda: r.count() == 1)
    assert not r.received[0].signed


def test_500_and_429_are_retried_and_retry_after_is_honoured(
    elog: EventLog, log_url: str, receivers
) -> None:
    flaky = Receiver(script=[500, 500])
    limited = Receiver(script=[429])
    receivers += [flaky, limited]
    cfg = settings(log_url, [hook("flaky", flaky), hook("limited", limited)])
    append_alerts(elog, [alert(1)])
    started = time.monotonic()
    with running(elog, cfg):
        wait_for(lambda: len(outcomes(elog)) == 2)
    by_sub = {o.subscription_id: o for o in outcomes(elog)}
    assert isinstance(by_sub["flaky"], AlertDelivered) and by_sub["flaky"].attempts == 3
    assert isinstance(by_sub["limited"], AlertDelivered) and by_sub["limited"].attempts == 2
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited"
    keys = {r.headers["idempotency-key"] for r in flaky.received}
    assert len(flaky.received) == 3 and len(keys) == 1, "a retry carries the same key"


def test_max_attempts_then_failed_with_the_last_error(
    elog: EventLog, log_url: str, receivers
) -> None:
    down = Receiver(script=[503, 503, 502, 502])
    gone = Receiver(script=[410])
    receivers += [down, gone]
    cfg = settings(
        log_url,
        [hook("down", down, delivery={"max_attempts": 2}), hook("gone", gone)],
    )
    append_alerts(elog, [alert(1)])
    with running(elog, cfg):
        wait_for(lambda: len(outcomes(elog)) == 2)
    by_sub = {o.subscription_id: o for o in outcomes(elog)}
    failed = by_sub["down"]
    assert isinstance(failed, AlertDeliveryFailed)
    assert failed.attempts == 2 and failed.status_code == 503 and "HTTP 503" in failed.error
    gone_out = by_sub["gone"]
    assert isinstance(gone_out, AlertDeliveryFailed) and gone_out.attempts == 1  # 4xx: no retry
    assert gone.count() == 1


def test_a_hanging_receiver_holds_up_no_one(elog: EventLog, log_url: str, receivers) -> None:
    hanging = Receiver(script=["hang"] * 10)  # every attempt: 5 alerts x 2 attempts
    fine = Receiver()
    receivers += [hanging, fine]
    cfg = settings(
        log_url,
        [hook("hanging", hanging, delivery={"max_attempts": 2}), hook("fine", fine)],
    )
    append_alerts(elog, [alert(i) for i in range(5)])
    with running(elog, cfg):
        wait_for(lambda: fine.count() == 5, timeout_s=2.0)
        assert hanging.count() >= 1
        wait_for(lambda: len(outcomes(elog)) == 10, timeout_s=15)
    failed = [o for o in outcomes(elog) if isinstance(o, AlertDeliveryFailed)]
    assert {o.subscription_id for o in failed} == {"hanging"}
    assert len(failed) == 5 and all(o.attempts == 2 for o in failed)
    assert "timed out" in failed[0].error


def test_revisions_notify_again_only_when_asked(elog: EventLog, log_url: str, receivers) -> None:
    once = Receiver()
    every = Receiver()
    receivers += [once, every]
    cfg = settings(log_url, [hook("once", once), hook("every", every, updates=True)])
    append_alerts(elog, [alert(1)])
    with running(elog, cfg):
        wait_for(lambda: once.count() == 1 and every.count() == 1)
        append_alerts(elog, [alert(1, revision=1), alert(1, revision=2)])
        wait_for(lambda: every.count() == 3)
        time.sleep(0.3)
    assert once.count() == 1
    assert [r.json()["alerts"][0]["revision"] for r in every.received] == [0, 1, 2]


def test_a_flood_becomes_digests(elog: EventLog, log_url: str, receivers) -> None:
    r = Receiver()
    receivers.append(r)
    cfg = settings(log_url, [hook("desk", r, delivery={"rate_per_minute": 5})])
    append_alerts(elog, [alert(i) for i in range(60)])
    with running(elog, cfg):
        wait_for(lambda: len(outcomes(elog)) == 60, timeout_s=20)
    assert r.count() <= 7, f"{r.count()} messages for a flood of 60"
    delivered_alerts = sum(len(x.json()["alerts"]) for x in r.received)
    assert delivered_alerts == 60
    assert any(x.json()["type"] == "tocsin.digest" for x in r.received)
    assert sum(o.digest for o in outcomes(elog)) >= 55


def test_an_endless_answer_is_cut_off_and_the_delivery_recorded(
    elog: EventLog, log_url: str, receivers
) -> None:
    """A hook that answers 200 and then streams forever (a URL pointed at a download): the
    notifier reads a little of it, hangs up, and records the delivery; it used to read the
    answer to its end, holding the worker and growing its memory without bound."""
    flood, fine = Receiver(script=["flood"]), Receiver()
    receivers += [flood, fine]
    append_alerts(elog, [alert(1)])
    with running(elog, settings(log_url, [hook("flood", flood), hook("fine", fine)])):
        wait_for(lambda: len(outcomes(elog)) == 2)
    by_sub = {o.subscription_id: o for o in outcomes(elog)}
    assert isinstance(by_sub["flood"], AlertDelivered) and by_sub["flood"].status_code == 200
    wait_for(lambda: flood.flood_cut == 1)
