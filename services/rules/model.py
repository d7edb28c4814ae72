"""The rule language: pydantic models for one rule file, and the JSON Schema editors use.

A rule file is YAML::

    rules:
      - id: csto-armenia-azerbaijan
        title: Armenia, Azerbaijan and the CSTO named together
        severity: medium
        labels: {region: caucasus}
        owner: caucasus-desk
        when:
          all:
            - entity: country:AM
            - entity: country:AZ
            - entity: org:csto

A condition is one mapping with exactly one of these keys:

- ``entity: ID`` (or a list: any of them), ``kind: organisation``, ``country: AM``: gazetteer
  entities found by the enricher; ``min_mentions`` and ``form`` (name / adjective) narrow them;
- ``terms: [shelling, обстрел*]``: words and phrases, read by ``services.text.TermMatcher``
  (inflection-aware, ``*`` for any ending, ``=`` for the exact word);
- ``tag: border-incident`` (or a list): taxonomy tags set by the enricher;
- ``all: [...]``, ``any: [...]``, ``none: [...]``, ``at_least: N`` with ``of: [...]``:
  combinators, nested freely. A combinator may carry ``scope`` (sentence, paragraph,
  ``{within_words: N}``): its conditions must then hold together inside one such span.

Why a callable discriminator on the first key: pydantic then reports an error at the
condition that is wrong ("when.all.1.entity: ..."), not a list of every union member that
failed, and the generated JSON Schema is a plain ``oneOf`` editors understand.
"""

from __future__ import annotations

import json
import re
import string
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas.alerts import Severity
from services.runtime.durations import Duration, format_duration, parse_duration

__all__ = [
    "TAGS",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "Condition",
    "CountryCondition",
    "EntityCondition",
    "Filters",
    "KindCondition",
    "NoneOf",
    "Rule",
    "RuleFile",
    "Scope",
    "SpikeSpec",
    "TagCondition",
    "TermsCondition",
    "WindowSpec",
    "WithinWords",
    "format_duration",
    "parse_duration",
    "rule_json_schema",
]

_ID = r"^[a-z0-9][a-z0-9._-]{0,99}$"


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _nonempty_strings(values: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(v.strip() for v in values))
    if not cleaned or any(not v for v in cleaned):
        raise ValueError("give at least one non-empty value")
    return cleaned


OneOrMany = Annotated[
    tuple[str, ...],
    BeforeValidator(_listify),
    AfterValidator(_nonempty_strings),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ]
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WithinWords(_Strict):
    """Conditions within ``within_words`` words of each other."""

    within_words: int = Field(ge=1, le=1000)


Scope = Literal["article", "sentence", "paragraph"] | WithinWords


class _Leaf(_Strict):
    min_mentions: int | None = Field(
        default=None, ge=1, description="occurrences needed (default: the rule's filter, else 1)"
    )


class EntityCondition(_Leaf):
    """Any of the gazetteer entities, by id (``country:AM``, ``org:csto``, ``place:lachin``)."""

    entity: OneOrMany
    form: Literal["any", "name", "adjective"] = Field(
        default="any", description="name only ('Armenia'), adjective only ('Armenian'), or both"
    )


class KindCondition(_Leaf):
    """Any entity of a kind."""

    kind: Literal["country", "place", "organisation", "person"]


class CountryCondition(_Leaf):
    """Any entity that belongs to one of the countries (ISO 3166-1 alpha-2): the country
    itself, its places, its people."""

    country: OneOrMany

    @field_validator("country")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"[A-Za-z]{2}", code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
        return tuple(code.upper() for code in value)


class TermsCondition(_Leaf):
    """Any of the words or phrases (see ``services.text.terms`` for the syntax)."""

    terms: OneOrMany
    lang: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}$",
        description="inflect as this language (default: guessed per term from its script)",
    )


class TagCondition(_Leaf):
    """Any of the taxonomy tags the enricher sets."""

    tag: OneOrMany


class _Combinator(_Strict):
    scope: Scope | None = Field(
        default=None,
        description="the conditions must hold together in one sentence, paragraph or span of N words",
    )


class AllOf(_Combinator):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Combinator):
    any: list[Condition] = Field(min_length=1)


class NoneOf(_Combinator):
    none: list[Condition] = Field(min_length=1)


class AtLeast(_Combinator):
    at_least: int = Field(ge=1)
    of: list[Condition] = Field(min_length=1)

    @model_validator(mode="after")
    def _enough(self) -> AtLeast:
        if self.at_least > len(self.of):
            raise ValueError(f"at_least {self.at_least} of only {len(self.of)} conditions")
        return self


