"""Every channel says when an alert's articles were published: before, an alert about a
week-old article (a new source's backlog, a feed read after a gap) read like news of the
moment in email, Slack, Mattermost and Telegram alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from notifier_support import T0, alert

from schemas import AlertRaised
from schemas.alerts import AlertArticle
from services.alerting.subscriptions import parse_subscription
from services.notifier.channels.base import Outgoing
from services.notifier.channels.render import as_html, as_text, mattermost_escape, telegram_html
from services.notifier.channels.slack import payload

WEEK_OLD = "2026-02-22 09:30 UTC"


def old_alert() -> AlertRaised:
    a = alert(1)
    old = a.articles[0].model_copy(
        update={"published_at": T0 - timedelta(days=7, hours=2, minutes=30)}
    )
    fresh = AlertArticle(
        article_id="art_2",
        url="https://news.example.org/a/2",
        title="Article 2",
        source_id="other",
        published_at=T0,
    )
    return a.model_copy(update={"articles": (old, fresh), "last_seen": T0})


def outgoing(channel: dict[str, Any]) -> Outgoing:
    sub = parse_subscription({"id": "desk", "channel": channel})
    return Outgoing(subscription=sub, alerts=(old_alert(),), digest=False, idempotency_key="k")


EMAIL = {
    "kind": "email",
    "host": "smtp.example.org",
    "sender": "t@example.org",
    "to": ["a@example.org"],
}


def test_email_text_and_html_date_each_article() -> None:
    message = outgoing(EMAIL)
    text = as_text(message)
    assert f"  - Article 1 (example, {WEEK_OLD}) https://news.example.org/a/1" in text
    assert "  - Article 2 (other, 2026-03-01 12:00 UTC) https://news.example.org/a/2" in text
    assert f"Article 1</a> (example, {WEEK_OLD})</li>" in as_html(message)


def test_telegram_dates_each_article(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    message = outgoing({"kind": "telegram", "token": "${BOT_TOKEN}", "chat_id": "-100123"})
    assert f"Article 1</a> · example · {WEEK_OLD}" in telegram_html(message)


@pytest.mark.parametrize("kind", ["slack", "mattermost"])
def test_chat_footers_give_the_newest_articles_moment(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_PATH", "T000/B000/x")
    channel = {"kind": kind, "url": "https://hooks.example.org/services/${HOOK_PATH}"}
    message = outgoing(channel)
    (attachment,) = payload(message, message.subscription.channel)["attachments"]  # type: ignore[arg-type]
    moment = "· published 2026-03-01 12:00 UTC"  # Mattermost's escaped as Markdown
    assert attachment["footer"].endswith(
        mattermost_escape(moment) if kind == "mattermost" else moment
    )
