"""Source configuration: what to poll, how often, and how to label what it yields.

Sources arrive as raw mappings (``Settings.sources``, the bundled defaults, an OPML import)
and are validated here in full, so a bad entry is refused when the config is loaded, never
at the first poll. Errors name the entry (``sources[3] (id 'x')``), the field and, when the
YAML file is known, its line.

URLs are checked at load: ``http``/``https`` (with a host), ``file://`` or a plain local
path. Anything else (``ftp:``, ``javascript:``, ``data:``...) is refused: a URL in config
is user-supplied input (DESIGN, Guarantees).

Polling faster than once a second. ``every`` is at least 1 s, the poller's politeness
delay between two requests to one host, unless the source also sets ``host_delay``: the
least time between two request starts to its host, which the poller then enforces for that
host instead of 1 s (the smallest value any source of the host declares). Setting it is a
statement that the host's owner allows that rate (your own feed, a partner's endpoint, a
local bridge); ``every`` below 1 s must not be shorter than it, and neither goes below
``MIN_FAST_EVERY_S``. Use it for the few sources whose alerts must be fast, with
conditional GET (ETag / Last-Modified) on the server side. A poll that changes nothing is
recorded as ``source.polled`` at most once per ``record_quiet_every`` (default a minute),
so a source polled 4 times a second does not add 4 events a second to the log and to the
read model for ever; every poll that finds something, fails or changes state still is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.runtime.redact import shown_url

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SOURCES_FILE = DATA_DIR / "default_sources.yaml"

SourceKind = Literal["feed", "page", "jsonl", "telegram"]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_DEFAULT_EVERY_S = 15 * 60.0
_MIN_EVERY_S = 1.0
#: The shortest ``every`` and ``host_delay`` a source may opt in to (see the module docstring).
MIN_FAST_EVERY_S = 0.1


class SourceConfigError(ValueError):
    """A source entry that cannot be used; the message says which entry, field and line."""


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1.5h"``, ``"1d"``, ``"250ms"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '10m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration: use seconds or '30s', '10m', '2h', '1d'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


class FollowLinks(BaseModel):
    """For a ``page`` source that is a listing: which links on it are articles to fetch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(
        default=".", description="regular expression an article link must match (search)"
    )
    max: int = Field(default=20, ge=1, le=200, description="links followed per poll, at most")
    same_host: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class SourceConfig(BaseModel):
    """One source. ``every`` (seconds) or ``cron`` (5-field crontab) schedules it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: SourceKind = "feed"
    url: str
    title: str | None = None
    every: float | None = None
    cron: str | None = None
    jitter: float | None = Field(
        default=None, description="seconds of random delay; default 10% of the interval, <= 60 s"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    language: str | None = None
    host_delay: float | None = Field(
        default=None,
        description=(
            "least seconds between two requests to this source's host (default: the "
            "poller's politeness delay, 1 s); lower only where the host's owner allows it"
        ),
    )
    record_quiet_every: float = Field(
        default=60.0,
        ge=0,
        description=(
            "a poll that changes nothing (not modified or nothing new, same status, HTTP code "
            "and validators as the last recorded poll) is recorded as source.polled at most "
            "this often; 0 records every poll"
        ),
    )
    enabled: bool = True
    follow: FollowLinks | None = Field(
        default=None, description="page kind only: treat the page as a listing of article links"
    )
    timezone: str | None = Field(
        default=None,
        description=(
            "IANA zone (Asia/Yerevan) in which the source's dates that name no zone are "
            "read (29.11.2026 10:00); default UTC, as feedparser reads them"
        ),
    )
    read_back: int = Field(
        default=5,
        ge=1,
        le=50,
        description=(
            "telegram kind only: after a gap, preview pages (about twenty posts each) read "
            "per poll at most, back to the last post published"
        ),
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                "a source id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url_allowed(cls, value: str, info: ValidationInfo) -> str:
        value = check_url(value)
        return preview_url(value) if info.data.get("kind") == "telegram" else value

    @field_validator("every", "jitter", "host_delay", "record_quiet_every", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("every", "host_delay")
    @classmethod
    def _not_too_often(cls, value: float | None) -> float | None:
        if value is not None and value < MIN_FAST_EVERY_S:
            raise ValueError(f"must be at least {MIN_FAST_EVERY_S:g} s")
        return value

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"not a valid 5-field crontab expression: {exc}") from exc
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_scalars(cls, value: object) -> object:
        if isinstance(value, Mapping):
            out: dict[str, str] = {}
            for k, v in value.items():
                if isinstance(v, (dict, list, tuple)) or v is None:
                    raise ValueError(f"label {k!r} must be a single value, not {type(v).__name__}")
                out[str(k)] = str(v)
            return out
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value):
            raise ValueError(f"{value!r} is not a language tag such as 'en', 'ru' or 'hy'")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{value!r} is not an IANA time zone such as 'Asia/Yerevan' or 'Europe/Moscow'"
                ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        if self.every is not None and self.every < _MIN_EVERY_S:
            if self.host_delay is None:
                raise ValueError(
                    f"polling more often than every {_MIN_EVERY_S:g} s needs 'host_delay' "
                    "(the rate the host's owner allows) set no longer than 'every'"
                )
            if self.host_delay > self.every:
                raise ValueError(
                    f"'every' ({self.every:g} s) is shorter than 'host_delay' "
                    f"({self.host_delay:g} s): the host would be polled no faster than that"
                )
        if self.follow is not None and self.kind != "page":
            raise ValueError("'follow' applies to page sources only")
        if "read_back" in self.model_fields_set and self.kind != "telegram":
            raise ValueError("'read_back' applies to telegram sources only")
        return self

    # -- derived ---------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo | None:
        """Where the source's dates that name no zone are read (``None``: UTC)."""
        return None if self.timezone is None else ZoneInfo(self.timezone)

    @property
    def interval_s(self) -> float:
        return self.every if self.every is not None else _DEFAULT_EVERY_S

    @property
    def jitter_s(self) -> float:
        if self.jitter is not None:
            return self.jitter
        return 30.0 if self.cron else min(60.0, 0.1 * self.interval_s)

    @property
    def host(self) -> str:
        """The host as the fetcher's politeness gate knows it (lower case; empty when local)."""
        return (urlsplit(self.url).hostname or "").lower() if self.is_remote else ""

    @property
    def shown_url(self) -> str:
        """The URL as events, errors and screens show it: without user info or a key in the
        query (``services.runtime.redact``); the fetch uses ``url``."""
        return shown_url(self.url)

    @property
    def is_remote(self) -> bool:
        return urlsplit(self.url).scheme in ("http", "https")

    @property
    def local_path(self) -> Path:
        """The file or folder a ``file://`` URL or a plain path names."""
        parts = urlsplit(self.url)
        if parts.scheme == "file":
            return Path(unquote(parts.path))
        return Path(self.url).expanduser()

    @property
    def language_tag(self) -> str | None:
        return normalise_language(self.language)


