"""Telegram, through a bot: the Bot API's ``sendMessage`` with HTML, against a real HTTP
server on 127.0.0.1 that stands in for api.telegram.org (which cannot be reached here; a
subscription's ``api_url`` points at it, as at a self-hosted Bot API server).

Untrusted text must reach the chat as text: how Telegram reads the HTML is checked with the
standard library's HTML parser, held to the few tags and entities the Bot API takes."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from notifier_support import Receiver, alert
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from schemas import AlertDelivered, AlertDeliveryFailed, Severity
from services.alerting.subscriptions import (
    SubscriptionError,
    TelegramChannel,
    parse_subscription,
)
from services.eventlog import EventLog
from services.notifier.channels.base import Outgoing
from services.notifier.channels.guard import destination
from services.notifier.channels.render import TELEGRAM_LIMIT, telegram_html
from services.notifier.channels.telegram import read_bot_error

TOKEN = "123456789:AAE-tElEgRaMbOtToKeNsEcReT_xyz0123"
FAST = {"timeout_s": 2, "max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2}
HOSTILE = '<b>bold</b> & <a href="https://evil.example">click</a> <script>x</script> &amp;'
#: what the Bot API's HTML takes: these tags, and &lt; &gt; &amp; &quot; or numeric entities
TELEGRAM_TAGS = {"b", "i", "a"}


def telegram(ident: str, r: Receiver, **extra: Any) -> dict[str, Any]:
    channel = {
        "kind": "telegram",
        "token": TOKEN,
        "chat_id": "-1001234567890",
        "api_url": r.url.removesuffix("/hook"),
        **extra,
    }
    return {"id": ident, "channel": channel, "delivery": FAST}


class _Read(HTMLParser):
    """What Telegram shows of a message: its text, and the tags and links it reads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.open.append(tag)
        self.links += [v or "" for k, v in attrs if tag == "a" and k == "href"]

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(line: str) -> _Read:
    parser = _Read()
    parser.feed(line)
    parser.close()
    assert parser.open == [], f"unclosed {parser.open} in {line!r}"
    return parser


def outgoing(alerts: list[Any], digest: bool = False) -> Outgoing:
    sub = parse_subscription(
        {"id": "desk", "channel": {"kind": "telegram", "token": TOKEN, "chat_id": "@caucasus_desk"}}
    )
    return Outgoing(sub, tuple(alerts), digest, "key", "https://tocsin.example/alerts/{alert_id}")


