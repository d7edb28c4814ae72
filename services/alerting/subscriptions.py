"""Subscriptions: who wants which alerts, through which channel, and when.

Shared by the notifier (which pushes alerts to webhook, Slack/Mattermost, Telegram and
email subscriptions) and the API (which serves ``atom`` and ``sse`` subscriptions as a feed and a
stream): both validate definitions with this one model. Pure: no I/O; ``expand_secrets``
reads the environment only when it is not given one.

A subscription is validated from a raw mapping (``Settings.subscriptions``, or the
``definition`` of a ``subscription.created/updated`` event) into frozen models. Errors name
the subscription (its index in the config and its id) and the field, and list every
problem at once. Secrets are ``SecretStr``: they never appear in a repr, a log line or an
error message. ``${ENV}`` references are expanded by ``Settings.section`` for the config file,
and by ``expand_secrets`` here for definitions read from the log.

Shape (YAML)::

    - id: caucasus-desk
      subscriber: {name: Caucasus desk, contact: desk@example.org}
      match: {rules: [csto-armenia-azerbaijan], labels: {region: caucasus},
              min_severity: medium, countries: [AM, AZ], entities: [org:csto],
              max_age: 2d}
      channel: {kind: webhook, url: https://example.org/hook, secret: "${WEBHOOK_SECRET}"}
               # or {kind: telegram, token: "${TELEGRAM_BOT_TOKEN}", chat_id: "-1001234567890"}
      mode: immediate            # or {digest: "0 8 * * *", tz: Asia/Yerevan}
                                 # or {every_minutes: 30}
      quiet_hours: {start: "22:00", end: "07:00", tz: Asia/Yerevan}
      updates: false             # true: every new revision of an alert is notified again
      delivery: {timeout_s: 10, max_attempts: 5, rate_per_minute: 30}
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas import Severity
from services.runtime.addresses import is_internal_address
from services.runtime.durations import Duration
from services.runtime.settings import substitute_env

__all__ = [
    "PULL_KINDS",
    "PUSH_KINDS",
    "AtomChannel",
    "ChannelConfig",
    "DeliveryOptions",
    "DigestMode",
    "EmailChannel",
    "Match",
    "Problem",
    "QuietHours",
    "SlackChannel",
    "SseChannel",
    "Subscriber",
    "Subscription",
    "SubscriptionError",
    "TelegramChannel",
    "WebhookChannel",
    "definition_problems",
    "expand_secrets",
    "load_subscriptions",
    "parse_subscription",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"


class SubscriptionError(ValueError):
    """One or more subscriptions are invalid; the message names each one and its fields."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Subscriber(_Model):
    name: str = ""
    contact: str = ""


class Match(_Model):
    """What a subscription wants. Every given criterion must hold; none given = every alert."""

    rules: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    min_severity: Severity = Severity.LOW
    countries: tuple[str, ...] = Field(default=(), description="ISO 3166-1 alpha-2 codes")
    entities: tuple[str, ...] = Field(default=(), description="gazetteer ids, e.g. org:csto")
    max_age: Duration | None = Field(
        default=None,
        description=(
            "leave out an alert (or a revision) whose newest article was published longer "
            "than this before it was raised: a new source's backlog, a replay of history "
            "(e.g. 2d, 12h)"
        ),
    )

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"[A-Za-z]{2}", code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return tuple(c.upper() for c in value)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if len(url) > 2000:
        raise ValueError("is longer than 2000 characters")
    return url


