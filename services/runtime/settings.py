"""Tocsin's settings: defaults < YAML file < ``TOCSIN_*`` environment < command-line flags.

The YAML file is ``--config FILE``, else ``$TOCSIN_CONFIG``, else ``./tocsin.yaml`` when it
exists; with no file at all Tocsin runs on the embedded defaults. ``${NAME}`` and
``${NAME:-default}`` in the file's values are replaced from the environment, so secrets
stay out of it. Nested settings use ``__`` in variable names:
``TOCSIN_KAFKA__IDEMPOTENT=false``. Settings are read once, at the edge (the CLI), and
passed down as arguments.

Why two moments of expansion: the sections that every service reads (``log``, ``kafka``,
``runtime``, ``api``, ``websub``) are expanded when the file is loaded, and a variable they
name must be set. The sections that their own services validate (``DEFERRED_SECTIONS``:
sources, rules, subscriptions, enricher) are expanded when a service reads them
(``Settings.section``): the poller does not need the webhook secret that a subscription
names, so a deployment gives each service the secrets of its own sections only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_LOG = "sqlite:///./data/tocsin.db"
DEFAULT_CONFIG = Path("tocsin.yaml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: Validated by the services that own them, and expanded when they read them.
DEFERRED_SECTIONS = frozenset({"sources", "rules", "subscriptions", "enricher"})


@dataclass(frozen=True)
class _Origin:
    """Where the settings' values came from, for the errors of a later expansion."""

    name: str = "TOCSIN_* variables"
    #: line of the first ``${NAME`` of each variable in the file
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, variable: str) -> str:
        line = self.lines.get(variable)
        return f"{self.name}:{line}" if line else self.name


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message names the file and field."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """Options for a ``kafka://`` log (passed to the backend; see services/eventlog/kafka.py)."""

    idempotent: bool = Field(default=True, description="idempotent producer: on for Apache Kafka")
    client_id: str = "tocsin"
    acks: Literal["all", "1", "0"] = "all"
    linger_ms: int = Field(default=5, ge=0)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    request_timeout_ms: int = Field(default=30_000, gt=0)
    bootstrap_timeout_ms: int = Field(default=10_000, gt=0)
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    fetch_max_wait_ms: int = Field(
        default=500,
        ge=0,
        description="how long the broker may hold an empty fetch (Apache Kafka answers when "
        "records arrive; lower it only for a broker that does not)",
    )
    assignor: Literal["cooperative-sticky", "range"] = Field(
        default="cooperative-sticky",
        description="how consumer groups share partitions: cooperative-sticky moves only what "
        "changes owner at a rebalance; range is the eager protocol (one for the whole group)",
    )
    replication_factor: int = Field(default=1, ge=-1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    ssl_cafile: str | None = None
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        description="the largest record produced, and max.message.bytes of the topics Tocsin "
        "creates (an enriched long article exceeds Kafka's 1 MiB default)",
    )


class RuntimeSettings(_Section):
    batch_size: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_s: float = Field(default=0.5, gt=0)
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    idle_give_up_s: float = Field(
        default=300.0,
        gt=0,
        description="batch runs (--until-idle): a failure lasting this long (a full disk) ends "
        "the run with its error; a running service retries for as long as it takes",
    )
    startup_wait_s: float = Field(
        default=300.0,
        ge=0,
        description="a service starting while the log's servers are unreachable waits this long "
        "for them (0: fail at once)",
    )


ApiScope = Literal["read", "write"]


class ApiToken(_Section):
    """A bearer token for the API; ``name`` is who acts in the lifecycle events it appends."""

    name: str = Field(min_length=1, max_length=200)
    token: SecretStr = Field(min_length=16, description="at least 16 characters; use ${ENV}")
    scopes: tuple[ApiScope, ...] = ("read", "write")


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    read_model: Path = Field(default=Path("./data/read.db"), description="the read-model database")
    public_read: bool = Field(default=False, description="GETs need no token")
    allow_private_urls: bool = Field(
        default=False,
        description="webhook URLs may point at private, loopback or link-local addresses",
    )
    tokens: tuple[ApiToken, ...] = ()
    projections_group: str = Field(default="projections", min_length=1)
    projections_linger_s: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="how long the read model gathers events into one transaction while they "
        "trickle in (a quarter less CPU per article at 50 events per transaction than at 2, "
        "bench/projections.py), but the views lag by up to this (a reload right after an ack "
        "can show the old status); the SSE stream does not",
    )
    sse_ping_s: float = Field(
        default=15.0, gt=0, description="keep-alive interval of the SSE stream"
    )
    max_streams: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="live SSE streams open at once in this process (the dashboard's list, "
        "subscription streams): each holds a connection and a queue of up to 1,000 events, so "
        "with public reading on, anyone could open thousands; past this they get a 429",
    )
    threads: int = Field(default=4, ge=1, le=200, description="threads serving SQLite reads")
    backtests_db: Path | None = Field(
        default=None, description="the backtest jobs database (default: beside the read model)"
    )
    backtest_concurrency: int = Field(default=1, ge=1, le=16)
    backtest_max_pending: int = Field(default=8, ge=1, le=1000)
    backtest_timeout_s: float = Field(default=600.0, gt=0)


