"""Feed health: one event per poll of a source."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import Payload

SOURCE_POLLED: Final = "tocsin.source.polled.v1"


class PollStatus(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    DISABLED = "disabled"


class SourcePolled(Payload):
    """The outcome of one poll. The HTTP validators ride along so a restart keeps conditional GET."""

    event_type = SOURCE_POLLED

    source_id: str
    url: str
    polled_at: AwareDatetime
    status: PollStatus
    http_status: int | None = None
    latency_ms: float = Field(ge=0)
    bytes: int = Field(default=0, ge=0)
    items_seen: int = Field(default=0, ge=0)
    new_articles: int = Field(default=0, ge=0)
    etag: str | None = None
    last_modified: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    polls: int = Field(
        default=1,
        ge=1,
        description=(
            "the polls this record stands for: itself and those since the source's previous "
            "record that changed nothing (recorded at most once per record_quiet_every)"
        ),
    )