#: Condition tag (the key that picks the model) -> model.
TAGS: dict[str, type[_Strict]] = {
    "entity": EntityCondition,
    "kind": KindCondition,
    "country": CountryCondition,
    "terms": TermsCondition,
    "tag": TagCondition,
    "all": AllOf,
    "any": AnyOf,
    "none": NoneOf,
    "at_least": AtLeast,
}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        for key, model in TAGS.items():
            if isinstance(value, model):
                return key
        return None
    if isinstance(value, dict):
        found = [key for key in TAGS if key in value]
        if len(found) == 1:
            return found[0]
    return None


Condition = Annotated[
    Annotated[EntityCondition, Tag("entity")]
    | Annotated[KindCondition, Tag("kind")]
    | Annotated[CountryCondition, Tag("country")]
    | Annotated[TermsCondition, Tag("terms")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NoneOf, Tag("none")]
    | Annotated[AtLeast, Tag("at_least")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is a mapping with exactly one of: " + ", ".join(TAGS) + ""
        ),
    ),
]

for _model in (AllOf, AnyOf, NoneOf, AtLeast):
    _model.model_rebuild()


class Filters(_Strict):
    """Which articles a rule looks at, before its conditions."""

    sources: tuple[str, ...] = Field(default=(), description="source ids (any)")
    source_labels: dict[str, str] = Field(
        default_factory=dict, description="labels the source must carry (all)"
    )
    languages: tuple[str, ...] = Field(default=(), description="ISO 639-1 codes (any)")
    min_mentions: int = Field(
        default=1, ge=1, description="default occurrences every entity, term or tag condition needs"
    )
    title_only: bool = Field(default=False, description="read the title only")


GroupBy = Literal["rule", "country", "country-pair", "entity"]


class WindowSpec(_Strict):
    """Fire when at least ``articles`` matching articles from at least ``sources`` distinct
    sources fall within ``within``, per ``group_by`` key."""

    articles: int = Field(ge=1)
    sources: int = Field(default=1, ge=1)
    within: Duration
    group_by: GroupBy = "rule"

    @model_validator(mode="after")
    def _consistent(self) -> WindowSpec:
        if self.sources > self.articles:
            raise ValueError("sources cannot exceed articles")
        return self


class SpikeSpec(_Strict):
    """Fire when the matching articles of the last ``window`` are at least ``ratio`` times the
    rate of the ``baseline`` before it, and at least ``min_count``."""

    window: Duration
    baseline: Duration
    ratio: float = Field(gt=1.0)
    min_count: int = Field(default=3, ge=1)
    group_by: GroupBy = "rule"


TEMPLATE_FIELDS = frozenset(
    {
        "rule_id",
        "rule_title",
        "severity",
        "key",
        "article_title",
        "source",
        "source_count",
        "article_count",
        "countries",
        "matched",
    }
)


def _template(value: str) -> str:
    try:
        names = {
            m.group("named") or m.group("braced")
            for m in string.Template.pattern.finditer(value)
            if m.group("named") or m.group("braced")
        }
    except ValueError as exc:  # pragma: no cover - finditer does not raise
        raise ValueError(str(exc)) from exc
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(sorted('$' + n for n in unknown))}; "
            f"known: {', '.join(sorted('$' + n for n in TEMPLATE_FIELDS))}"
        )
    return value


Template = Annotated[str, AfterValidator(_template)]


class Rule(_Strict):
    """One analyst's rule."""

    id: str = Field(pattern=_ID, description="stable id: lower-case letters, digits, . _ -")
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    severity: Severity = Severity.MEDIUM
    labels: dict[str, str] = Field(default_factory=dict)
    owner: str = ""
    enabled: bool = True
    when: Condition
    scope: Scope = Field(default="article", description="scope of the top-level condition")
    filters: Filters = Filters()
    window: WindowSpec | None = None
    spike: SpikeSpec | None = None
    suppress: Duration = Field(
        default=timedelta(hours=24),
        description="same rule and key: update the open alert, re-alert only after this",
    )
    alert_title: Template = Field(default="$rule_title: $article_title", max_length=500)
    alert_description: Template = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _one_aggregation(self) -> Rule:
        if self.window is not None and self.spike is not None:
            raise ValueError("a rule has a window or a spike, not both")
        return self


class RuleFile(_Strict):
    """A rule file: a list of rules."""

    rules: list[Rule] = Field(default_factory=list)


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file (``services/rules/rule.schema.json``)."""
    schema = RuleFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tocsin.invalid/schemas/rule-file.json"
    schema["title"] = "Tocsin rule file"
    return schema


SCHEMA_PATH = Path(__file__).with_name("rule.schema.json")


def schema_text() -> str:
    """The JSON Schema file's expected content (a test fails when the file drifts)."""
    return json.dumps(rule_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m services.rules.model: regenerate rule.schema.json
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
