"""Request and response bodies: what OpenAPI documents and what a bad payload is checked
against (unknown fields refused, lengths capped) before anything reaches the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.alerting.subscriptions import (
    DeliveryOptions,
    DigestMode,
    Match,
    QuietHours,
    Subscriber,
)
from services.runtime.redact import REDACTED

Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "acknowledged", "resolved"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AckBody(_Body):
    note: str = Field(default="", max_length=10_000)


class AssignBody(_Body):
    assignee: str = Field(min_length=1, max_length=200)


class CommentBody(_Body):
    comment: str = Field(min_length=1, max_length=10_000)


class ResolveBody(_Body):
    resolution: str = Field(default="", max_length=10_000)


class ReopenBody(_Body):
    reason: str = Field(default="", max_length=10_000)


class ErrorDetail(BaseModel):
    error: str = Field(description="a stable code: unauthorized, forbidden, not_found, ...")
    message: str


class ErrorOut(BaseModel):
    """The body of every error this API raises itself (422s are FastAPI's field lists)."""

    detail: ErrorDetail


_ERRORS: dict[int, str] = {
    400: "the body could not be parsed (FastAPI's own body: a `detail` string)",
    401: "no bearer token, or not one of the configured tokens",
    403: "the token lacks the scope (read or write) this needs",
    404: "nothing with that id",
    409: "a conflict: the id is taken, or the stored subscription is not a valid one",
    413: "the body is over the API's limit (4 MB)",
    429: "too many at once: try again after Retry-After seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes (each with ``ErrorOut`` as its body)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"description": _ERRORS[code]}
        if code != 400:
            out[code]["model"] = ErrorOut
    return out


class Accepted(BaseModel):
    """The event was appended to the log; views show it once the projection has read it."""

    alert_id: str | None = None
    subscription_id: str | None = None
    event_id: str
    type: str


#: an ``${ENV}`` reference: a whole value (``fullmatch``) or inside a hook URL (``search``)
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
#: Kinds whose URL's path is the credential (Slack's /services/T../B../<token>, Mattermost's
#: /hooks/<key>): whoever has the URL can post to the channel.
_PATH_IS_SECRET = ("slack", "mattermost")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: Header names whose values are credentials: these, or a name holding one of the words.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "token", "key", "secret", "password", "auth")


def is_reference(value: object) -> bool:
    """Whether a value is a ``${ENV}`` reference (expanded where the channel is used)."""
    return isinstance(value, str) and _REFERENCE.fullmatch(value) is not None


def is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_HEADERS)


def redact_channel(channel: dict[str, Any]) -> dict[str, Any]:
    """The channel with every credential that is not a ``${ENV}`` reference replaced by
    ``[redacted]`` (a Slack or Mattermost hook's whole path): definitions appended before
    the API refused plain ones may hold some, and the log cannot forget them, but reads need
    not show them."""
    out = dict(channel)
    url = out.get("url")
    if out.get("kind") in _PATH_IS_SECRET and isinstance(url, str) and not _hook_path_hidden(url):
        try:
            parts = urlsplit(url)
        except ValueError:  # not a URL any more: nothing of it is shown
            out["url"] = REDACTED
        else:
            host = parts.netloc.rpartition("@")[2]  # host[:port], no userinfo
            out["url"] = f"{parts.scheme}://{host}/{REDACTED}"
    for name in ("secret", "password", "token"):
        if name in out and not is_reference(out[name]):
            out[name] = REDACTED
    headers = out.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {
            k: REDACTED if is_credential_header(str(k)) and not is_reference(v) else v
            for k, v in headers.items()
        }
    return out


def _hook_path_hidden(url: str) -> bool:
    """Whether a hook URL's path (and query) holds a ``${ENV}`` reference."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return _REFERENCE.search(f"{parts.path}?{parts.query}") is not None


class ChannelBody(BaseModel):
    """A channel as the config file spells it: ``kind``, then that kind's fields (listed in
    ``services/alerting/subscriptions.py``), all checked before anything reaches the log.
    Credentials must be ``${ENV}`` references, expanded by the process that uses the
    channel: the log is not a secret store."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["webhook", "slack", "mattermost", "telegram", "email", "atom", "sse"]
    url: str | None = Field(
        default=None,
        max_length=2000,
        description="webhook, slack, mattermost: the URL to POST to; a Slack or Mattermost "
        "hook's path is its credential and takes a ${ENV} reference, such as "
        "https://hooks.slack.com/services/${SLACK_HOOK}",
    )
    secret: str | None = Field(
        default=None, description="webhook: a ${ENV} reference to the HMAC-SHA256 signing key"
    )
    password: str | None = Field(default=None, description="email: a ${ENV} reference")
    token: str | None = Field(
        default=None, description="telegram: a ${ENV} reference to the bot's token"
    )
    api_url: str | None = Field(
        default=None, max_length=2000, description="telegram: a self-hosted Bot API server"
    )
    headers: dict[str, str] | None = Field(
        default=None,
        description="webhook: extra request headers; a header that carries a credential "
        "(Authorization, Cookie, a name with token, key, secret, password or auth) takes a "
        "${ENV} reference",
    )

    @field_validator("url")
    @classmethod
    def _hook_reference(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (
            value is not None
            and info.data.get("kind") in _PATH_IS_SECRET
            and not _hook_path_hidden(value)
        ):
            raise ValueError(
                f"the path of a {info.data['kind']} hook is its credential: give it as an "
                "environment reference, such as https://hooks.slack.com/services/${SLACK_HOOK}"
            )
        return value

    @field_validator("secret", "password", "token")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None and not is_reference(value):
            raise ValueError("must be an environment reference such as ${WEBHOOK_SECRET}")
        return value

    @field_validator("headers")
    @classmethod
    def _header_references(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, header in (value or {}).items():
            if is_credential_header(name) and not is_reference(header):
                raise ValueError(
                    f"header {name!r} carries a credential: give an environment reference "
                    "such as ${HOOK_TOKEN}"
                )
        return value


class SubscriptionBody(_Body):
    """A subscription as the config file's ``subscriptions:`` spells it (README)."""

    subscriber: Subscriber | None = None
    match: Match | None = None
    channel: ChannelBody
    mode: Literal["immediate"] | DigestMode = "immediate"
    quiet_hours: QuietHours | None = None
    updates: bool = Field(default=False, description="notify every new revision of an alert")
    delivery: DeliveryOptions | None = None
    enabled: bool = True


class NewSubscription(SubscriptionBody):
    id: str = Field(pattern=_ID)


class PageOut(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


MAX_RULES_BYTES = 1_000_000


class BacktestBody(_Body):
    """A rule file (its YAML text) to backtest over ``[since, until)``."""

    rules: str = Field(min_length=1, max_length=MAX_RULES_BYTES, description="the rule file, YAML")
    since: datetime = Field(description="start (ISO 8601; UTC if no zone)")
    until: datetime = Field(description="end, exclusive (ISO 8601; UTC if no zone)")
    examples: int = Field(default=3, ge=0, le=20, description="example alerts per rule")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _order(self) -> BacktestBody:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self
