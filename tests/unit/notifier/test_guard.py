"""A subscription defined through the API never delivers into the internal network, checked
at each delivery (the API's check at creation lets a name through that does not resolve
yet, and a name's answer can change). The config file's subscriptions are the operator's
and go anywhere. Real receivers on 127.0.0.1 (internal, as a metadata service would be)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from notifier_support import T0, Receiver, alert
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from schemas import AlertDelivered, AlertDeliveryFailed, SubscriptionCreated, new_event
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.runtime.addresses import InternalHosts
from services.runtime.settings import Settings

FAST = {"timeout_s": 2, "max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2}


def created_through_the_api(elog: EventLog, definition: dict[str, Any]) -> None:
    ident = definition["id"]
    payload = SubscriptionCreated(subscription_id=ident, definition=definition, by="api", at=T0)
    event = new_event(payload, id=f"sub-{ident}", source="/tocsin/api", subject=ident, time=T0)
    elog.append([encode(event, topic="subscriptions", key=ident)])


def hook(ident: str, url: str) -> dict[str, Any]:
    return {"id": ident, "channel": {"kind": "webhook", "url": url}, "delivery": FAST}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_api_subscription_to_an_internal_host_is_refused_at_delivery(
    host: str, elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    url = r.url.replace("127.0.0.1", host)
    created_through_the_api(elog, hook("from-api", url))
    append_alerts(elog, [alert(1)])
    with running(elog, settings(log_url, [])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    (failed,) = outcomes(elog)
    assert isinstance(failed, AlertDeliveryFailed)
    assert failed.attempts == 1, "an internal host is refused for good, not retried"
    origin = url.removesuffix("/hook")
    # "localhost" may resolve to ::1 first on another machine
    assert re.fullmatch(
        re.escape(f"webhook {origin}: refused: {host} is or resolves to ")
        + r"(127\.0\.0\.1|::1)"
        + re.escape(
            ", an internal address, and the subscription came through the API "
            "(api.allow_private_urls is off)"
        ),
        failed.error,
    ), failed.error
    assert r.received == []


def test_the_operator_may_allow_internal_hosts_and_config_subscriptions_go_anywhere(
    elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    from_api, from_config = Receiver(), Receiver()
    receivers += [from_api, from_config]
    created_through_the_api(elog, hook("from-api", from_api.url))
    append_alerts(elog, [alert(2)])
    cfg = Settings(
        log=log_url,
        subscriptions=[hook("from-config", from_config.url)],
        api={"allow_private_urls": True},
    )
    with running(elog, cfg):
        wait_for(lambda: len(outcomes(elog)) == 2)
    assert all(isinstance(o, AlertDelivered) for o in outcomes(elog))
    assert len(from_api.received) == len(from_config.received) == 1


def test_a_config_subscription_to_an_internal_host_is_delivered_with_the_guard_on(
    elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    append_alerts(elog, [alert(3)])
    url = r.url.replace("127.0.0.1", "localhost")
    with running(elog, settings(log_url, [hook("from-config", url)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    assert isinstance(outcomes(elog)[0], AlertDelivered)


def test_internal_hosts_are_looked_up_once_per_host_and_minute() -> None:
    looked_up: list[str] = []

    def resolve(host: str) -> None:
        looked_up.append(host)

    hosts = InternalHosts(ttl_s=60.0, resolve=resolve)
    assert [hosts.internal(h) for h in ("A.example", "a.example", "b.example")] == [None] * 3
    assert looked_up == ["a.example", "b.example"]
    expired = InternalHosts(ttl_s=0.0, resolve=resolve)
    expired.internal("c.example")
    expired.internal("c.example")
    assert looked_up[2:] == ["c.example", "c.example"]
