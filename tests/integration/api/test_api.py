"""The API over a real sqlite log and a real read model (TestClient; the SSE test runs a
real uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import readside_events as ev
from fastapi.testclient import TestClient
from readside_server import (
    READ_TOKEN,
    WRITE_TOKEN,
    live_server,
    make_config,
    make_settings,
    open_test_log,
    project,
)

from schemas import PushState
from services.alerting import expand_secrets, parse_subscription
from services.api.app import create_app
from services.eventlog import EventLog
from services.runtime.bootstrap import topic
from services.runtime.settings import Settings

W = {"Authorization": f"Bearer {WRITE_TOKEN}"}
R = {"Authorization": f"Bearer {READ_TOKEN}"}


class Env:
    def __init__(self, tmp: Path, **overrides: object) -> None:
        self.tmp = tmp
        self.settings: Settings = make_settings(tmp)
        self.config = make_config(tmp, **overrides)
        self.log: EventLog = open_test_log(self.settings)
        ev.append(self.log, ev.scenario())
        self.project()
        self.client = TestClient(
            create_app(self.config, self.settings, self.log, follow_alerts=False)
        )

    def project(self) -> None:
        project(self.settings, self.log, self.config.read_model)

    def records(self, base: str) -> int:
        return sum(self.log.end_offsets([topic(self.settings, base)]).values())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    with e.client:
        yield e
    e.log.close()


def _alert_id(env: Env, title: str) -> str:
    items = env.client.get("/alerts", headers=R, params={"limit": 100}).json()["items"]
    return next(a["alert_id"] for a in items if a["title"] == title)


def test_reads_need_a_token_and_bad_tokens_get_401(env: Env) -> None:
    r = env.client.get("/alerts")
    assert r.status_code == 401 and r.json()["detail"]["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert (
        env.client.get(
            "/alerts", headers={"Authorization": "Bearer wrong-token-000000"}
        ).status_code
        == 401
    )
    assert env.client.get("/alerts", headers={"Authorization": "Basic abc"}).status_code == 401
    assert env.client.get("/alerts", headers=R).status_code == 200


def test_public_reading(tmp_path: Path) -> None:
    e = Env(tmp_path, public_read=True)
    with e.client:
        assert e.client.get("/alerts").status_code == 200
        a = _alert_id(e, "Border talks 3")
        r = e.client.post(f"/alerts/{a}/ack", json={})
        assert r.status_code == 401  # writes still need a token
    e.log.close()


def test_alert_list_filters_and_pages(env: Env) -> None:
    c = env.client
    body = c.get("/alerts", headers=R, params={"limit": 4}).json()
    assert len(body["items"]) == 4 and body["next_cursor"]
    rest = c.get("/alerts", headers=R, params={"limit": 4, "cursor": body["next_cursor"]}).json()
    ids = [a["alert_id"] for a in body["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 6 and rest["next_cursor"] is None
    times = [a["raised_at"] for a in body["items"] + rest["items"]]
    assert times == sorted(times, reverse=True)
    assert {
        a["severity"]
        for a in c.get("/alerts", headers=R, params={"min_severity": "high"}).json()["items"]
    } <= {"high", "critical"}
    assert {
        a["status"]
        for a in c.get(
            "/alerts", headers=R, params=[("status", "resolved"), ("status", "acknowledged")]
        ).json()["items"]
    } == {"resolved", "acknowledged"}
    assert len(c.get("/alerts", headers=R, params={"country": "AZ"}).json()["items"]) == 4
    assert c.get("/alerts", headers=R, params={"rule": "nope"}).json()["items"] == []
    since = c.get("/alerts", headers=R, params={"since": "2026-03-01T12:04:00Z"}).json()["items"]
    assert since and all(a["raised_at"] >= "2026-03-01T12:04" for a in since)


def test_bad_query_parameters_get_422_naming_the_field(env: Env) -> None:
    r = env.client.get("/alerts", headers=R, params={"severity": "apocalyptic"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "severity", 0]
    r = env.client.get("/alerts", headers=R, params={"cursor": "garbage!"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"]
    r = env.client.get("/alerts", headers=R, params={"limit": 10_000})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


def test_alert_detail_has_evidence_articles_and_deliveries(env: Env) -> None:
    a = _alert_id(env, "Border talks 0")
    d = env.client.get(f"/alerts/{a}", headers=R).json()
    assert d["status"] == "acknowledged" and d["evidence"][0]["surface"] == "Armenia"
    assert d["articles"][0]["text"].startswith("Armenia and Azerbaijan")
    assert d["deliveries"][0]["ok"] is True
    assert env.client.get("/alerts/alr_nope", headers=R).status_code == 404


def test_lifecycle_actions_are_events_on_the_log(env: Env) -> None:
    a = _alert_id(env, "Border talks 3")
    before = env.records("alerts.lifecycle")
    assert env.client.post(f"/alerts/{a}/ack", json={"note": "on it"}, headers=R).status_code == 403
    r = env.client.post(f"/alerts/{a}/ack", json={"note": "on it"}, headers=W)
    assert r.status_code == 202 and r.json()["type"] == "tocsin.alert.acknowledged.v1"
    assert (
        env.client.post(f"/alerts/{a}/assign", json={"assignee": "bo"}, headers=W).status_code
        == 202
    )
    assert (
        env.client.post(
            f"/alerts/{a}/comment", json={"comment": "<b>hi</b>"}, headers=W
        ).status_code
        == 202
    )
    assert env.records("alerts.lifecycle") == before + 3
    env.project()
    d = env.client.get(f"/alerts/{a}", headers=R).json()
    assert (d["status"], d["assignee"], d["acknowledged_by"]) == ("acknowledged", "bo", "ana")
    assert env.client.post(f"/alerts/{a}/resolve", headers=W).status_code == 202
    env.project()
    assert env.client.get(f"/alerts/{a}", headers=R).json()["status"] == "resolved"


def test_bad_payloads_write_nothing(env: Env) -> None:
    a = _alert_id(env, "Border talks 3")
    before = env.records("alerts.lifecycle")
    r = env.client.post(f"/alerts/{a}/assign", json={}, headers=W)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee"]
    r = env.client.post(f"/alerts/{a}/comment", json={"comment": "x" * 10_001}, headers=W)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "comment"]
    r = env.client.post(f"/alerts/{a}/ack", json={"note": "x", "sneaky": 1}, headers=W)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "sneaky"]
    assert env.client.post("/alerts/alr_unknown/ack", json={}, headers=W).status_code == 404
    assert env.records("alerts.lifecycle") == before


def _sub(url: str, **extra: object) -> dict[str, object]:
    return {
        "id": "desk-2",
        "match": {"min_severity": "high"},
        "channel": {"kind": "webhook", "url": url, **extra},
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/hook", "scheme"),
        ("http://127.0.0.1:9000/hook", "private"),
        ("http://localhost/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "private"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::1]/hook", "private"),
        ("http://[::ffff:192.168.0.1]/hook", "private"),
        ("https://user:pw@example.org/hook", "credentials"),
    ],
)
def test_webhook_urls_are_checked(env: Env, url: str, reason: str) -> None:
    before = env.records("subscriptions")
    r = env.client.post("/subscriptions", json=_sub(url), headers=W)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "channel", "url"] and reason in detail["msg"]
    assert env.records("subscriptions") == before


@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1", 422), ("localhost", 422), ("10.0.0.25", 422), ("smtp.example.org", 201)],
)
def test_an_email_channels_smtp_server_is_checked_as_a_url_is(
    env: Env, host: str, status: int
) -> None:
    sub = {
        "id": "mail-desk",
        "channel": {"kind": "email", "host": host, "from": "t@example.org", "to": ["a@b.org"]},
    }
    before = env.records("subscriptions")
    r = env.client.post("/subscriptions", json=sub, headers=W)
    assert r.status_code == status, r.text
    if status == 422:
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "channel", "host"]
        assert detail["msg"].startswith("host refused: ")
        assert env.records("subscriptions") == before


def test_a_telegram_channel_takes_its_token_as_a_reference_and_a_public_api(env: Env) -> None:
    def sub(**channel: object) -> dict[str, object]:
        base = {"kind": "telegram", "token": "${TG_TOKEN}", "chat_id": "-1001234567890"}
        return {"id": "tg-desk", "channel": {**base, **channel}}

    refused = [
        (sub(token="123456789:AAE-plain-token-in-the-body"), ["body", "channel", "token"]),
        (sub(api_url="http://169.254.169.254"), ["body", "channel", "api_url"]),
        (sub(chat_id="the desk"), ["body", "channel", "chat_id"]),
    ]
    before = env.records("subscriptions")
    for body, loc in refused:
        r = env.client.post("/subscriptions", json=body, headers=W)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == loc
    assert env.records("subscriptions") == before
    assert env.client.post("/subscriptions", json=sub(), headers=W).status_code == 201
    env.project()
    shown = env.client.get("/subscriptions/tg-desk", headers=R).json()
    assert shown["definition"]["channel"]["token"] == "${TG_TOKEN}"


def test_private_urls_when_the_operator_allows_them(tmp_path: Path) -> None:
    e = Env(tmp_path, allow_private_urls=True)
    with e.client:
        assert (
            e.client.post(
                "/subscriptions", json=_sub("http://127.0.0.1:9000/hook"), headers=W
            ).status_code
            == 201
        )
    e.log.close()


def test_subscriptions_crud(env: Env) -> None:
    c = env.client
    assert (
        c.post(
            "/subscriptions",
            json=_sub("https://hooks.example.org/x", secret="plain-secret"),
            headers=W,
        ).status_code
        == 422
    )
    r = c.post(
        "/subscriptions",
        json=_sub("https://hooks.example.org/x", secret="${HOOK_SECRET}"),
        headers=W,
    )
    assert r.status_code == 201 and r.json()["type"] == "tocsin.subscription.created.v1"
    env.project()
    got = c.get("/subscriptions/desk-2", headers=R).json()
    assert got["definition"]["channel"]["secret"] == "${HOOK_SECRET}" and got["created_by"] == "ana"
    assert (
        c.post("/subscriptions", json=_sub("https://hooks.example.org/x"), headers=W).status_code
        == 409
    )
    r = c.put("/subscriptions/desk-2", json={"channel": {"kind": "atom"}}, headers=W)
    assert r.status_code == 202
    env.project()
    assert c.get("/subscriptions/desk-2", headers=R).json()["definition"]["channel"] == {
        "kind": "atom"
    }
    assert c.delete("/subscriptions/desk-2", headers=W).status_code == 202
    env.project()
    assert [s["subscription_id"] for s in c.get("/subscriptions", headers=R).json()["items"]] == [
        "desk"
    ]
    assert c.delete("/subscriptions/desk-2", headers=W).status_code == 404
    assert (
        c.put("/subscriptions/nope", json={"channel": {"kind": "atom"}}, headers=W).status_code
        == 404
    )


def _refused(env: Env, method: str, path: str, body: dict[str, object]) -> list[dict[str, Any]]:
    """The 422's problems; the log must not have grown."""
    before = env.records("subscriptions")
    r = env.client.request(method, path, json=body, headers=W)
    assert r.status_code == 422, r.text
    assert env.records("subscriptions") == before
    detail: list[dict[str, Any]] = r.json()["detail"]
    return detail


