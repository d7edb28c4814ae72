"""Subscriptions validation, matching, delivery ids, digest and quiet-hour times, retry delays."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from notifier_support import T0, alert, raised_event

from schemas import Severity, SubscriptionCreated, SubscriptionDeleted, new_event
from services.alerting.subscriptions import (
    SubscriptionError,
    load_subscriptions,
    parse_subscription,
)
from services.notifier.book import SubscriptionBook
from services.notifier.core import DeliveryState, delivery_key, held_until, matches, plan
from services.notifier.delivery import RetryPolicy, TokenBucket

HOOK = {"kind": "webhook", "url": "https://hooks.example.org/x", "secret": "top-secret-value"}


def sub(**extra: object):  # type: ignore[no-untyped-def]
    return parse_subscription({"id": "s", "channel": HOOK, **extra})


def test_every_problem_is_reported_with_its_place_and_no_secret() -> None:
    raw = [
        {"id": "a", "channel": {**HOOK, "url": "ftp://x"}, "mode": {"digest": "61 * * * *"}},
        {"id": "b", "channel": {"kind": "fax"}},
        {"id": "c", "channel": HOOK, "match": {"min_severity": "huge", "countries": ["ARM"]}},
        {"id": "a", "channel": HOOK},
        "not a mapping",
    ]
    with pytest.raises(SubscriptionError) as info:
        load_subscriptions(raw)
    text = str(info.value)
    assert "subscriptions[0] (id=a): channel.url: must be an http(s) URL" in text
    assert "subscriptions[0] (id=a): mode: digest: invalid cron expression" in text
    assert "subscriptions[1] (id=b): channel: Input tag 'fax'" in text
    assert "subscriptions[2] (id=c): match.min_severity" in text
    assert "'ARM' is not an ISO 3166-1 alpha-2" in text
    assert "subscriptions[3] (id=a): id: duplicate of subscriptions[0]" in text
    assert "subscriptions[4]: must be a mapping" in text
    assert "top-secret-value" not in text
    assert "top-secret-value" not in repr(load_subscriptions([{"id": "ok", "channel": HOOK}]))


def test_private_addresses_refused_when_asked() -> None:
    with pytest.raises(SubscriptionError, match="internal address"):
        parse_subscription(
            {"id": "p", "channel": {**HOOK, "url": "http://10.0.0.1/h", "block_private": True}}
        )


def test_matching() -> None:
    a = alert(1, severity=Severity.MEDIUM, labels={"region": "caucasus"})
    assert matches(sub(), a)
    assert not matches(sub(match={"min_severity": "high"}), a)
    assert matches(sub(match={"rules": ["border-shelling"], "labels": {"region": "caucasus"}}), a)
    assert not matches(sub(match={"labels": {"region": "baltic"}}), a)
    assert matches(sub(match={"countries": ["am"]}), a)
    assert not matches(sub(match={"countries": ["GE"]}), a)
    assert matches(sub(match={"entities": ["country:AZ"]}), a)
    assert not matches(sub(match={"entities": ["org:csto"]}), a)
    assert not matches(sub(enabled=False), a)


def test_delivery_ids_and_plan() -> None:
    base, rev = alert(1), alert(1, revision=1)
    plain, updates = sub(), sub(updates=True)
    assert delivery_key(plain, base) == delivery_key(plain, rev)
    assert delivery_key(updates, base) == delivery_key(plain, base)
    assert delivery_key(updates, rev) != delivery_key(updates, base)
    state = DeliveryState()
    pulled = parse_subscription({"id": "feed", "channel": {"kind": "atom"}})
    intents = plan(raised_event(base), [plain, pulled], state)
    assert [i.subscription_id for i in intents] == ["s"]
    state.in_flight.add(intents[0].delivery_id)
    assert plan(raised_event(rev), [plain], state) == []
    state.settle(intents[0].delivery_id)
    assert plan(raised_event(base), [plain], state) == []


def test_max_age_leaves_out_alerts_about_old_articles() -> None:
    """An alert raised days after its newest article (a new source's backlog, a replay) is
    left out; the same alert raised at once, or a revision that a fresh article brought,
    goes out. Measured from the event's time, so a replay of the log decides alike."""
    fresh = sub(match={"max_age": "2d"})
    a = alert(1)  # newest article published at T0
    assert matches(fresh, a, T0 + timedelta(days=1))
    assert not matches(fresh, a, T0 + timedelta(days=2, seconds=1))
    assert matches(fresh, a)  # no moment to measure from: not left out
    assert matches(sub(), a, T0 + timedelta(days=30))  # no max_age: every age
    late = new_event(a, id=a.alert_id, source="/tocsin/rules", time=T0 + timedelta(days=3))
    assert plan(late, [fresh], DeliveryState()) == []
    revised = alert(1, revision=1).model_copy(update={"last_seen": T0 + timedelta(days=3)})
    on_time = new_event(revised, id="r1", source="/tocsin/rules", time=T0 + timedelta(days=3))
    assert [i.subscription_id for i in plan(on_time, [fresh], DeliveryState())] == ["s"]
    with pytest.raises(SubscriptionError, match="max_age"):
        load_subscriptions([{"id": "x", "match": {"max_age": "soon"}, "channel": {"kind": "sse"}}])
    # past timedelta's range (found by the API's OpenAPI fuzz: a 500 before)
    for huge in ("1000000000d", 1e20):
        with pytest.raises(SubscriptionError, match="too long"):
            load_subscriptions(
                [{"id": "x", "match": {"max_age": huge}, "channel": {"kind": "sse"}}]
            )


def test_digest_and_quiet_hours_times() -> None:
    now = datetime(2026, 3, 1, 5, 30, tzinfo=UTC)  # 09:30 in Yerevan (UTC+4)
    daily = sub(mode={"digest": "0 8 * * *", "tz": "Asia/Yerevan"})
    assert held_until(daily, alert(1), now) == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    every = sub(mode={"every_minutes": 15})
    assert held_until(every, alert(1), now) == datetime(2026, 3, 1, 5, 45, tzinfo=UTC)
    quiet = sub(quiet_hours={"start": "22:00", "end": "10:00", "tz": "Asia/Yerevan"})
    assert held_until(quiet, alert(1), now) == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert held_until(quiet, alert(1, severity=Severity.CRITICAL), now) is None
    assert held_until(quiet, alert(1), datetime(2026, 3, 1, 7, 0, tzinfo=UTC)) is None


def test_retry_delays_and_rate_limit() -> None:
    policy = RetryPolicy(max_attempts=5, initial_s=1.0, max_s=10.0)
    rng = random.Random(1)
    delays = [policy.delay(n, None, rng) for n in range(1, 7)]
    for n, d in enumerate(delays, start=1):
        base = min(10.0, 2 ** (n - 1))
        assert base / 2 <= d <= base
    assert 7.0 <= policy.delay(1, 7.0, rng) <= 7.1  # Retry-After wins over a short backoff
    assert policy.delay(1, 3600.0, rng) == 10.0  # but is capped
    bucket = TokenBucket(rate_per_minute=2)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.wait_s(0.0) == pytest.approx(30.0)
    assert bucket.take(30.0)


def test_subscription_events_fold() -> None:
    configured = load_subscriptions([{"id": "cfg", "channel": HOOK}])
    book = SubscriptionBook(configured)
    at = datetime(2026, 3, 1, tzinfo=UTC)

    def ev(payload):  # type: ignore[no-untyped-def]
        return new_event(payload, id="x", source="/t")

    created = SubscriptionCreated(
        subscription_id="api-1", definition={"channel": HOOK}, by="a", at=at
    )
    assert book.apply(ev(created)) == "api-1"
    assert {s.id for s in book.all()} == {"cfg", "api-1"}
    with pytest.raises(SubscriptionError, match="config file"):
        book.apply(
            ev(
                SubscriptionCreated(
                    subscription_id="cfg", definition={"channel": HOOK}, by="a", at=at
                )
            )
        )
    with pytest.raises(SubscriptionError, match="channel"):
        book.apply(ev(SubscriptionCreated(subscription_id="bad", definition={}, by="a", at=at)))
    assert book.apply(ev(SubscriptionDeleted(subscription_id="api-1", by="a", at=at))) == "api-1"
    assert {s.id for s in book.all()} == {"cfg"}
