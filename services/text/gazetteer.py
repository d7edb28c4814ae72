"""The gazetteer: countries, places, organisations and people, with aliases by language.

Where the entries come from:

- every country in ISO 3166-1 from pycountry, with its names translated by pycountry's
  gettext catalogues (``iso3166-1.mo``) into the languages in ``COUNTRY_LANGUAGES``;
- curated YAML files bundled under ``services/text/data/`` (short forms, demonyms,
  places, organisations, people), each citing its sources in comments;
- YAML files that users add (same shape, see ``services.text.specs``).

Why pycountry's catalogues rather than our own lists: they are maintained by the Debian
iso-codes translators for dozens of languages, and they cover every country. Their gaps
and inversions ("Korea, Republic of") are filled by ``countries.yaml``.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from services.text.normalise import fold
from services.text.specs import (
    AliasItem,
    AliasSpec,
    DataFileError,
    EntrySpec,
    GazetteerFileSpec,
    Guard,
    TagSpec,
    TaxonomyFileSpec,
    format_validation_error,
)

__all__ = [
    "BUNDLED_FILES",
    "COUNTRY_LANGUAGES",
    "Alias",
    "Entry",
    "Gazetteer",
    "Role",
    "Tag",
    "country_entries",
    "default_gazetteer",
    "load_entries",
    "load_gazetteer",
    "load_taxonomy",
]

Kind = Literal["country", "place", "organisation", "person"]
Form = Literal["name", "adjective"]

#: Languages whose pycountry translations of country names are loaded. gettext locale
#: names: Chinese is ``zh_CN``.
COUNTRY_LANGUAGES: tuple[str, ...] = (
    "ru",
    "hy",
    "az",
    "fr",
    "es",
    "ar",
    "zh_CN",
    "ka",
    "tr",
    "fa",
    "uk",
    "kk",
    "de",
)

#: Curated gazetteer files shipped with the package, in load order.
BUNDLED_FILES: tuple[str, ...] = (
    "countries.yaml",
    "demonyms.yaml",
    "places.yaml",
    "organisations.yaml",
    "people.yaml",
)
TAXONOMY_FILE = "taxonomy.yaml"

_AUTO_UPPER = re.compile(r"^[^\W\d_]{1,3}$")
#: two or more letters, no digits ("G7" is no acronym other bodies share)
_ACRONYM = re.compile(r"^[^\W\d_]{2,}$")


@dataclass(frozen=True, slots=True)
class Alias:
    """One written form of an entry. ``case``: see ``specs.AliasSpec``."""

    text: str
    lang: str
    form: Form = "name"
    case: Literal["insensitive", "capitalised", "upper"] = "insensitive"
    guard: Guard = "none"


@dataclass(frozen=True, slots=True)
class Role:
    role: str
    country: str | None = None
    organisation: str | None = None
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A gazetteer entry: what a mention resolves to."""

    id: str
    kind: Kind
    name: str
    countries: tuple[str, ...] = ()
    aliases: tuple[Alias, ...] = ()
    cues: tuple[str, ...] = ()
    priority: int = 0
    roles: tuple[Role, ...] = ()
    provenance: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tag:
    """A taxonomy tag and the keywords (by language) that set it."""

    id: str
    name: str
    keywords: tuple[tuple[str, str], ...]  # (lang, keyword)