EMAIL = {
    "kind": "email",
    "host": "smtp.example.org",
    "from": "tocsin@example.org",
    "to": ["desk@example.org"],
    "username": "desk",
}


@pytest.mark.parametrize(
    ("channel", "loc", "words"),
    [
        # credentials go on the log only as ${ENV} references
        ({**EMAIL, "password": "hunter2"}, ["channel", "password"], "environment reference"),
        (
            {
                "kind": "webhook",
                "url": "https://hooks.example.org/x",
                "headers": {"X-Api-Key": "k1"},
            },
            ["channel", "headers"],
            "X-Api-Key",
        ),
        # what the notifier would refuse: checked against its own model, field by field
        (
            {"kind": "webhook", "url": "https://hooks.example.org/x", "urll": "x"},
            ["channel", "urll"],
            "not permitted",
        ),
        ({**EMAIL, "password": "${SMTP_PASSWORD}", "to": []}, ["channel", "to"], "at least 1"),
        ({**EMAIL, "username": None, "password": "${SMTP_PASSWORD}"}, ["channel"], "go together"),
        ({"kind": "pager"}, ["channel", "kind"], ""),
    ],
)
def test_a_channel_the_notifier_would_refuse_never_reaches_the_log(
    env: Env, channel: dict[str, object], loc: list[str], words: str
) -> None:
    detail = _refused(env, "POST", "/subscriptions", {"id": "desk-2", "channel": channel})
    assert any(d["loc"][: len(loc) + 1] == ["body", *loc] and words in d["msg"] for d in detail), (
        detail
    )