class WebSubSettings(_Section):
    """Push delivery from feeds that name a WebSub hub (services/poller/websub.py); polling
    goes on beside it. Off until ``callback_url`` is set: the hubs must be able to reach it."""

    callback_url: str | None = Field(
        default=None,
        description="public http(s) URL that hubs call back, one path per source under it; "
        "the poller serves that path on host:port (put a reverse proxy with TLS before it)",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="key of the subscriptions' secrets; pollers behind one callback URL must "
        "share it (default: drawn at each start, and every feed subscribed again); use ${ENV}",
    )
    lease_s: float = Field(
        default=10 * 86400.0, ge=60, description="lease asked of the hubs, renewed at 4/5"
    )

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("the callback URL takes no query or fragment: one path per source")
        return value


class Settings(BaseSettings):
    """The whole configuration. ``sources``, ``rules``, ``subscriptions`` and ``enricher`` are
    validated in full by the services that own them; here they are only kept."""

    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    log: str = Field(
        default=DEFAULT_LOG, description="event log URL: sqlite:///path or kafka://host:port,..."
    )
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    kafka: KafkaSettings = KafkaSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    api: ApiSettings = ApiSettings()
    websub: WebSubSettings = WebSubSettings()
    sources: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=lambda: ["default"])
    subscriptions: list[dict[str, Any]] = Field(default_factory=list)
    enricher: dict[str, Any] = Field(
        default_factory=dict,
        description="extra gazetteer/taxonomy files (validated by the enricher)",
    )

    _origin: _Origin = PrivateAttr(default_factory=_Origin)

    def section(self, name: str) -> Any:
        """A section of ``DEFERRED_SECTIONS`` with its ``${VAR}`` references expanded; a
        variable that is not set is a ``ConfigError`` naming the file, line and section."""
        if name not in DEFERRED_SECTIONS:
            raise ValueError(f"{name} is expanded at load: read it as an attribute")
        return expand_values(getattr(self, name), self._origin, name)

    def log_options(self) -> dict[str, object]:
        """The options the event log backend takes from these settings."""
        if not self.log.startswith("kafka://"):
            return {}
        options = self.kafka.model_dump(exclude_none=True)
        if self.kafka.sasl_plain_password is not None:
            options["sasl_plain_password"] = self.kafka.sasl_plain_password.get_secret_value()
        return options


def substitute_env(value: Any, lookup: Callable[[str, str | None], str]) -> Any:
    """``value`` with every ``${NAME}`` / ``${NAME:-default}`` in its strings (nested lists
    and mappings included) replaced by ``lookup(NAME, default)``, which raises when it has
    no value. Config files and subscription definitions read from the log share it."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        return _VAR.sub(lambda m: lookup(m.group(1), m.group(2)), value)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, lookup) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute_env(v, lookup) for v in value]
    return value


def expand_values(value: Any, origin: _Origin, section: str) -> Any:
    """``value`` expanded from the process environment; a variable without a value is a
    ``ConfigError`` naming where it was written and the section that needs it."""

    def lookup(name: str, default: str | None) -> str:
        found = os.environ.get(name, default)
        if found is None:
            raise ConfigError(
                f"{origin.where(name)}: environment variable {name} is not set "
                f"(needed by {section})"
            )
        return found

    return substitute_env(value, lookup)


def _first_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for match in _VAR.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def read_config_file(path: Path) -> tuple[dict[str, Any], _Origin]:
    """The file's values (the sections every service reads expanded), and where they came
    from (for the deferred sections' expansion)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    origin = _Origin(str(path), _first_lines(text))
    if data is None:
        return {}, origin
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    return {
        key: value if key in DEFERRED_SECTIONS else expand_values(value, origin, str(key))
        for key, value in data.items()
    }, origin


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("TOCSIN_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


class _MappingSource(PydanticBaseSettingsSource):
    """The config file's values, as one more pydantic-settings source (the lowest)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Settings from flags (None = not given), then ``TOCSIN_*`` variables, then the config file."""
    path = config_path(config)
    file_values, origin = read_config_file(path) if path is not None else ({}, _Origin())

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, _MappingSource(settings_cls, file_values)

    try:
        loaded = _Loaded(**{k: v for k, v in flags.items() if v is not None})
        loaded._origin = origin
        return loaded
    except ValidationError as exc:
        where = f"{path} (or TOCSIN_* variables)" if path else "TOCSIN_* variables"
        raise ConfigError(_describe(exc, where)) from exc


def _describe(exc: ValidationError, origin: str) -> str:
    lines = [f"{origin}: {exc.error_count()} invalid setting(s):"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {field}: {err['msg']}")
    return "\n".join(lines)
