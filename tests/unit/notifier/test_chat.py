"""Slack and Mattermost incoming webhooks, against a real receiver on 127.0.0.1: the
payload each one reads, untrusted text that neither may read as markup or a mention, and
errors that never show the credential their URL carries.

How Mattermost reads the text is checked with a real CommonMark parser (markdown-it-py,
with GFM tables, strikethrough and bare-URL links turned on): it stands in for Mattermost's
own Markdown renderer, which cannot run here."""

from __future__ import annotations

import html
import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_setup import TOCSIN
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from notifier_support import Receiver, alert
from service_helpers import append_alerts, outcomes, running, settings, wait_for

from schemas import AlertDelivered, AlertDeliveryFailed, Severity
from services.alerting.subscriptions import parse_subscription
from services.eventlog import EventLog
from services.notifier.channels.render import mattermost_escape
from services.notifier.core import delivery_key

FAST = {"timeout_s": 2, "max_attempts": 2, "backoff_initial_s": 0.05, "backoff_max_s": 0.2}
#: Slack's and Mattermost's URLs carry the credential in the path.
TOKEN = "Xk9sEcReTtOkEn42"
#: A title naming every way to mention or link that either service reads.
HOSTILE_TITLE = "<!channel> @all @here <https://evil.example|click> [more](https://evil.example)"
HOSTILE_SNIPPET = "![pixel](https://tracker.example/p.gif) **loud** # heading | a | b | ~~x~~"

MARKDOWN = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"])


def chat(ident: str, kind: str, r: Receiver) -> dict[str, Any]:
    url = r.url.replace("/hook", f"/services/T000/B000/{TOKEN}")
    return {"id": ident, "channel": {"kind": kind, "url": url}, "delivery": FAST}


def rendered(markdown: str) -> str:
    """The HTML Markdown makes of one line of text."""
    return MARKDOWN.render(markdown)


def reads_literally(markdown: str, text: str) -> bool:
    """Whether ``markdown`` renders as one paragraph showing exactly ``text`` (with
    Mattermost's mentions broken by a word joiner), and nothing else: no link, image,
    emphasis, heading or table."""
    out = rendered(markdown)
    if not (out.startswith("<p>") and out.endswith("</p>\n")):
        return False
    inner = out[len("<p>") : -len("</p>\n")]
    return "<" not in inner and html.unescape(inner) == text.replace("@", "@\u2060")


def mentions(text: str) -> set[str]:
    """The words Mattermost's mention parser takes from a text: runs of letters, digits and
    ``: . - _ @`` (``app/notification.go``); those starting with ``@`` mention someone."""
    return {w for w in re.findall(r"[\w:.\-@]+", text) if w.startswith("@") and len(w) > 1}


