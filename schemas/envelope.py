"""The CloudEvents 1.0 envelope (JSON structured mode) shared by every Tocsin event.

The envelope accepts CloudEvents extension attributes (lower-case alphanumeric names, as the
spec requires) besides the two Tocsin uses for tracing: ``correlationid`` (the id of the
event that started a chain, usually the article) and ``causationid`` (the id of the event
that directly caused this one). Payloads are strict: frozen, keyword-only, unknown fields
refused.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")


def finite(value: Any) -> Any:
    """``value`` when no number in it is infinite or NaN. JSON has no such numbers, but the
    parser reads ``Infinity``, ``NaN`` and ``1e999`` into them, and they are written back
    as ``null``: an event holding one would not read back as itself once re-emitted."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a number JSON cannot hold (Infinity, NaN, or beyond 1.8e308)")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


#: A free-form JSON object (a rule's or a subscription's definition, as written)
JsonObject = Annotated[dict[str, Any], AfterValidator(finite)]


class Part(BaseModel):
    """A strict value object inside a payload: frozen, keyword-only, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Payload(Part):
    """Base of every event payload. ``event_type`` is the stable, versioned type string."""

    event_type: ClassVar[str]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope. Subclasses fix ``type`` and the ``data`` model."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500, description="URI-reference of the producer")
    type: str
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = Field(
        default=None, description="id of the event that began this chain"
    )
    causationid: str | None = Field(
        default=None, description="id of the event that caused this one"
    )
    data: Any

    @model_validator(mode="after")
    def _extension_names(self) -> CloudEvent:
        for name, value in (self.model_extra or {}).items():
            if not _EXTENSION_NAME.match(name):
                raise ValueError(
                    f"CloudEvents extension attribute {name!r} must be 1-20 lower-case letters or digits"
                )
            finite(value)
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()