def test_an_alert_goes_to_the_chat_as_html_that_shows_untrusted_text_as_text(
    elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    a = alert(1, title=HOSTILE, snippet=HOSTILE, severity=Severity.CRITICAL)
    append_alerts(elog, [a])
    with running(elog, settings(log_url, [telegram("desk", r, thread_id=7, silent=True)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    (done,) = outcomes(elog)
    assert isinstance(done, AlertDelivered) and done.channel == "telegram"
    (got,) = r.received
    assert got.path == f"/bot{TOKEN}/sendMessage"
    body = got.json()
    assert {k: v for k, v in body.items() if k != "text"} == {
        "chat_id": "-1001234567890",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "disable_notification": True,
        "message_thread_id": 7,
    }
    lines = body["text"].split("\n")
    shown = [read(line) for line in lines]
    assert "".join(shown[0].text) == f"[CRITICAL] {HOSTILE}"
    assert shown[0].tags == ["b"]
    assert "".join(shown[2].text) == f"• shelling: …{HOSTILE}…"
    assert [link for s in shown for link in s.links] == [
        "https://news.example.org/a/1",
        f"https://tocsin.example/alerts/{a.alert_id}",
    ]
    assert {tag for s in shown for tag in s.tags} <= TELEGRAM_TAGS
    # the same title unescaped is what the checks above must catch
    assert read(HOSTILE).tags != []


LINES = st.text(st.sampled_from("<>&\"'/=ab <b></a>#;\u00a0жԱ\U0001f600"), max_size=80)


@hypothesis_settings(max_examples=200)
@given(title=LINES, snippet=LINES)
def test_any_title_and_snippet_read_as_themselves(title: str, snippet: str) -> None:
    a = alert(2, title=title or "x", snippet=snippet)
    text = telegram_html(outgoing([a]))
    shown = [read(line) for line in text.split("\n")]
    assert "".join(shown[0].text) == "[HIGH] " + " ".join((title or "x").split())[:300]
    assert "".join(shown[2].text) == f"• shelling: …{' '.join(snippet.split())[:300]}…"
    assert {tag for s in shown for tag in s.tags} <= TELEGRAM_TAGS


def test_a_digest_is_cut_to_telegrams_length_at_a_line_and_says_how_many_are_left() -> None:
    alerts = [alert(n, title="Ж" * 250 + f" #{n}", snippet="ё" * 250) for n in range(40)]
    text = telegram_html(outgoing(alerts, digest=True))
    assert len(text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    lines = text.split("\n")
    for line in lines:
        read(line)  # every line whole: tags closed on it
    assert lines[0] == "<b>40 alerts</b>"
    shown = sum(1 for line in lines if line.startswith("<b>[HIGH]"))
    assert 3 <= shown < 40
    assert lines[-1] == f"<i>… cut to Telegram's length; {40 - shown} more alert(s) not shown</i>"
    # astral characters count twice in Telegram's length
    wide = telegram_html(
        outgoing([alert(n, title="\U0001f600" * 300) for n in range(40)], digest=True)
    )
    assert len(wide.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT < len(wide) * 2


def test_a_429_is_retried_when_the_bot_api_says_and_a_refusal_is_not(
    elog: EventLog, log_url: str, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    limited = Receiver(
        script=[
            (
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
            )
        ]
    )
    refused = Receiver(
        script=[
            (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        ]
    )
    receivers += [limited, refused]
    append_alerts(elog, [alert(3)])
    slow = telegram("limited", limited)
    slow["delivery"] = {**FAST, "backoff_max_s": 5}  # room for the Bot API's retry_after
    subs = [slow, telegram("refused", refused)]
    with caplog.at_level(logging.INFO), running(elog, settings(log_url, subs)):
        wait_for(lambda: len(outcomes(elog)) == 2)
    by_sub = {o.subscription_id: o for o in outcomes(elog)}
    assert isinstance(by_sub["limited"], AlertDelivered) and by_sub["limited"].attempts == 2
    failed = by_sub["refused"]
    assert isinstance(failed, AlertDeliveryFailed) and failed.attempts == 1
    assert failed.error == (
        f"telegram {refused.url.removesuffix('/hook')}: HTTP 400 Bad Request: chat not found"
    )
    # Tocsin's own lines (httpx's request lines are cut to the origin in every tocsin
    # process by services.runtime.logs, checked through a real process in test_chat.py)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("services."))
    assert re.search(r"subscription limited: attempt 1 failed .*; retrying in 1\.0\ds", logged)
    assert TOKEN not in logged and TOKEN not in failed.error


def test_the_bot_apis_answers_are_read_for_the_error() -> None:
    assert read_bot_error(
        b'{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded '
        b'to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}'
    ) == (
        "Bad Request: group chat was upgraded to a supergroup chat "
        "(the group is now the supergroup -1009876543210)",
        None,
    )
    assert read_bot_error(b'{"ok":false,"description":"x","parameters":{"retry_after":5}}') == (
        "x",
        5.0,
    )
    assert read_bot_error(b"<html>502 Bad Gateway</html>") == ("<html>502 Bad Gateway</html>", None)


@pytest.mark.parametrize(
    ("channel", "field"),
    [
        ({"chat_id": "caucasus desk"}, "channel.chat_id"),
        ({"chat_id": "-100123", "api_url": "ftp://bots.example"}, "channel.api_url"),
        ({"chat_id": "-100123", "thread_id": 0}, "channel.thread_id"),
        ({"chat_id": "-100123", "token": None}, "channel.token"),
    ],
)
def test_a_telegram_channel_is_checked(channel: dict[str, Any], field: str) -> None:
    raw = {"id": "t", "channel": {"kind": "telegram", "token": TOKEN, **channel}}
    with pytest.raises(SubscriptionError, match=f"subscription: {field}:"):
        parse_subscription(raw)


def test_the_token_never_shows_and_the_api_host_is_what_the_guard_checks() -> None:
    sub = parse_subscription(
        {"id": "t", "channel": {"kind": "telegram", "token": TOKEN, "chat_id": "@caucasus_desk"}}
    )
    assert isinstance(sub.channel, TelegramChannel)
    assert TOKEN not in repr(sub) and TOKEN not in str(sub.model_dump())
    assert destination(sub.channel) == ("api.telegram.org", "https://api.telegram.org")


def test_a_link_with_quotes_and_brackets_stays_one_link() -> None:
    url = 'https://news.example.org/a?q="><b>x</b>&y=1'
    a = alert(4)
    a = a.model_copy(update={"articles": (a.articles[0].model_copy(update={"url": url}),)})
    shown = [read(line) for line in telegram_html(outgoing([a])).split("\n")]
    assert [link for s in shown for link in s.links] == [
        url,
        f"https://tocsin.example/alerts/{a.alert_id}",
    ]
    assert {tag for s in shown for tag in s.tags} <= TELEGRAM_TAGS
