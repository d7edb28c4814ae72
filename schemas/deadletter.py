"""A record that a consumer could not process, kept with the reason instead of stopping."""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import Payload

DEADLETTER: Final = "tocsin.deadletter.v1"


class DeadLetter(Payload):
    event_type = DEADLETTER

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    group: str | None = Field(default=None, description="the consumer group that gave up on it")
    error_class: str
    reason: str
    key_b64: str | None = None
    value_b64: str = Field(description="the original value, base64")
    headers: dict[str, str] = Field(
        default_factory=dict, description="original headers, values base64"
    )
    failed_at: AwareDatetime
