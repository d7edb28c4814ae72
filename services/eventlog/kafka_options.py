"""Options of the Kafka event log: parsed from the URL and keyword arguments, validated.

Kept apart from ``kafka.py`` so that the log reads as Kafka mechanics and this module as
configuration. Every option is checked before any connection is made, so a typo fails at
once with a ``FatalError`` naming it instead of a timeout later; unknown options are
refused rather than ignored, because an ignored ``sesion_timeout_ms`` is a silent outage.
Secrets (the SASL and SSL passwords) never appear in a repr, a redacted URL or
kafka-python's own debug log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from services.eventlog.errors import FatalError

DEFAULT_PORT = 9092
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
_COMPRESSIONS: tuple[str, ...] = ("none", "gzip", "snappy", "lz4", "zstd")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")
_SECRETS = ("sasl_plain_password", "ssl_password")
Assignor = Literal["cooperative-sticky", "range"]
_ASSIGNORS: tuple[str, ...] = ("cooperative-sticky", "range")


@dataclass(frozen=True, slots=True)
class KafkaOptions:
    """Validated backend options. Defaults suit Apache Kafka; the tests shorten the timeouts."""

    bootstrap_servers: tuple[str, ...]
    idempotent: bool = True
    client_id: str = "tocsin"
    acks: Literal["all", 0, 1] = "all"
    linger_ms: int = 5
    compression: Compression = "none"
    request_timeout_ms: int = 30000
    bootstrap_timeout_ms: int = 10000
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    #: how long the broker may hold a fetch that finds no new records. Apache Kafka answers
    #: as soon as records arrive, so the wait costs no latency there; the test broker (Tansu)
    #: holds the fetch anyway, which adds up to the wait to every hop (see bench/pipeline.py)
    fetch_max_wait_ms: int = 500
    #: how a consumer group shares partitions. cooperative-sticky (KIP-429): a rebalance
    #: moves only the partitions that change owner, and the other members keep consuming;
    #: range: Kafka's classic eager protocol, every member gives up every partition at each
    #: rebalance. Every member of a group must use the same one (kafka-python cannot offer
    #: both), so switching means stopping the group's members first.
    assignor: Assignor = "cooperative-sticky"
    replication_factor: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    #: the largest record the producer sends, and the ``max.message.bytes`` of the topics
    #: Tocsin creates. Kafka's 1 MiB default is below an enriched event of a long article
    #: (its text is in it twice, with every sentence and mention: a 200,000-character
    #: Georgian text makes 3 MB), so that one article stopped the enricher.
    max_message_bytes: int = 8 * 1024 * 1024

    @property
    def bootstrap(self) -> str:
        return ",".join(self.bootstrap_servers)

    def client_config(self) -> dict[str, Any]:
        """Settings every kafka-python client takes (admin, producer, consumer)."""
        config: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
            "bootstrap_timeout_ms": self.bootstrap_timeout_ms,
            "security_protocol": self.security_protocol,
        }
        optional = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_plain_username,
            "sasl_plain_password": self.sasl_plain_password,
            "ssl_cafile": self.ssl_cafile,
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        return config

    def producer_config(self) -> dict[str, Any]:
        # delivery_timeout_ms bounds the producer's internal retries (default: forever while
        # within 2 minutes); it must cover one request plus the linger.
        return {
            **self.client_config(),
            "enable_idempotence": self.idempotent,
            "acks": self.acks,
            "linger_ms": self.linger_ms,
            "compression_type": None if self.compression == "none" else self.compression,
            "max_block_ms": self.request_timeout_ms,
            "max_request_size": self.max_message_bytes,
            "delivery_timeout_ms": 2 * self.request_timeout_ms + self.linger_ms,
        }

    @property
    def delivery_timeout_s(self) -> float:
        return (2 * self.request_timeout_ms + self.linger_ms) / 1000 + 1.0


_OPTION_NAMES = frozenset(f.name for f in fields(KafkaOptions)) - {"bootstrap_servers"}


def parse_options(url: str, overrides: Mapping[str, object]) -> KafkaOptions:
    """Options from the URL's query string, overridden by keyword arguments, all validated."""
    parts = urlsplit(url)
    if parts.scheme != "kafka":
        raise FatalError(f"not a kafka:// URL: {redact_url(url)!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise FatalError(f"a kafka:// URL takes no path or fragment: {redact_url(url)!r}")
    if "@" in parts.netloc:
        raise FatalError(
            "put Kafka credentials in the sasl_plain_username / sasl_plain_password options, "
            "not in the URL's host part"
        )
    servers = _parse_servers(parts.netloc)
    raw: dict[str, object] = {}
    for name, text in parse_qsl(parts.query, keep_blank_values=True):
        if name in raw:
            raise FatalError(f"kafka option {name!r} given twice in the URL")
        raw[name] = text
    raw.update(overrides)
    unknown = sorted(set(raw) - _OPTION_NAMES)
    if unknown:
        raise FatalError(
            f"unknown kafka option(s): {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_OPTION_NAMES))}"
        )
    values: dict[str, Any] = {"bootstrap_servers": servers}
    for name, value in raw.items():
        values[name] = _PARSERS[name](name, value)
    options = KafkaOptions(**values)
    _check_consistency(options)
    return options


def _parse_servers(netloc: str) -> tuple[str, ...]:
    servers: list[str] = []
    for item in netloc.split(","):
        host, sep, port_text = item.strip().rpartition(":")
        if not sep:
            host, port_text = item.strip(), str(DEFAULT_PORT)
        host = host.strip("[]")
        if not host:
            raise FatalError(f"kafka:// URL needs host:port[,host:port], got {netloc!r}")
        try:
            port = int(port_text)
        except ValueError:
            raise FatalError(f"bad port in kafka bootstrap address {item!r}") from None
        if not 0 < port < 65536:
            raise FatalError(f"bad port in kafka bootstrap address {item!r}")
        servers.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return tuple(servers)


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise FatalError(f"kafka option {name} must be true or false, got {value!r}")


def _int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FatalError(f"kafka option {name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise FatalError(f"kafka option {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise FatalError(f"kafka option {name} must be >= {minimum}, got {number}")
    return number


def _positive_ms(minimum: int) -> Any:
    return lambda name, value: _int(name, value, minimum=minimum)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FatalError(f"kafka option {name} must be a non-empty string")
    return value.strip()


def _secret(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise FatalError(f"kafka option {name} must be a non-empty string")
    return value


def _choice(choices: Sequence[str], *, upper: bool = False) -> Any:
    def parse(name: str, value: object) -> str:
        text = str(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise FatalError(
                f"kafka option {name} must be one of {', '.join(choices)}, got {value!r}"
            )
        return text

    return parse


def _acks(name: str, value: object) -> str | int:
    text = str(value).strip().lower()
    if text in ("all", "-1"):
        return "all"
    if text in ("0", "1"):
        return int(text)
    raise FatalError(f"kafka option {name} must be all, 1 or 0, got {value!r}")


def _replication(name: str, value: object) -> int:
    number = _int(name, value, minimum=-1)
    if number == 0:
        raise FatalError(f"kafka option {name} must be >= 1, or -1 for the broker's default")
    return number


def _cafile(name: str, value: object) -> str:
    path = _text(name, value)
    if not os.path.isfile(path):
        raise FatalError(f"kafka option {name}: no such file {path!r}")
    return path


_PARSERS: dict[str, Any] = {
    "idempotent": _bool,
    "client_id": _text,
    "acks": _acks,
    "linger_ms": _positive_ms(0),
    "compression": _choice(_COMPRESSIONS),
    # kafka-python's consumer needs request_timeout_ms above its fetch wait (500 ms).
    "request_timeout_ms": _positive_ms(1000),
    "bootstrap_timeout_ms": _positive_ms(1),
    "session_timeout_ms": _positive_ms(1),
    "heartbeat_interval_ms": _positive_ms(1),
    "fetch_max_wait_ms": _positive_ms(0),
    "assignor": _choice(_ASSIGNORS),
    "replication_factor": _replication,
    "security_protocol": _choice(_SECURITY_PROTOCOLS, upper=True),
    "sasl_mechanism": _choice(_SASL_MECHANISMS, upper=True),
    "sasl_plain_username": _text,
    "sasl_plain_password": _secret,
    "ssl_cafile": _cafile,
    "max_message_bytes": lambda name, value: _int(name, value, minimum=1024 * 1024),
}


def _check_consistency(options: KafkaOptions) -> None:
    if options.heartbeat_interval_ms >= options.session_timeout_ms:
        raise FatalError(
            "kafka option heartbeat_interval_ms must be below session_timeout_ms "
            f"({options.heartbeat_interval_ms} >= {options.session_timeout_ms})"
        )
    if options.fetch_max_wait_ms >= options.request_timeout_ms:
        raise FatalError(
            "kafka option fetch_max_wait_ms must be below request_timeout_ms "
            f"({options.fetch_max_wait_ms} >= {options.request_timeout_ms})"
        )
    if options.idempotent and options.acks != "all":
        raise FatalError("an idempotent Kafka producer needs acks=all (or set idempotent=false)")
    if options.compression != "none":
        import kafka.codec

        if not getattr(kafka.codec, f"has_{options.compression}")():
            raise FatalError(
                f"kafka compression {options.compression} needs its Python codec package "
                "installed (snappy: python-snappy, lz4: lz4, zstd: zstandard)"
            )
    sasl = options.security_protocol.startswith("SASL_")
    if sasl and options.sasl_mechanism is None:
        raise FatalError(f"security_protocol={options.security_protocol} needs sasl_mechanism")
    needs_password = options.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    if (
        sasl
        and needs_password
        and (options.sasl_plain_username is None or options.sasl_plain_password is None)
    ):
        raise FatalError(
            f"sasl_mechanism={options.sasl_mechanism} needs sasl_plain_username and "
            "sasl_plain_password"
        )


def redact_url(url: str) -> str:
    """The URL with any password (in the host part or the query string) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hosts}" if ":" in userinfo else netloc
    query = "&".join(
        f"{k}=***" if k in _SECRETS else f"{k}={quote(v, safe='')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


class _RedactSecrets(logging.Filter):
    """kafka-python's admin client logs its whole configuration at DEBUG, password included."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redacted(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = _redacted(args)
        return True


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping) and any(k in value for k in _SECRETS):
        return {k: ("***" if k in _SECRETS and v is not None else v) for k, v in value.items()}
    return value


_REDACTOR = _RedactSecrets()
for _name in ("kafka.admin.client", "kafka.net.manager", "kafka.client_async"):
    logging.getLogger(_name).addFilter(_REDACTOR)
