"""Feed health: one event per poll of a source, and each change of its WebSub subscription."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import Payload

SOURCE_POLLED: Final = "tocsin.source.polled.v1"
SOURCE_SUBSCRIPTION: Final = "tocsin.source.subscription.v1"


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


class PushState(StrEnum):
    #: asked for at the hub, which accepted the request: its verification of intent awaited
    REQUESTED = "requested"
    #: verified by the hub: it pushes the feed's news until ``expires_at`` (renewed before)
    ACTIVE = "active"
    #: refused, failed or denied by the hub: asked again later (``problem`` says why)
    FAILED = "failed"
    #: no longer wanted (the feed names no hub any more, or another poller owns the source):
    #: the lease runs out
    ENDED = "ended"


class SourceSubscription(Payload):
    """A change of a source's WebSub subscription at the hub its feed names (the poller
    subscribes; see ``websub`` in the configuration), so that operators see which sources
    are pushed and which hub refuses. URLs as shown: credentials and tokens removed."""

    event_type = SOURCE_SUBSCRIPTION

    source_id: str
    hub: str
    topic: str
    state: PushState
    at: AwareDatetime
    expires_at: AwareDatetime | None = Field(
        default=None, description="the end of the lease the hub granted (active only)"
    )
    problem: str | None = Field(
        default=None,
        description="why the last request failed; set while active too, when a renewal failed",
    )
