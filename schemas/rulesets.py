"""The rule set in force, recorded on the log so that replay knows which rules ran when."""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, Field

from schemas.envelope import JsonObject, Part, Payload

RULESET_ACTIVATED: Final = "tocsin.ruleset.activated.v1"


class RuleRef(Part):
    id: str
    version: str = Field(description="content hash of the rule's definition")
    title: str = ""
    origin: str = Field(default="", description="the file the rule came from")
    definition: JsonObject = Field(default_factory=dict, description="the rule as loaded")


class RulesetActivated(Payload):
    event_type = RULESET_ACTIVATED

    ruleset_version: str = Field(description="content hash of the whole rule set")
    activated_at: AwareDatetime
    rules: tuple[RuleRef, ...] = ()
    files: tuple[str, ...] = ()