def normalise_language(tag: str | None) -> str | None:
    """``en-US`` -> ``en``: the enricher wants the primary language subtag."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
    return primary if 2 <= len(primary) <= 3 and primary.isalpha() else None


#: Telegram's hosts, whose channel pages have a public preview under /s/
_TELEGRAM_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me"})


def preview_url(url: str) -> str:
    """A Telegram channel's link (``https://t.me/caucasus_news``) as its public preview,
    ``https://t.me/s/caucasus_news``, which ``parsers.telegram`` reads; a preview's link,
    or any other URL (a saved page, a mirror), as it is."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host not in _TELEGRAM_HOSTS or parts.path.startswith("/s/") or parts.path in ("", "/", "/s"):
        return url
    return parts._replace(scheme="https", path="/s" + parts.path).geturl()


def check_url(value: str) -> str:
    """Accept http(s) URLs with a host, file:// URLs and local paths; refuse the rest."""
    value = value.strip()
    if not value:
        raise ValueError("the url is empty")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"{value!r} has no host")
        return value
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{value!r}: a file:// URL must name a local path (file:///path)")
        return value
    if scheme == "" or (len(scheme) == 1 and value[1:3] in (":\\", ":/")):  # Windows drive
        return value
    raise ValueError(
        f"URL scheme {scheme!r} is not allowed: use http(s)://, file:// or a local path"
    )


