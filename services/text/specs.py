"""The YAML shapes of gazetteer and taxonomy files, validated with pydantic.

Why a separate module: the same shapes serve the bundled data under ``services/text/data/``
and the files users add, and a user's mistake must come back as one clear message naming
the file and the entry ("people.yaml: entry 'person:x' (#3): countries.0: 'XX' is not an
ISO 3166-1 alpha-2 code"), never as a traceback from deep inside the matcher.

Gazetteer file::

    entries:
      - id: place:yerevan            # stable id, "<kind-ish prefix>:<slug>"
        kind: place                  # country | place | organisation | person
        name: Yerevan                # canonical name
        countries: [AM]              # ISO 3166-1 alpha-2 codes it belongs to
        aliases:                     # by language (ISO 639-1); a string or {text, case, guard}
          en: [Yerevan, Erevan]
          ru: [Ереван]
        adjectives: {en: [Yerevani]} # mentions recorded with form="adjective"
        cues: [Armenia]              # context words that favour this entry when a name is shared
        priority: 0                  # wins ties between entries sharing a name
        roles:                       # persons: offices held
          - {role: Mayor of Yerevan, country: AM, start: 2021-10-12, end: null}
        provenance: "curated: ..."   # where the data comes from
        merge: false                 # true: add aliases/cues to an existing entry of that id
    ignore:                          # phrases that hide the names inside them
      en: [New Mexico]

Taxonomy file::

    tags:
      - id: ceasefire
        name: Ceasefire
        keywords: {en: [ceasefire, truce], ru: [перемири*]}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "AliasSpec",
    "DataFileError",
    "EntrySpec",
    "GazetteerFileSpec",
    "RoleSpec",
    "TagSpec",
    "TaxonomyFileSpec",
    "format_validation_error",
]

Kind = Literal["country", "place", "organisation", "person"]
CaseRule = Literal["insensitive", "capitalised", "upper"]
Guard = Literal["none", "person-name", "surname", "acronym", "word"]

_ID_PATTERN = r"^[a-z][a-z0-9_-]*:[A-Za-z0-9][A-Za-z0-9_.-]*$"
_LANG_PATTERN = r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$"


class DataFileError(ValueError):
    """A gazetteer or taxonomy file that cannot be used; the message names file and entry."""

    def __init__(self, source: str, message: str, entry: str | None = None) -> None:
        where = source if entry is None else f"{source}: {entry}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.entry = entry


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AliasSpec(_Strict):
    """One alias with options. ``case``: how the surface must be written (``upper`` for
    acronyms like "US" that are common words in lower case; ``capitalised`` for names
    like "Turkey" or "Chad"). ``guard: person-name`` rejects the name when it reads as
    part of a person's name ("Michael Jordan", "Chad Smith"); ``guard: surname`` rejects a
    person's surname alone after another given name ("Elchin Aliyev" is not Ilham), which a
    person's one-word English and Russian aliases get unless they say otherwise.
    ``guard: acronym`` rejects an organisation's acronym in a text that spells it out as
    something else ("International Cricket Council (ICC)") or names a company or a cup
    with it ("SCO Group", "CIS Cup"), which an organisation's upper-case aliases get.
    ``guard: word`` is ``acronym`` for an acronym that is also a common word ("WHO",
    "PACE"): in a line written all in capitals ("THOSE WHO FLED"), where case cannot tell
    the two apart, it names its entity only when the text names it elsewhere too."""

    text: str = Field(min_length=1)
    case: CaseRule | None = None
    #: None: "surname" for a person's one-word English or Russian alias, "acronym" for an
    #: organisation's alias of two or more capitals, else "none"
    guard: Guard | None = None


AliasItem = str | AliasSpec


def _check_aliases(value: Mapping[str, Sequence[AliasItem]]) -> None:
    for lang, items in value.items():
        if not re.match(_LANG_PATTERN, lang):
            raise ValueError(f"{lang!r} is not a language code (ISO 639-1, e.g. 'en', 'ru')")
        for item in items:
            text = item if isinstance(item, str) else item.text
            if not text.strip(" *="):
                raise ValueError(f"empty alias in {lang!r}")
            if "*" in text.rstrip("*") or "=" in text[1:]:
                raise ValueError(f"{text!r}: '*' may only end a term and '=' only begin it")


class RoleSpec(_Strict):
    role: str = Field(min_length=1)
    country: str | None = Field(default=None, description="ISO alpha-2 of the office, if any")
    organisation: str | None = Field(default=None, description="entry id of the organisation")
    start: dt.date | None = None
    end: dt.date | None = Field(default=None, description="None: still in office")


def _check_country(code: str) -> str:
    import pycountry

    if code == "XK" or pycountry.countries.get(alpha_2=code) is not None:
        return code
    raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code")


class EntrySpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    kind: Kind | None = None
    name: str | None = None
    countries: list[str] = Field(default_factory=list)
    aliases: dict[str, list[AliasItem]] = Field(default_factory=dict)
    adjectives: dict[str, list[AliasItem]] = Field(default_factory=dict)
    cues: list[str] = Field(default_factory=list)
    priority: int = 0
    roles: list[RoleSpec] = Field(default_factory=list)
    provenance: str | None = None
    merge: bool = False

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        return [_check_country(code) for code in value]

    @field_validator("aliases", "adjectives")
    @classmethod
    def _aliases(cls, value: dict[str, list[AliasItem]]) -> dict[str, list[AliasItem]]:
        _check_aliases(value)
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[RoleSpec]) -> list[RoleSpec]:
        for role in value:
            if role.country is not None:
                _check_country(role.country)
            if role.start and role.end and role.end < role.start:
                raise ValueError(f"role {role.role!r} ends before it starts")
        return value

    def missing_for_new(self) -> list[str]:
        """Fields a new (not merged) entry must have."""
        return [name for name in ("kind", "name") if getattr(self, name) is None]


class GazetteerFileSpec(_Strict):
    entries: list[EntrySpec] = Field(default_factory=list)
    ignore: dict[str, list[str]] = Field(default_factory=dict)


class TagSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    keywords: dict[str, list[str]]

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        _check_aliases(value)
        if not any(value.values()):
            raise ValueError("a tag needs at least one keyword")
        return value


class TaxonomyFileSpec(_Strict):
    tags: list[TagSpec]


def format_validation_error(error: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)
