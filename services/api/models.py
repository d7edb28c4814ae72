"""Request and response bodies: what OpenAPI documents and what a bad payload is checked
against (unknown fields refused, lengths capped) before anything reaches the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class Accepted(BaseModel):
    """The event was appended to the log; views show it once the projection has read it."""

    alert_id: str | None = None
    subscription_id: str | None = None
    event_id: str
    type: str


_SECRET_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class ChannelBody(BaseModel):
    """A channel as the config file spells it; the notifier validates the rest of it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["webhook", "slack", "email", "atom", "sse"]
    url: str | None = Field(default=None, max_length=2000)
    secret: str | None = Field(
        default=None, description="a ${ENV} reference: the log is not a secret store"
    )

    @field_validator("secret")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_REF.match(value):
            raise ValueError("must be an environment reference such as ${WEBHOOK_SECRET}")
        return value


class SubscriptionBody(_Body):
    match: dict[str, Any] = Field(default_factory=dict)
    channel: ChannelBody
    mode: str | dict[str, Any] = "immediate"


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