def test_every_field_of_a_subscription_is_checked_on_create_and_update(env: Env) -> None:
    atom = {"kind": "atom"}
    detail = _refused(
        env,
        "POST",
        "/subscriptions",
        {"id": "desk-2", "match": {"sevrity": "high"}, "channel": atom},
    )
    assert detail[0]["loc"] == ["body", "match", "sevrity"]
    detail = _refused(
        env,
        "POST",
        "/subscriptions",
        {"id": "desk-2", "mode": {"digest": "61 * * * *"}, "channel": atom},
    )
    assert "invalid cron expression" in json.dumps(detail)
    detail = _refused(
        env,
        "PUT",
        "/subscriptions/desk",
        {"channel": atom, "quiet_hours": {"start": "22:00", "tz": "Mars/Olympus"}},
    )
    assert {tuple(d["loc"]) for d in detail} >= {
        ("body", "quiet_hours", "end"),
        ("body", "quiet_hours", "tz"),
    }


def test_the_whole_shape_of_the_config_file_is_accepted_as_the_notifier_reads_it(env: Env) -> None:
    """subscriber, quiet hours, updates, delivery, digest mode and an email channel with its
    password as a reference: stored as given, and the notifier's model accepts it."""
    body = {
        "id": "mail-desk",
        "subscriber": {"name": "Caucasus desk", "contact": "desk@example.org"},
        "match": {"countries": ["am", "az"], "min_severity": "medium"},
        "channel": {**EMAIL, "password": "${SMTP_PASSWORD}"},
        "mode": {"digest": "0 8 * * *", "tz": "Asia/Yerevan"},
        "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Asia/Yerevan"},
        "updates": True,
        "delivery": {"max_attempts": 3},
    }
    r = env.client.post("/subscriptions", json=body, headers=W)
    assert r.status_code == 201, r.text
    env.project()
    stored = env.client.get("/subscriptions/mail-desk", headers=R).json()["definition"]
    assert stored["channel"]["password"] == "${SMTP_PASSWORD}" and stored["channel"]["from"]
    assert stored["match"]["countries"] == ["AM", "AZ"] and stored["updates"] is True
    assert "enabled" not in stored  # given fields only: the notifier applies the defaults
    sub = parse_subscription(expand_secrets(stored, {"SMTP_PASSWORD": "pw"}))
    assert sub.channel.kind == "email" and sub.channel.password is not None
    assert sub.channel.password.get_secret_value() == "pw"
    assert sub.quiet_hours is not None and sub.quiet_hours.tz == "Asia/Yerevan"
    assert sub.delivery.max_attempts == 3 and sub.mode != "immediate"
    mattermost = {"kind": "mattermost", "url": "https://chat.example.org/hooks/${MM_HOOK}"}
    r = env.client.post("/subscriptions", json={"id": "mm", "channel": mattermost}, headers=W)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("slack", "https://hooks.slack.com/services/T000/B000/XXXXsecret"),
        ("mattermost", "https://chat.example.org/hooks/xxxxsecret"),
    ],
)
def test_a_chat_hook_path_is_a_credential(env: Env, kind: str, url: str) -> None:
    """Whoever has a Slack or Mattermost hook URL can post to the channel: the API takes its
    path only as a ${ENV} reference, and reads hide the path of one already on the log."""
    body = {"id": f"{kind}-desk", "channel": {"kind": kind, "url": url}}
    r = env.client.post("/subscriptions", json=body, headers=W)
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "channel", "url"]
    assert "environment reference" in error["msg"]
    env.project()
    assert env.client.get(f"/subscriptions/{kind}-desk", headers=R).status_code == 404

    ev.append(env.log, [ev.subscription(f"old-{kind}", ev.T0, channel={"kind": kind, "url": url})])
    env.project()
    shown = env.client.get(f"/subscriptions/old-{kind}", headers=R)
    assert "secret" not in shown.text.lower()
    origin = url.split("/")[2]
    assert shown.json()["definition"]["channel"]["url"] == f"https://{origin}/[redacted]"