class _HttpChannel(_Model):
    url: str
    block_private: bool = Field(
        default=False,
        description=(
            "deliver to public hosts only: refuse a URL whose host is an internal address "
            "(private, loopback, link-local...), and check the name at each delivery and "
            "the connection's peer"
        ),
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _private(self) -> _HttpChannel:
        if self.block_private:
            host = urlsplit(self.url).hostname or ""
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                address = None
            if host == "localhost" or (address is not None and is_internal_address(address)):
                raise ValueError(f"url: host {host!r} is an internal address (block_private is on)")
        return self


class WebhookChannel(_HttpChannel):
    """A JSON POST, signed with HMAC-SHA256 over ``timestamp.body`` when a secret is set."""

    kind: Literal["webhook"]
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class SlackChannel(_HttpChannel):
    """A Slack- or Mattermost-compatible incoming webhook."""

    kind: Literal["slack", "mattermost"]
    username: str | None = None
    channel: str | None = None


class TelegramChannel(_Model):
    """A Telegram chat, group or channel, through a bot: the Bot API's ``sendMessage`` with
    HTML formatting. The bot must be a member of the chat (an administrator of a channel)."""

    kind: Literal["telegram"]
    token: SecretStr = Field(description="the bot's token from @BotFather; use ${ENV}")
    chat_id: str = Field(
        description="a numeric chat id (-100... for channels and supergroups) or a public "
        "channel's @username"
    )
    thread_id: int | None = Field(default=None, ge=1, description="a forum topic's thread id")
    silent: bool = Field(default=False, description="deliver without a notification sound")
    api_url: str = Field(
        default="https://api.telegram.org", description="the Bot API server (self-hosted)"
    )

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, value: str) -> str:
        if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}", value):
            raise ValueError("must be a numeric chat id or a channel's @username")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value)