@dataclass(frozen=True)
class Gazetteer:
    """Entries, ignored phrases and tags: everything the matcher is built from."""

    entries: tuple[Entry, ...]
    ignore: tuple[tuple[str, str], ...] = ()  # (lang, phrase)
    tags: tuple[Tag, ...] = ()
    _by_id: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _by_alias: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_alias: dict[str, list[int]] = {}
        for index, entry in enumerate(self.entries):
            self._by_id[entry.id] = index
            for alias in entry.aliases:
                by_alias.setdefault(fold(alias.text), []).append(index)
        self._by_alias.update({k: tuple(dict.fromkeys(v)) for k, v in by_alias.items()})

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, or None."""
        index = self._by_id.get(entry_id)
        return None if index is None else self.entries[index]

    def lookup(self, name: str) -> list[Entry]:
        """Entries with ``name`` as an id or as an alias (any case or diacritics).

        For rules that say "Armenia" or "country:AM" and mean the entry.
        """
        if name in self._by_id:
            return [self.entries[self._by_id[name]]]
        return [self.entries[i] for i in self._by_alias.get(fold(" ".join(name.split())), ())]

    def index_of(self, entry_id: str) -> int:
        return self._by_id[entry_id]


# --------------------------------------------------------------------------- pycountry


def _country_names(country: object) -> list[tuple[int, str]]:
    names: list[tuple[int, str]] = []
    for rank, attr in enumerate(("name", "official_name", "common_name")):
        value = getattr(country, attr, None)
        if isinstance(value, str) and value:
            names.append((rank, value))
    return names


def _usable(name: str) -> bool:
    # "Korea, Republic of" and "Holy See (Vatican City State)" are catalogue forms, not
    # how texts name countries; countries.yaml gives the usable forms.
    return "," not in name and "(" not in name and "،" not in name


def country_entries() -> list[Entry]:
    """One entry per ISO 3166-1 country, names in English and ``COUNTRY_LANGUAGES``.

    A translated name claimed by two countries (pycountry has a few wrong translations)
    goes to the one for which it is the primary name, or to neither on a tie.
    """
    import pycountry

    translators = {
        lang: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        for lang in COUNTRY_LANGUAGES
    }
    claims: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    countries = sorted(pycountry.countries, key=lambda c: c.alpha_2)
    for country in countries:
        for rank, english in _country_names(country):
            langs: list[tuple[str, str]] = [("en", english)]
            for lang, translator in translators.items():
                translated = translator.gettext(english)
                if translated != english:
                    langs.append((lang.split("_")[0], translated))
            for lang, text in langs:
                if _usable(text):
                    claim = (rank, country.alpha_2, text)
                    claims.setdefault((lang, fold(text)), []).append(claim)
    aliases: dict[str, list[Alias]] = {c.alpha_2: [] for c in countries}
    for (lang, _key), claimants in claims.items():
        best = min(rank for rank, _, _ in claimants)
        winners = {(code, text) for rank, code, text in claimants if rank == best}
        if len({code for code, _ in winners}) != 1:
            continue
        code, text = min(winners)
        # Names are proper nouns written with a capital in every script that has one:
        # "reunion", "chad" or "jersey" in lower case are common words, not countries, and
        # so are "перу" (a pen's), "чили" (the pepper) and "мали" (small).
        case: Literal["insensitive", "capitalised"] = (
            "capitalised" if text[:1].isupper() else "insensitive"
        )
        aliases[code].append(Alias(text=text, lang=lang, case=case))
    entries = []
    for country in countries:
        entries.append(
            Entry(
                id=f"country:{country.alpha_2}",
                kind="country",
                name=getattr(country, "common_name", None) or country.name,
                countries=(country.alpha_2,),
                aliases=tuple(aliases[country.alpha_2]),
                priority=1,
                provenance=("pycountry (ISO 3166-1, iso-codes translations)",),
            )
        )
    return entries


# --------------------------------------------------------------------------- YAML files


def _read_yaml(text: str, source: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFileError(source, f"not valid YAML: {exc}") from exc


def _parse_gazetteer(text: str, source: str) -> GazetteerFileSpec:
    data = _read_yaml(text, source)
    if data is None:
        return GazetteerFileSpec()
    if not isinstance(data, dict):
        raise DataFileError(source, "expected a mapping with 'entries' (and 'ignore')")
    raw_entries = data.get("entries") or []
    if not isinstance(raw_entries, list):
        raise DataFileError(source, "'entries' must be a list")
    entries: list[EntrySpec] = []
    for number, raw in enumerate(raw_entries, start=1):
        label = f"entry #{number}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            label = f"entry {raw['id']!r} (#{number})"
        try:
            spec = EntrySpec.model_validate(raw)
        except ValidationError as exc:
            raise DataFileError(source, format_validation_error(exc), label) from exc
        if not spec.merge and spec.missing_for_new():
            missing = ", ".join(spec.missing_for_new())
            raise DataFileError(source, f"missing {missing} (required unless merge: true)", label)
        entries.append(spec)
    rest = {k: v for k, v in data.items() if k != "entries"}
    try:
        spec_file = GazetteerFileSpec.model_validate({**rest, "entries": []})
    except ValidationError as exc:
        raise DataFileError(source, format_validation_error(exc)) from exc
    return GazetteerFileSpec(entries=entries, ignore=spec_file.ignore)


def _aliases(
    items: Mapping[str, Sequence[AliasItem]], form: Form, kind: str | None = None
) -> list[Alias]:
    out = []
    for lang, values in items.items():
        for item in values:
            spec = AliasSpec(text=item) if isinstance(item, str) else item
            case = spec.case
            bare = spec.text.replace(".", "").strip()
            if case is None:
                case = "upper" if _AUTO_UPPER.match(bare) and bare.isupper() else "insensitive"
            guard = spec.guard
            if guard is None:
                guard = _default_guard(bare, lang, kind)
            out.append(Alias(spec.text, lang, form, case, guard))
    return out


def _default_guard(bare: str, lang: str, kind: str | None) -> Guard:
    # a person's one-word alias is their surname (where case tells); an organisation's
    # capitals are an acronym that other bodies and companies share
    if kind == "person" and lang in ("en", "ru") and " " not in bare:
        return "surname"
    if kind == "organisation" and _ACRONYM.match(bare) and bare.isupper():
        return "acronym"
    return "none"


def _spec_aliases(spec: EntrySpec, kind: str | None) -> list[Alias]:
    """An entry spec's names, then its adjectives."""
    return _aliases(spec.aliases, "name", kind) + _aliases(spec.adjectives, "adjective")