def _absolute(raw: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """Resolve a relative local path against ``base_dir`` (the file it was written in)."""
    entry = dict(raw)
    url = entry.get("url")
    if base_dir is not None and isinstance(url, str) and url and urlsplit(url).scheme == "":
        path = Path(url).expanduser()
        if not path.is_absolute():
            entry["url"] = str((base_dir / path).resolve())
    return entry


def load_sources(
    raw: Sequence[Mapping[str, Any]],
    *,
    origin: Path | None = None,
    base_dir: Path | None = None,
) -> list[SourceConfig]:
    """Validate every entry; raise one ``SourceConfigError`` listing every problem found.

    ``origin`` is the YAML file the entries came from (for line numbers); relative local
    paths are resolved against ``base_dir`` (default: the current directory, as for the log).
    """
    lines = _source_lines(origin) if origin is not None else {}
    problems: list[str] = []
    sources: list[SourceConfig] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"sources[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{_at(origin, lines, index, None)}{where}: must be a mapping")
            continue
        ident = entry.get("id")
        if isinstance(ident, str):
            where += f" (id {ident!r})"
        try:
            source = SourceConfig.model_validate(_absolute(entry, base_dir))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(entry)"
                msg = str(err["msg"]).removeprefix("Value error, ")
                at = _at(origin, lines, index, str(err["loc"][0]) if err["loc"] else None)
                problems.append(f"{at}{where}: {field}: {msg}")
            continue
        if source.id in seen:
            problems.append(
                f"{_at(origin, lines, index, 'id')}{where}: id: duplicate source id "
                f"{source.id!r} (first at sources[{seen[source.id]}])"
            )
            continue
        seen[source.id] = index
        sources.append(source)
    if problems:
        head = f"{len(problems)} invalid source setting(s):"
        raise SourceConfigError("\n  ".join([head, *problems]))
    return sources


def load_default_sources() -> list[SourceConfig]:
    """The bundled list (real public feeds plus the offline sample), paths relative to it."""
    data = yaml.safe_load(DEFAULT_SOURCES_FILE.read_text(encoding="utf-8")) or {}
    return load_sources(
        data.get("sources", []), origin=DEFAULT_SOURCES_FILE, base_dir=DEFAULT_SOURCES_FILE.parent
    )


def _at(
    origin: Path | None, lines: dict[tuple[int, str | None], int], index: int, field: str | None
) -> str:
    line = lines.get((index, field)) or lines.get((index, None))
    if origin is None:
        return ""
    return f"{origin}:{line}: " if line else f"{origin}: "


def _source_lines(path: Path) -> dict[tuple[int, str | None], int]:
    """(entry index, field or None) -> 1-based line in the YAML file, best effort."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    out: dict[tuple[int, str | None], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        if key.value == "sources" and isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                out[(index, None)] = item.start_mark.line + 1
                if isinstance(item, yaml.MappingNode):
                    for fkey, _ in item.value:
                        out[(index, str(fkey.value))] = fkey.start_mark.line + 1
    return out


def host_delays(sources: Sequence[SourceConfig]) -> dict[str, float]:
    """Host -> the smallest ``host_delay`` its sources declare (hosts none declares: absent)."""
    out: dict[str, float] = {}
    for source in sources:
        if source.host_delay is not None and source.host:
            out[source.host] = min(source.host_delay, out.get(source.host, source.host_delay))
    return out


def sources_from_settings(
    raw: Sequence[Mapping[str, Any]], origin: Path | None
) -> list[SourceConfig]:
    """The configured sources, or the bundled defaults when the config names none."""
    if not raw:
        return load_default_sources()
    return load_sources(raw, origin=origin, base_dir=Path.cwd())