def test_credentials_written_before_the_check_are_not_shown(env: Env) -> None:
    """A definition appended by an older version with a plain password: the log keeps it,
    reads show it redacted; references are shown as they are."""
    leaked = {
        **EMAIL,
        "password": "hunter2",
        "headers": {"Authorization": "Bearer t0", "X-Desk": "caucasus"},
    }
    ev.append(env.log, [ev.subscription("old-mail", ev.T0, channel=leaked)])
    env.project()
    for r in (
        env.client.get("/subscriptions/old-mail", headers=R),
        env.client.get("/subscriptions", headers=R),
    ):
        assert r.status_code == 200 and "hunter2" not in r.text and "Bearer t0" not in r.text
    channel = env.client.get("/subscriptions/old-mail", headers=R).json()["definition"]["channel"]
    assert channel["password"] == "[redacted]"
    assert channel["headers"] == {"Authorization": "[redacted]", "X-Desk": "caucasus"}


def test_articles_entities_sources_rules(env: Env) -> None:
    c = env.client
    found = c.get("/articles", headers=R, params={"q": "item 5"}).json()["items"]
    assert [a["title"] for a in found] == ["Border talks 5"]
    assert (
        len(
            c.get("/articles", headers=R, params={"entity": "country:az", "limit": 100}).json()[
                "items"
            ]
        )
        == 8
    )
    assert (
        len(
            c.get(
                "/articles",
                headers=R,
                params=[("source", "src-a"), ("tag", "border"), ("language", "en")],
            ).json()["items"]
        )
        == 6
    )
    art = c.get(f"/articles/{found[0]['article_id']}", headers=R).json()
    assert "CSTO" in art["text"]
    ents = c.get(
        "/entities",
        headers=R,
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
    ).json()["items"]
    assert ents[0]["entity_id"] == "country:am"
    # the default period before an "until" in year 1 starts in year 1 (found by the fuzz)
    early = c.get("/entities", headers=R, params={"until": "0001-01-03T00:00:00Z"})
    assert early.status_code == 200 and early.json()["since"] == "0001-01-01T00:00:00Z"
    epoch = c.get("/entities", headers=R, params={"until": "1970-01-01T00:00:00Z"}).json()
    assert epoch["until"] == "1970-01-01T00:00:00Z"  # not "now": 0 ms is a moment too
    line = c.get(
        "/entities/country:am/timeline",
        headers=R,
        params={"bucket": "hour", "since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
    ).json()
    assert sum(p["articles"] for p in line["points"]) == 12
    sources = c.get("/sources", headers=R).json()["items"]
    assert sources[0]["source_id"] == "src-b" and sources[0]["failing"]
    rules = {r["rule_id"]: r for r in c.get("/rules", headers=R).json()["items"]}
    assert rules["csto-armenia-azerbaijan"]["hits"] == 6 and rules["quiet-rule"]["active"]
    assert (
        c.get("/deadletters", headers=R).json()["items"][0]["reason"] == "not a valid Tocsin event"
    )


def test_metrics_health_and_openapi(env: Env) -> None:
    c = env.client
    text = c.get("/metrics", headers=R).text
    assert "tocsin_articles_published_total 12.0" in text
    assert "tocsin_alerts_raised_total 6.0" in text
    assert 'tocsin_deliveries_total{outcome="failed"} 1.0' in text
    assert 'tocsin_consumer_lag{group="projections",topic="alerts.raised"} 0.0' in text
    assert "tocsin_alert_latency_seconds_bucket" in text
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"read_model": "ok", "log": "ok"}
    spec = c.get("/openapi.json").json()
    assert {"/alerts", "/articles", "/alerts/{alert_id}/ack", "/subscriptions", "/metrics"} <= set(
        spec["paths"]
    )