def _entry_from_spec(spec: EntrySpec, source: str) -> Entry:
    assert spec.kind is not None and spec.name is not None
    countries = list(spec.countries)
    for role in spec.roles:
        if role.country and role.country not in countries:
            countries.append(role.country)
    aliases = _spec_aliases(spec, spec.kind)
    if not any(fold(a.text) == fold(spec.name) for a in aliases):
        aliases.insert(0, Alias(spec.name, "en"))
    return Entry(
        id=spec.id,
        kind=spec.kind,
        name=spec.name,
        countries=tuple(countries),
        aliases=tuple(aliases),
        cues=tuple(spec.cues),
        priority=spec.priority,
        roles=tuple(
            Role(
                r.role,
                r.country,
                r.organisation,
                r.start.isoformat() if r.start else None,
                r.end.isoformat() if r.end else None,
            )
            for r in spec.roles
        ),
        provenance=(spec.provenance or source,),
    )


def _merge(entry: Entry, spec: EntrySpec, source: str) -> Entry:
    # A merged alias replaces an existing one with the same folded text, language and form,
    # so that a curated file can add a case rule or a guard to a pycountry name.
    merged: dict[tuple[str, str, str], Alias] = {}
    added = _spec_aliases(spec, spec.kind or entry.kind)
    for alias in (*entry.aliases, *added):
        merged[(alias.lang, fold(alias.text), alias.form)] = alias
    aliases = list(merged.values())
    countries = tuple(dict.fromkeys((*entry.countries, *spec.countries)))
    return Entry(
        id=entry.id,
        kind=spec.kind or entry.kind,
        name=spec.name or entry.name,
        countries=countries,
        aliases=tuple(aliases),
        cues=tuple(dict.fromkeys((*entry.cues, *spec.cues))),
        priority=spec.priority if "priority" in spec.model_fields_set else entry.priority,
        roles=entry.roles,
        provenance=(*entry.provenance, spec.provenance or source),
    )


