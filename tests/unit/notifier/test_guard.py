"""A subscription defined through the API never delivers into the internal network, checked
at each delivery (the API's check at creation lets a name through that does not resolve
yet, and a name's answer can change), and on the socket when the name's lookup lied. The
config file's subscriptions are the operator's and go anywhere. Real receivers on 127.0.0.1
(internal, as a metadata service would be), a real SMTP server and a real forward proxy."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from forward_proxy import ForwardProxy
from notifier_support import T0, Inbox, Receiver, alert, free_port
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from schemas import AlertDelivered, AlertDeliveryFailed, SubscriptionCreated, new_event
from services.alerting.subscriptions import (
    SubscriptionError,
    load_subscriptions,
    parse_subscription,
)
from services.eventlog import EventLog
from services.eventlog.codec import encode
from services.notifier.book import SubscriptionBook
from services.notifier.channels import DeliveryError, Outgoing, build_channel
from services.runtime.addresses import InternalHosts, internal_address_of
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


def lying_lookup(host: str) -> None:
    """A rebinding name server's first answer: nothing internal (the connection then gets
    127.0.0.1)."""
    return None


def refusal(kind: str, where: str) -> str:
    return (
        re.escape(f"{kind} {where}: refused: localhost looked public but ")
        + r"(127\.0\.0\.1|::1)"
        + re.escape(
            " answered, an internal address, and the subscription came through the API "
            "(api.allow_private_urls is off)"
        )
    )


def test_a_webhook_whose_name_looked_public_is_refused_on_the_socket(
    receivers: list[Receiver],
) -> None:
    r = Receiver()
    receivers.append(r)
    url = r.url.replace("127.0.0.1", "localhost")
    sub = parse_subscription(hook("from-api", url))
    channel = build_channel(sub, InternalHosts(resolve=lying_lookup))
    try:
        with pytest.raises(DeliveryError) as caught:
            channel.send(Outgoing(sub, (alert(4),), False, "key-4"))
    finally:
        channel.close()
    assert not caught.value.retryable
    assert re.fullmatch(refusal("webhook", url.removesuffix("/hook")), str(caught.value))
    assert r.received == []


def test_an_smtp_host_whose_name_looked_public_is_refused_on_the_socket() -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    channel_config = {"kind": "email", "host": "localhost", "port": port, "security": "none"}
    sub = parse_subscription(
        {"id": "mail", "channel": {**channel_config, "from": "t@x.org", "to": ["d@x.org"]}}
    )
    channel = build_channel(sub, InternalHosts(resolve=lying_lookup))
    try:
        with pytest.raises(DeliveryError) as caught:
            channel.send(Outgoing(sub, (alert(5),), False, "key-5"))
        # the control: unchecked (a config file's subscription), the same server takes it
        build_channel(sub).send(Outgoing(sub, (alert(5),), False, "key-5"))
    finally:
        controller.stop()
    assert not caught.value.retryable
    assert re.fullmatch(refusal("email", f"smtp localhost:{port}"), str(caught.value))
    assert len(inbox.messages) == 1  # the control's, not the refused one


def test_a_checked_channel_still_goes_through_the_environments_proxy(
    receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy, the socket's peer is the proxy (which resolves the name): the check
    on the socket does not apply, and the hook is reached through the proxy."""
    r = Receiver()
    receivers.append(r)
    port = int(r.url.split(":")[2].split("/")[0])
    proxy = ForwardProxy({"hooks.tocsin-test.invalid": ("127.0.0.1", port)}).start()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sub = parse_subscription(hook("from-api", "http://hooks.tocsin-test.invalid/hook"))
    channel = build_channel(sub, InternalHosts())
    try:
        assert channel.send(Outgoing(sub, (alert(6),), False, "key-6")) == 200
    finally:
        channel.close()
        proxy.stop()
    assert proxy.relayed == ["POST http://hooks.tocsin-test.invalid/hook"]
    assert len(r.received) == 1


@pytest.mark.parametrize(
    "host", ["localhost", "10.0.0.1", "169.254.169.254", "100.64.0.1", "[::ffff:10.0.0.1]"]
)
def test_block_private_refuses_every_internal_address_when_the_file_is_read(host: str) -> None:
    """The cloud's metadata service, carrier NAT and IPv4-mapped addresses are internal
    too, as everywhere else in Tocsin."""
    with pytest.raises(SubscriptionError, match="is an internal address"):
        parse_subscription(
            {
                "id": "p",
                "channel": {**hook("p", f"http://{host}/h")["channel"], "block_private": True},
            }
        )


def test_a_config_subscription_with_block_private_is_guarded_at_delivery(
    receivers: list[Receiver],
) -> None:
    """A name passes when the file is read; at delivery it is checked (here this machine's
    own name, which resolves to an internal address), whether ``api.allow_private_urls``
    is on (no guard given) or off, as for the API's subscriptions."""
    host = socket.gethostname()
    if internal_address_of(host) is None:
        pytest.skip(f"this machine's name {host!r} does not resolve to an internal address")
    r = Receiver()
    receivers.append(r)
    url = r.url.replace("127.0.0.1", host)
    definition = {"id": "desk", "channel": {"kind": "webhook", "url": url, "block_private": True}}
    book = SubscriptionBook(load_subscriptions([definition]))
    sub = book.all()[0]
    for guard in (None, InternalHosts()):
        channel = book.sender(sub, guard)
        try:
            with pytest.raises(DeliveryError) as caught:
                channel.send(Outgoing(sub, (alert(7),), False, "key-7"))
        finally:
            channel.close()
        assert f"refused: {host.lower()} is or resolves to " in str(caught.value)
        assert str(caught.value).endswith(
            "an internal address, and the subscription asks for public hosts only (block_private)"
        )
        assert not caught.value.retryable
    assert r.received == []
    plain = parse_subscription({"id": "desk", "channel": {"kind": "webhook", "url": url}})
    assert (
        SubscriptionBook([plain])
        .sender(plain, None)
        .send(Outgoing(plain, (alert(7),), False, "key-7"))
        == 200
    )  # the control: without block_private, the file's subscription goes anywhere
