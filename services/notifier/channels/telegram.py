"""Telegram through a bot: the Bot API's ``sendMessage``, one message per alert or digest,
in the HTML that ``render.telegram_html`` makes (untrusted text escaped, cut to Telegram's
4,096 characters at a line).

The bot's token is in the request's path, as the Bot API wants it: errors and httpx's
request lines name the API's origin only (``http.post``, ``services/runtime/logs.py``). The
Bot API says what went wrong in a JSON answer (``description``, and ``retry_after`` with a
429), which the error carries. Telegram takes no idempotency key: a message whose answer
was lost is sent again when the delivery is retried.
"""

from __future__ import annotations

import json

from services.alerting.subscriptions import TelegramChannel
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import client, post
from services.notifier.channels.render import telegram_html

__all__ = ["TelegramSender", "payload", "read_bot_error"]


def payload(message: Outgoing, config: TelegramChannel) -> dict[str, object]:
    body: dict[str, object] = {
        "chat_id": config.chat_id,
        "text": telegram_html(message),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "disable_notification": config.silent,
    }
    if config.thread_id is not None:
        body["message_thread_id"] = config.thread_id
    return body


def read_bot_error(answer: bytes) -> tuple[str, float | None]:
    """The Bot API's ``description`` and ``parameters.retry_after``; the answer as text when
    it is not the API's JSON (a proxy's error page)."""
    try:
        found = json.loads(answer)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("description"), str):
        return answer.decode("utf-8", "replace"), None
    detail: str = found["description"]
    parameters = found.get("parameters")
    retry_after = None
    if isinstance(parameters, dict):
        if isinstance(parameters.get("retry_after"), int | float):
            retry_after = float(parameters["retry_after"])
        if isinstance(parameters.get("migrate_to_chat_id"), int):
            detail += f" (the group is now the supergroup {parameters['migrate_to_chat_id']})"
    return detail, retry_after


class TelegramSender:
    kind = "telegram"

    def __init__(self, config: TelegramChannel, timeout_s: float, checked: bool = False) -> None:
        self.config = config
        self.client = client(timeout_s, checked)
        token = config.token.get_secret_value()
        self.url = f"{config.api_url.rstrip('/')}/bot{token}/sendMessage"

    def send(self, message: Outgoing) -> int | None:
        body = json.dumps(payload(message, self.config), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "tocsin-notifier"}
        return post(self.client, self.url, body, headers, "telegram", read_bot_error)

    def close(self) -> None:
        self.client.close()