def load_entries(
    sources: Iterable[tuple[str, str]],
    base: Sequence[Entry] = (),
) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Entries and ignored phrases from ``(source name, YAML text)`` pairs, on top of ``base``.

    A new entry whose id already exists is an error naming both places; ``merge: true``
    adds its aliases, adjectives and cues to the existing entry instead.
    """
    entries = list(base)
    index = {entry.id: i for i, entry in enumerate(entries)}
    origin = {entry.id: "pycountry" for entry in base}
    ignore: list[tuple[str, str]] = []
    for source, text in sources:
        spec_file = _parse_gazetteer(text, source)
        for number, spec in enumerate(spec_file.entries, start=1):
            label = f"entry {spec.id!r} (#{number})"
            if spec.merge:
                if spec.id not in index:
                    raise DataFileError(source, "merge: true but no entry has this id", label)
                entries[index[spec.id]] = _merge(entries[index[spec.id]], spec, source)
                continue
            if spec.id in index:
                raise DataFileError(
                    source, f"duplicate id, already defined in {origin[spec.id]}", label
                )
            index[spec.id] = len(entries)
            origin[spec.id] = source
            entries.append(_entry_from_spec(spec, source))
        for lang, phrases in spec_file.ignore.items():
            ignore.extend((lang, phrase) for phrase in phrases)
    return entries, ignore


def _bundled_text(name: str) -> str:
    return resources.files("services.text").joinpath("data", name).read_text(encoding="utf-8")


def load_taxonomy(text: str | None = None, source: str = TAXONOMY_FILE) -> list[Tag]:
    """Tags from a taxonomy YAML text (the bundled one by default)."""
    if text is None:
        text = _bundled_text(TAXONOMY_FILE)
    data = _read_yaml(text, source)
    try:
        spec = TaxonomyFileSpec.model_validate(data)
    except ValidationError as exc:
        raise DataFileError(source, format_validation_error(exc)) from exc
    seen: set[str] = set()
    tags = []
    for item in spec.tags:
        if item.id in seen:
            raise DataFileError(source, "duplicate tag id", f"tag {item.id!r}")
        seen.add(item.id)
        tags.append(_tag(item))
    return tags


def _tag(spec: TagSpec) -> Tag:
    pairs = tuple((lang, kw) for lang, kws in spec.keywords.items() for kw in kws)
    return Tag(id=spec.id, name=spec.name, keywords=pairs)


def load_gazetteer(
    extra_files: Sequence[str | Path] = (),
    *,
    taxonomy: str | Path | None = None,
    include_bundled: bool = True,
) -> Gazetteer:
    """The bundled gazetteer plus users' YAML files (and an optional other taxonomy file).

    Raises ``DataFileError`` naming the file and the entry on any invalid input.
    """
    sources: list[tuple[str, str]] = []
    if include_bundled:
        sources.extend((name, _bundled_text(name)) for name in BUNDLED_FILES)
    for path in extra_files:
        p = Path(path)
        try:
            sources.append((str(p), p.read_text(encoding="utf-8")))
        except OSError as exc:
            raise DataFileError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    base = country_entries() if include_bundled else []
    entries, ignore = load_entries(sources, base)
    if taxonomy is None:
        tags = load_taxonomy()
    else:
        tax_path = Path(taxonomy)
        try:
            tags = load_taxonomy(tax_path.read_text(encoding="utf-8"), str(tax_path))
        except OSError as exc:
            raise DataFileError(str(tax_path), f"cannot read: {exc.strerror or exc}") from exc
    return Gazetteer(entries=tuple(entries), ignore=tuple(ignore), tags=tuple(tags))


@cache
def default_gazetteer() -> Gazetteer:
    """The bundled gazetteer and taxonomy, loaded once per process."""
    return load_gazetteer()