def test_security_headers(env: Env) -> None:
    r = env.client.get("/ui/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_dashboard_escapes_untrusted_text(env: Env) -> None:
    evil = ev.article(
        99, title="<img src=x onerror=alert(1)>", text="<script>alert(2)</script> Armenia CSTO"
    )
    ev.append(env.log, [ev.published(evil), ev.enriched(evil), ev.raised(evil)])
    env.project()
    env.client.cookies.set("tocsin_token", READ_TOKEN)
    page = env.client.get("/ui").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    a = _alert_id(env, evil.title)
    detail = env.client.get(f"/ui/alerts/{a}").text
    assert "<script>alert(2)" not in detail and "&lt;script&gt;alert(2)&lt;/script&gt;" in detail
    assert "<mark>Armenia</mark>" in detail and "<mark>CSTO</mark>" in detail
    ops = env.client.get("/ui/ops").text
    assert "503 Service Unavailable" in ops and "<svg" in ops
    assert '<a href="/ui/ops">1 of 2 sources failing</a>: src-b' in env.client.get("/ui").text
    # a poll's warning names URLs a publisher chose (a redirect's target)
    warned = ev.polled("src-c", ev.T0)
    data = warned.data.model_copy(
        update={
            "error_message": 'moved permanently to https://x.example/"><script>alert(3)</script>'
        }
    )
    ev.append(env.log, [warned.model_copy(update={"data": data})])
    env.project()
    ops = env.client.get("/ui/ops").text
    assert "<script>alert(3)" not in ops
    assert (
        '<td class="warning">moved permanently to https://x.example/&#34;&gt;&lt;script&gt;' in ops
    )
    # a hub's answer to a subscription request is the hub's text
    refused = ev.pushed(
        "src-c", ev.T0, PushState.FAILED, problem="HTTP 403 from the hub: <b onclick=x>no</b>"
    )
    active = ev.pushed("src-a", ev.T0 + timedelta(minutes=1), lease=timedelta(days=3650))
    ev.append(env.log, [refused, active, ev.polled("src-d", ev.T0)])  # src-d names no hub
    env.project()
    ops = env.client.get("/ui/ops").text
    assert "<b onclick" not in ops and "&lt;b onclick=x&gt;no&lt;/b&gt;" in ops
    assert '<td class="push">active until 2036-02-27T12:01:00Z <small>at https://hub.' in ops
    assert '<td class="push">polled only</td>' in ops
    items = env.client.get("/sources", headers=R).json()["items"]
    push = {s["source_id"]: s["push"] for s in items}
    assert push["src-a"]["state"] == "active" and push["src-d"] is None


def test_dashboard_sends_strangers_to_sign_in(env: Env) -> None:
    r = env.client.get("/ui", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    # where a token comes from, without naming this server's paths
    login = env.client.get("/ui/login").text
    assert "api.tokens" in login and "data/api-token" in login
    assert str(env.config.read_model.parent) not in login
    assert env.client.post("/ui/session", json={"token": "nope"}).status_code == 401
    r = env.client.post("/ui/session", json={"token": WRITE_TOKEN})
    assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
    assert WRITE_TOKEN not in r.text


def test_sse_streams_new_alerts_and_lifecycle(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as srv,
        httpx.Client(base_url=srv.url, headers=W, timeout=10) as http,
        http.stream("GET", "/stream/alerts") as stream,
    ):
        lines = stream.iter_lines()
        got: list[tuple[str, dict[str, object]]] = []
        event = None
        a = ev.article(5)
        raised = ev.raised(a)
        for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                got.append((event, json.loads(line.split(":", 1)[1])))
                if event == "ready":
                    ev.append(srv.log, [ev.published(a), ev.enriched(a), raised])
                elif event == "alert":
                    # wait for the projection, then acknowledge through the API
                    deadline = time.monotonic() + 10
                    while (
                        http.post(f"/alerts/{raised.data.alert_id}/ack", json={}).status_code == 404
                    ):
                        assert time.monotonic() < deadline
                        time.sleep(0.05)
                elif event == "lifecycle":
                    break
        kinds = [k for k, _ in got]
        assert kinds == ["ready", "alert", "lifecycle"]
        assert got[1][1]["alert_id"] == raised.data.alert_id
        assert got[2][1] == {
            **got[2][1],
            "alert_id": raised.data.alert_id,
            "kind": "acknowledged",
            "by": "ana",
        }