def test_slack_gets_one_attachment_per_alert_with_its_controls_escaped(
    elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    a = alert(1, title=HOSTILE_TITLE, snippet=HOSTILE_SNIPPET, severity=Severity.CRITICAL)
    append_alerts(elog, [a])
    with running(elog, settings(log_url, [chat("desk", "slack", r)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    assert isinstance(outcomes(elog)[0], AlertDelivered)
    assert outcomes(elog)[0].channel == "slack"
    (got,) = r.received
    assert got.path == f"/services/T000/B000/{TOKEN}"
    assert got.headers["content-type"] == "application/json"
    sub = parse_subscription(chat("desk", "slack", r))
    assert got.headers["idempotency-key"] == delivery_key(sub, a)
    body = got.json()
    assert body["text"] == ""
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#d00000"
    assert attachment["title"] == (
        "[CRITICAL] &lt;!channel&gt; @all @here &lt;https://evil.example|click&gt; "
        "[more](https://evil.example)"
    )
    assert attachment["title_link"] == f"https://tocsin.example/alerts/{a.alert_id}"
    assert attachment["fields"] == [{"title": "shelling", "value": HOSTILE_SNIPPET, "short": False}]
    assert attachment["footer"] == (
        "rule border-shelling · 1 source(s) · published 2026-03-01 12:00 UTC"
    )
    # Slack reads "<" as the start of a mention or a link: none reaches it from outside.
    assert not re.search(r"[<>]", got.body.decode())


def test_mattermost_reads_untrusted_text_as_plain_words_and_mentions_no_one(
    elog: EventLog, log_url: str, receivers: list[Receiver]
) -> None:
    r = Receiver()
    receivers.append(r)
    a = alert(2, title=HOSTILE_TITLE, snippet=HOSTILE_SNIPPET)
    append_alerts(elog, [a])
    with running(elog, settings(log_url, [chat("ops", "mattermost", r)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    assert outcomes(elog)[0].channel == "mattermost"
    (attachment,) = r.received[0].json()["attachments"]
    assert reads_literally(attachment["title"], f"[HIGH] {HOSTILE_TITLE}")
    assert reads_literally(attachment["text"], a.description)
    (field,) = attachment["fields"]
    assert reads_literally(field["title"], "shelling")
    assert reads_literally(field["value"], HOSTILE_SNIPPET)
    # Mattermost takes mentions from the text, the fields and (as plain text) the fallback.
    for value in (attachment["title"], attachment["text"], field["value"]):
        assert mentions(html.unescape(rendered(value))) == set()
    assert attachment["fallback"] == (
        "[high] &lt;!channel&gt; @\u2060all @\u2060here &lt;https://evil.example|click&gt; "
        "[more](https://evil.example)"
    )
    # The same text without the escaping is what the check above must catch.
    assert not reads_literally(HOSTILE_SNIPPET, HOSTILE_SNIPPET)
    assert mentions(HOSTILE_TITLE) == {"@all", "@here"}


#: Lines made of what Markdown reads (every ASCII punctuation character) between short
#: words, so that pairs such as ``*a*`` or ``[a](b)`` come up often; Unicode punctuation and
#: a no-break space bear on emphasis too.
LINES = st.text(
    st.sampled_from("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" + "  ab1Աж«»—\u00a0"), max_size=40
).map(lambda s: " ".join(s.split()))


@hypothesis_settings(max_examples=300)
@given(LINES)
def test_any_line_reads_literally_on_mattermost(text: str) -> None:
    if not text:
        return
    assert reads_literally(mattermost_escape(text), text)
    assert mentions(html.unescape(rendered(mattermost_escape(text)))) == set()


def own_log(caplog: pytest.LogCaptureFixture) -> str:
    """What Tocsin's own loggers wrote (httpx's request lines are ``services.runtime.logs``'s
    business, checked through a real process below)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("services."))


@pytest.mark.parametrize("kind", ["slack", "mattermost"])
def test_a_refused_delivery_names_the_host_but_never_the_credential_in_the_url(
    kind: str,
    elog: EventLog,
    log_url: str,
    receivers: list[Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Receiver(script=[404])  # what Slack answers for a revoked hook: not retried
    receivers.append(r)
    append_alerts(elog, [alert(3)])
    with caplog.at_level(logging.INFO), running(elog, settings(log_url, [chat("x", kind, r)])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    (failed,) = outcomes(elog)
    assert isinstance(failed, AlertDeliveryFailed) and failed.status_code == 404
    origin = r.url.removesuffix("/hook")
    assert failed.error == f"{kind} {origin}: HTTP 404 busy"
    assert f"giving up after 1 attempt(s): {failed.error}" in own_log(caplog)
    assert TOKEN not in own_log(caplog)


def test_an_unreachable_hook_names_the_host_but_not_its_path_or_query(
    elog: EventLog, log_url: str, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    r = Receiver()
    receivers.append(r)
    origin = r.url.removesuffix("/hook")
    r.close()  # nothing listens there any more
    sub = {
        "id": "gone",
        "channel": {"kind": "webhook", "url": f"{origin}/hooks/{TOKEN}?key={TOKEN}"},
        "delivery": {**FAST, "max_attempts": 1},
    }
    append_alerts(elog, [alert(4)])
    with caplog.at_level(logging.INFO), running(elog, settings(log_url, [sub])):
        wait_for(lambda: len(outcomes(elog)) == 1)
    (failed,) = outcomes(elog)
    assert isinstance(failed, AlertDeliveryFailed)
    assert failed.error.startswith(f"webhook {origin}: ConnectError")
    assert failed.error in own_log(caplog) and TOKEN not in own_log(caplog)


def test_a_notifier_process_logging_at_info_never_writes_a_hook_credential(
    elog: EventLog, log_url: str, tmp_path: Path, receivers: list[Receiver]
) -> None:
    """``tocsin serve notifier`` at INFO, the level of every deployment in deploy/: httpx's
    request lines are kept, with the URL cut to its origin."""
    ok, refused = Receiver(), Receiver(script=[404])
    receivers += [ok, refused]
    hooks = [
        chat("slack-desk", "slack", ok),
        {
            "id": "keyed",
            "channel": {"kind": "webhook", "url": f"{refused.url}?key={TOKEN}"},
            "delivery": FAST,
        },
    ]
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump({"log": log_url, "subscriptions": hooks}), encoding="utf-8")
    append_alerts(elog, [alert(5)])
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [TOCSIN, "serve", "notifier", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "TOCSIN_LOG_LEVEL": "INFO"},
        )
        try:
            wait_for(lambda: len(outcomes(elog)) == 2, timeout_s=30)
        finally:
            proc.terminate()
            proc.wait(15)
    written = stderr.read_text(encoding="utf-8")
    for r, status in ((ok, "200 OK"), (refused, "404 Not Found")):
        origin = r.url.removesuffix("/hook")
        assert f'HTTP Request: POST {origin} "HTTP/1.1 {status}"' in written
    assert f"webhook {refused.url.removesuffix('/hook')}: HTTP 404 busy" in written
    assert TOKEN not in written