class EmailChannel(_Model):
    """Email over SMTP: plain text and HTML, one message per alert or per digest."""

    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from", min_length=3)
    to: tuple[str, ...] = Field(min_length=1)
    subject_prefix: str = "[tocsin]"

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if "@" not in address or any(c in address for c in "\r\n,;<>"):
                raise ValueError(f"{address!r} is not one plain email address")
        return value

    @model_validator(mode="after")
    def _login(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class AtomChannel(_Model):
    """Pulled, not pushed: the API serves the subscription's alerts as an Atom feed."""

    kind: Literal["atom"]


class SseChannel(_Model):
    """Pulled, not pushed: the API streams the subscription's alerts as server-sent events."""

    kind: Literal["sse"]


ChannelConfig = Annotated[
    WebhookChannel | SlackChannel | TelegramChannel | EmailChannel | AtomChannel | SseChannel,
    Field(discriminator="kind"),
]
#: channels the notifier sends to
PUSH_KINDS = frozenset({"webhook", "slack", "mattermost", "telegram", "email"})
#: channels the API serves (``/subscriptions/{id}/feed.atom`` and ``/subscriptions/{id}/stream``)
PULL_KINDS = frozenset({"atom", "sse"})


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


class DigestMode(_Model):
    """Collect alerts and send them as one message at a cron time or every N minutes."""

    digest: str | None = Field(default=None, description="5-field cron, in ``tz``")
    every_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    tz: str = "UTC"

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone(value)

    @model_validator(mode="after")
    def _one(self) -> DigestMode:
        if (self.digest is None) == (self.every_minutes is None):
            raise ValueError("give exactly one of digest (a cron expression) or every_minutes")
        if self.digest is not None:
            try:
                CronTrigger.from_crontab(self.digest, timezone=ZoneInfo(self.tz))
            except ValueError as exc:
                raise ValueError(
                    f"digest: invalid cron expression {self.digest!r}: {exc}"
                ) from None
        return self

    def next_after(self, now: datetime) -> datetime:
        """The first digest time strictly after ``now`` (aware)."""
        if self.every_minutes is not None:
            step = self.every_minutes * 60
            epoch = int(now.timestamp())
            return datetime.fromtimestamp((epoch // step + 1) * step, tz=now.tzinfo)
        assert self.digest is not None
        trigger = CronTrigger.from_crontab(self.digest, timezone=ZoneInfo(self.tz))
        fire: datetime | None = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
        assert fire is not None
        return fire.astimezone(now.tzinfo)


class QuietHours(_Model):
    """A daily span (local time) during which non-critical immediate alerts wait."""

    start: time
    end: time
    tz: str = "UTC"

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone(value)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.tz)).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight

    def ends_after(self, moment: datetime) -> datetime:
        """When the quiet span that contains ``moment`` ends."""
        zone = ZoneInfo(self.tz)
        local = moment.astimezone(zone)
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(moment.tzinfo)


class DeliveryOptions(_Model):
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    rate_per_minute: int = Field(
        default=30, ge=1, description="messages per minute; a flood beyond it becomes a digest"
    )


class Subscription(_Model):
    id: str = Field(pattern=_ID)
    subscriber: Subscriber = Subscriber()
    match: Match = Match()
    channel: ChannelConfig
    mode: Literal["immediate"] | DigestMode = "immediate"
    quiet_hours: QuietHours | None = None
    updates: bool = Field(default=False, description="notify every new revision of an alert")
    delivery: DeliveryOptions = DeliveryOptions()
    enabled: bool = True

    @property
    def kind(self) -> str:
        return self.channel.kind

    @property
    def pushed(self) -> bool:
        return self.channel.kind in PUSH_KINDS


def expand_secrets(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``${NAME}`` / ``${NAME:-default}`` in every string of a definition read from the log,
    from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ

    def lookup(name: str, default: str | None) -> str:
        found = env.get(name, default)
        if found is None:
            raise SubscriptionError(f"environment variable {name} is not set")
        return found

    return substitute_env(value, lookup)


#: A problem of a definition: where (field names from the top, "channel", "url") and what.
Problem = tuple[tuple[str, ...], str]


def _problems(exc: ValidationError) -> list[Problem]:
    """Each error where the analyst wrote the field: union branch tags ("literal['immediate']",
    "function-after[...]", the channel's kind) left out of the path and the "Value error, "
    prefix dropped; a failed "immediate" alternative is not reported when the value was a
    mapping (the digest branch's error says what is wrong)."""
    found: list[Problem] = []
    for err in exc.errors(include_url=False):
        if err["type"] == "literal_error" and isinstance(err.get("input"), Mapping):
            continue
        loc = [str(p) for p in err["loc"] if "[" not in str(p)]
        if len(loc) >= 2 and loc[0] == "channel" and loc[1] in _CHANNEL_TAGS:
            del loc[1]
        found.append((tuple(loc), str(err["msg"]).removeprefix("Value error, ")))
    return found


def _describe(exc: ValidationError, where: str) -> list[str]:
    """Readable lines, one per problem, each naming the subscription and the field."""
    return [f"{where}: {'.'.join(loc) or '(subscription)'}: {msg}" for loc, msg in _problems(exc)]


_CHANNEL_TAGS = frozenset({"webhook", "slack", "mattermost", "telegram", "email", "atom", "sse"})


def definition_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with a definition before it goes on the log (none: the notifier and the
    API will accept it). ``${ENV}`` references are checked as written: they are expanded
    where the definition is used, from that process's environment, so a field that is not
    text (a port) must be given as a value here."""
    try:
        Subscription.model_validate(dict(raw))
    except ValidationError as exc:
        return _problems(exc)
    return []


def parse_subscription(raw: Mapping[str, Any], where: str = "subscription") -> Subscription:
    """One subscription from a mapping; ``SubscriptionError`` naming every invalid field."""
    if not isinstance(raw, Mapping):
        raise SubscriptionError(f"{where}: must be a mapping, not {type(raw).__name__}")
    try:
        return Subscription.model_validate(dict(raw))
    except ValidationError as exc:
        raise SubscriptionError("\n".join(_describe(exc, where))) from None


def load_subscriptions(raw: Sequence[Any], origin: str = "subscriptions") -> list[Subscription]:
    """Every subscription of the config; all problems reported at once, duplicates refused."""
    found: list[Subscription] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        ident = item.get("id") if isinstance(item, Mapping) else None
        where = f"{origin}[{index}]" + (f" (id={ident})" if isinstance(ident, str) else "")
        if isinstance(ident, str) and ident in seen:
            problems.append(f"{where}: id: duplicate of {origin}[{seen[ident]}]")
            continue
        if isinstance(ident, str):
            seen[ident] = index
        try:
            found.append(parse_subscription(item, where))
        except SubscriptionError as exc:
            problems.append(str(exc))
    if problems:
        raise SubscriptionError(f"{len(problems)} invalid subscription(s):\n" + "\n".join(problems))
    return found
