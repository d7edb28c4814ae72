"""The event log on Apache Kafka, through kafka-python 3.

``kafka://host:9092[,host2:9092][?option=value&...]``; options may also be passed as keyword
arguments to ``open_log`` (they win over the URL); ``kafka_options.KafkaOptions`` lists
and validates them.

How the interface maps onto Kafka, and why:

- One ``KafkaAdminClient`` per log, opened eagerly: it bootstraps within
  ``bootstrap_timeout_ms``, so a log whose brokers are down fails at open with a
  ``RetryableError`` naming them instead of hanging on first use.
- The producer is created on the first append (read-only users never pay for it). Every
  append flushes and waits for each record's acknowledgement, so a returned ``Position`` is
  durable per ``acks``.
- Partitions are chosen here, with ``base.partition_for_key`` for keyed messages (Kafka's
  murmur2, identical to kafka-python's DefaultPartitioner) and round-robin for keyless ones,
  and passed to the producer explicitly: every backend then puts a message on the same
  partition, and keyless messages spread evenly instead of at random.
- Topics are checked against metadata before an append or a subscription, because brokers
  with auto-creation on (and kafka-python, which ignores ``allow_auto_create_topics=False``)
  would otherwise create a misspelt topic with default settings.
- Every kafka-python exception crosses into ``errors.py``'s tree in one place, ``_translate``,
  so callers decide retry / rebalance / stop from the class alone.

Consumers live in ``kafka_consumer``, options in ``kafka_options``; this module holds the
error boundary and the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NoReturn

import kafka.errors as kerrors
from kafka import KafkaAdminClient, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import OffsetSpec

from services.eventlog.base import (
    Consumer,
    EventLog,
    KeylessPartitioner,
    Message,
    NewTopic,
    OnRevoked,
    Position,
    Reset,
    TopicPartition,
    partition_for_key,
)
from services.eventlog.errors import (
    EventLogError,
    FatalError,
    RebalanceError,
    RetryableError,
    UnavailableError,
    UnknownTopicError,
)
from services.eventlog.kafka_options import KafkaOptions, parse_options, redact_url

__all__ = ["KafkaLog", "KafkaOptions", "open_kafka", "parse_options", "redact_url"]


# kafka-python errors that mean "the group moved on without this consumer".
_REBALANCE_ERRORS: tuple[type[BaseException], ...] = (
    kerrors.CommitFailedError,
    kerrors.RebalanceInProgressError,
    kerrors.IllegalGenerationError,
    kerrors.UnknownMemberIdError,
    kerrors.FencedInstanceIdError,
)
# Misuse or configuration the broker refuses: retrying cannot help.
_FATAL_ERRORS: tuple[type[BaseException], ...] = (
    kerrors.KafkaConfigurationError,
    kerrors.UnsupportedVersionError,
    kerrors.UnrecognizedBrokerVersion,
    kerrors.AuthorizationError,
    kerrors.SaslAuthenticationFailedError,
    kerrors.UnsupportedSaslMechanismError,
    kerrors.InvalidReplicationFactorError,
    kerrors.InvalidPartitionsError,
    kerrors.InvalidConfigurationError,
    kerrors.InvalidTopicError,
    kerrors.PolicyViolationError,
    kerrors.MessageSizeTooLargeError,
    kerrors.RecordListTooLargeError,
    kerrors.InvalidGroupIdError,
    kerrors.InvalidSessionTimeoutError,
)


# --------------------------------------------------------------------------- error boundary


@contextlib.contextmanager
def _translate(bootstrap: str, action: str, *, configuring: bool = False) -> Iterator[None]:
    """The one place where kafka-python's exceptions become the event log's.

    ``configuring`` marks the construction of a client, where kafka-python reports bad
    settings as plain ``ValueError`` / ``TypeError`` / ``AssertionError`` (and a missing
    certificate file as ``OSError``): those are configuration errors, fatal. Elsewhere a
    ``ValueError`` is ours (a broken precondition) and passes through untouched.
    """
    try:
        yield
    except EventLogError:
        raise
    except kerrors.UnknownTopicOrPartitionError as exc:
        raise UnknownTopicError(f"unknown Kafka topic or partition ({action}): {exc}") from exc
    except _REBALANCE_ERRORS as exc:
        raise RebalanceError(
            f"the consumer group rebalanced during {action}; nothing of this batch was "
            f"committed: {_describe(exc)}"
        ) from exc
    except _FATAL_ERRORS as exc:
        raise FatalError(f"Kafka at {bootstrap} refused {action}: {_describe(exc)}") from exc
    except kerrors.KafkaError as exc:
        if getattr(exc, "retriable", False) or isinstance(exc, kerrors.KafkaTimeoutError):
            raise _unreachable(bootstrap, action, exc) from exc
        raise FatalError(f"Kafka at {bootstrap} failed {action}: {_describe(exc)}") from exc
    except (ValueError, TypeError, AssertionError) as exc:
        if not configuring:
            raise
        raise FatalError(f"bad Kafka configuration for {bootstrap}: {exc}") from exc
    except OSError as exc:
        if configuring and not isinstance(exc, ConnectionError | TimeoutError):
            raise FatalError(f"bad Kafka configuration for {bootstrap}: {exc}") from exc
        raise _unreachable(bootstrap, action, exc) from exc


def _describe(exc: BaseException) -> str:
    # kafka-python's errors already start with their class name.
    return str(exc) if isinstance(exc, kerrors.KafkaError) else f"{type(exc).__name__}: {exc}"


def _unreachable(bootstrap: str, action: str, exc: BaseException) -> RetryableError:
    return UnavailableError(f"Kafka at {bootstrap} unavailable during {action}: {_describe(exc)}")


def _close_half_built(exc: BaseException, cls: type[Any]) -> None:
    """Stop the I/O thread of a kafka-python client whose constructor raised.

    KafkaAdminClient and KafkaConsumer start a background I/O thread before they bootstrap;
    when bootstrapping fails the half-built object is lost to the caller but its thread
    lives on. A service that retries ``open_log`` while the broker is down would leak one
    thread per attempt, so the object is found in the traceback and shut down.
    """
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, cls):
            with contextlib.suppress(Exception):
                candidate._client.close()
            with contextlib.suppress(Exception):
                candidate._net.stop()
            return
        tb = tb.tb_next


def build_client(factory: type[Any], options: KafkaOptions, action: str, **config: Any) -> Any:
    """Construct a kafka-python client, translating and cleaning up a failed construction."""
    try:
        with _translate(options.bootstrap, action, configuring=True):
            return factory(**config)
    except EventLogError as exc:
        if exc.__cause__ is not None:
            _close_half_built(exc.__cause__, factory)
        raise


def _raise_for_code(code: int, what: str) -> NoReturn:
    error = kerrors.for_code(code)
    raise error(what)


# --------------------------------------------------------------------------- the log


class KafkaLog(EventLog):
    """The event log on a Kafka cluster. Thread-safe as far as kafka-python's clients are:
    appends from several threads share one producer; each consumer belongs to one thread."""

    def __init__(self, url: str, options: KafkaOptions) -> None:
        self.url = redact_url(url)
        self.options = options
        # less a margin for the record batch's own framing, which the producer counts
        self.max_record_bytes = options.max_message_bytes - 1024
        self._partitions: dict[str, int] = {}
        self._keyless = KeylessPartitioner()
        self._producer: Any = None
        self._consumers: list[Consumer] = []
        self._closed = False
        self._admin: Any = build_client(
            KafkaAdminClient, options, "connecting (admin)", **options.client_config()
        )

    def __repr__(self) -> str:
        return f"KafkaLog({self.url!r})"

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        if self._closed:
            raise FatalError(f"the Kafka log {self.url} is closed")
        return _translate(self.options.bootstrap, action)

    # -- topics

    def create_topics(self, topics: Iterable[NewTopic]) -> list[str]:
        specs: dict[str, dict[str, Any]] = {}
        for topic in topics:
            configs = {"max.message.bytes": str(self.options.max_message_bytes)}
            if topic.retention_ms is not None:
                configs["retention.ms"] = str(topic.retention_ms)
            specs[topic.name] = {
                "num_partitions": topic.partitions,
                "replication_factor": self.options.replication_factor,
                "configs": configs,
            }
        if not specs:
            return []
        with self._guard("creating topics"):
            response = self._admin.create_topics(specs, raise_errors=False)
            created: list[str] = []
            for result in response["topics"]:
                code = result["error_code"]
                if code == kerrors.TopicAlreadyExistsError.errno:
                    continue
                if code:
                    message = result.get("error_message") or ""
                    _raise_for_code(code, f"creating topic {result['name']!r}: {message}")
                created.append(result["name"])
            if created:
                self._admin.wait_for_topics(created, timeout_ms=self.options.request_timeout_ms)
        for name in created:
            self._partitions[name] = specs[name]["num_partitions"]
        return [name for name in specs if name in created]

    def delete_topics(self, names: Iterable[str]) -> None:
        """Delete topics (tests and tooling; not part of the interface)."""
        wanted = list(names)
        if not wanted:
            return
        with self._guard("deleting topics"):
            self._admin.delete_topics(wanted, raise_errors=False)
        for name in wanted:
            self._partitions.pop(name, None)

    def list_topics(self) -> dict[str, int]:
        with self._guard("listing topics"):
            described = self._admin.describe_topics()
        topics = {
            t["name"]: len(t["partitions"])
            for t in described
            if not t.get("is_internal") and not t["name"].startswith("__") and not t["error_code"]
        }
        self._partitions = dict(topics)
        return topics

    def partitions(self, topic: str) -> int:
        """The topic's partition count; ``UnknownTopicError`` when it does not exist.

        Cached: partition counts never shrink, and this backend never adds partitions.
        """
        count = self._partitions.get(topic)
        if count is not None:
            return count
        with self._guard(f"describing topic {topic!r}"):
            described = self._admin.describe_topics([topic])
        for t in described:
            if t["name"] == topic and not t["error_code"] and t["partitions"]:
                self._partitions[topic] = len(t["partitions"])
                return len(t["partitions"])
        raise UnknownTopicError(f"no topic {topic!r} on Kafka at {self.options.bootstrap}")

    def topic_partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        return [
            TopicPartition(t, p) for t in dict.fromkeys(topics) for p in range(self.partitions(t))
        ]

    # -- appending

    def _get_producer(self) -> Any:
        if self._producer is None:
            self._producer = build_client(
                KafkaProducer,
                self.options,
                "connecting (producer)",
                **self.options.producer_config(),
            )
        return self._producer

    def append(self, messages: Sequence[Message]) -> list[Position]:
        if not messages:
            return []
        if self._closed:
            raise FatalError(f"the Kafka log {self.url} is closed")
        counts = {m.topic: self.partitions(m.topic) for m in messages}
        producer = self._get_producer()
        with self._guard("appending"):
            futures = []
            for m in messages:
                n = counts[m.topic]
                partition = self._keyless(n) if m.key is None else partition_for_key(m.key, n)
                futures.append(
                    producer.send(
                        m.topic,
                        value=m.value,
                        key=m.key,
                        headers=list(m.headers) or None,
                        partition=partition,
                        timestamp_ms=m.timestamp_ms,
                    )
                )
            producer.flush(timeout=self.options.delivery_timeout_s)
            positions = []
            for future in futures:
                meta = future.get(timeout=self.options.delivery_timeout_s)
                positions.append(Position(meta.topic, meta.partition, meta.offset))
        return positions

    # -- consuming

    def consumer(
        self,
        topics: Sequence[str],
        *,
        group: str | None,
        reset: Reset = "earliest",
        on_revoked: OnRevoked | None = None,
    ) -> Consumer:
        if isinstance(topics, str):
            raise ValueError("topics must be a sequence of topic names, not one string")
        if not topics:
            raise ValueError("a consumer needs at least one topic")
        if reset not in ("earliest", "latest"):
            raise ValueError(f"reset must be 'earliest' or 'latest', got {reset!r}")
        if group is not None and not group.strip():
            raise ValueError("a consumer group name cannot be empty")
        from services.eventlog.kafka_consumer import KafkaLogConsumer

        partitions = self.topic_partitions(topics)  # UnknownTopicError before connecting
        consumer = KafkaLogConsumer(
            self, list(dict.fromkeys(topics)), partitions, group, reset, on_revoked
        )
        self._consumers.append(consumer)
        return consumer

    def forget_consumer(self, consumer: Consumer) -> None:
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    # -- offsets

    def end_offsets(self, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        names = list(self.list_topics()) if topics is None else list(topics)
        partitions = self.topic_partitions(names)
        if not partitions:
            return {}
        specs = {
            KafkaTopicPartition(tp.topic, tp.partition): OffsetSpec.LATEST for tp in partitions
        }
        with self._guard("reading end offsets"):
            found = self._admin.list_partition_offsets(specs)
        return {TopicPartition(tp.topic, tp.partition): int(found[tp].offset) for tp in specs}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        with self._guard(f"reading the committed offsets of group {group!r}"):
            found = self._admin.list_group_offsets({group: None})
        return {
            TopicPartition(tp.topic, tp.partition): int(meta.offset)
            for tp, meta in found.get(group, {}).items()
            if meta.offset is not None and meta.offset >= 0
        }

    def groups(self) -> list[str]:
        with self._guard("listing consumer groups"):
            listed = self._admin.list_groups()
            names = sorted({g["group_id"] for g in listed})
            if not names:
                return []
            offsets = self._admin.list_group_offsets(names)
        return [
            name
            for name in names
            if any(m.offset is not None and m.offset >= 0 for m in offsets.get(name, {}).values())
        ]

    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[TopicPartition, int | None]:
        if timestamp_ms < 0:
            raise ValueError(f"timestamp_ms must be >= 0, got {timestamp_ms}")
        specs = {KafkaTopicPartition(topic, p): timestamp_ms for p in range(self.partitions(topic))}
        with self._guard(f"looking up offsets by time in {topic!r}"):
            found = self._admin.list_partition_offsets(specs)
        result: dict[TopicPartition, int | None] = {}
        for tp in specs:
            hit = found.get(tp)
            # Kafka answers offset -1 / timestamp -1 for "no record at or after this time"
            # (and kafka-python may give None); some brokers give offset 0 with timestamp -1.
            missing = (
                hit is None
                or hit.offset is None
                or hit.offset < 0
                or hit.timestamp is None
                or hit.timestamp < 0
            )
            result[TopicPartition(tp.topic, tp.partition)] = None if missing else int(hit.offset)
        return result

    # -- lifecycle

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for consumer in list(self._consumers):
            try:
                consumer.close()
            except EventLogError as exc:
                errors.append(exc)
        producer, self._producer = self._producer, None
        try:
            if producer is not None:
                with _translate(self.options.bootstrap, "closing the producer"):
                    producer.close(timeout=self.options.delivery_timeout_s)
        except EventLogError as exc:
            errors.append(exc)
        finally:
            with contextlib.suppress(Exception):
                self._admin.close()
        if errors:
            raise errors[0]


def open_kafka(url: str, **options: object) -> EventLog:
    """Open the Kafka log a ``kafka://`` URL names (see the module docstring)."""
    return KafkaLog(url, parse_options(url, options))
