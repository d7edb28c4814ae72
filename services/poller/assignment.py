"""Scale-out: several poller processes on one log split the sources, none polled twice.

The scheme needs no new topic and no coordinator of its own. ``sources.polled`` is keyed
by source id, so source S lives on partition ``murmur2(S) mod P`` (P = 3 by default, the
same function on every backend). Each poller joins the consumer group ``poller`` on
``sources.polled``; the group gives each partition to exactly one live member, and a poller
polls exactly the sources whose partition it owns:

- split: P partitions among N pollers (the log's group protocol: Kafka's rebalance, or the
  SQLite backend's DB-coordinated groups); with N > P the extra pollers stand by;
- takeover: a poller that dies stops heartbeating; after the session timeout the group
  moves its partitions to the survivors, which start polling those sources;
- the new owner reads the partition from the group's committed offset: the validators
  (ETag, Last-Modified) the previous owner recorded come with it, so conditional GET
  survives the move;
- handover: a poller about to give up partitions (the log's ``on_revoked`` hook, Kafka's
  rebalance listener) stops polling their sources, lets the polls in flight finish and
  records its quiet polls not on the log yet (``Poller.record_quiet``), all before the
  group moves them; the new owner counts a gained partition as its own only once it has
  read it to the end it had when assigned, so it knows the previous owner's last poll of
  each source, and polls it next one interval after that poll (``runner._resume``, told
  of the gain by ``take_gained``);
- the tail of ``articles.published`` (read by every poller) keeps each poller's set of
  known articles current with what the others publish, so a source that moves is not
  re-published by its new owner.

The group is ``<topic prefix>poller`` (``runner.group_name``), so deployments sharing a
cluster under different prefixes never rebalance each other. The ownership thread commits
its position only while its assignment is settled, and at most every ``commit_every_s``
even after a failure: a commit tried during a join is refused and sends the client back to
rejoin, so retrying it at every step kept a rebalance from ever finishing on Kafka (found
by tests/unit/poller/test_scaleout_kafka.py, where a poller is killed with SIGKILL).

Caveats, as with any lease: a poller that dies, or is frozen past the session timeout,
hands nothing over, so its last poll of a source may be followed by the new owner's within
the interval (duplicate articles carry the same deterministic ids).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from services.eventlog import Consumer, EventLog, EventLogError, TopicPartition
from services.eventlog.base import partition_for_key
from services.poller.state import HealthBook, KnownArticles

log = logging.getLogger(__name__)

GROUP = "poller"


class Ownership(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def owns(self, source_id: str) -> bool: ...


class AllSources:
    """One poller owns everything (``tocsin poll``, single-process deployments)."""

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def owns(self, source_id: str) -> bool:
        return True


class PartitionOwnership:
    """Owns the sources whose ``sources.polled`` partition the group gave this process.

    A background thread drives the group consumer (heartbeats, rebalances), folds the
    ``source.polled`` events it reads into ``health`` (validators of sources it takes over),
    commits its position every few seconds, and tails ``articles.published`` into ``known``.
    ``on_revoked`` gets the partitions about to move away, once their sources are no longer
    owned here; the group moves them when it returns (see the module docstring).
    """

    def __init__(
        self,
        event_log: EventLog,
        polled_topic: str,
        published_topic: str,
        *,
        health: HealthBook | None = None,
        known: KnownArticles | None = None,
        published_from: dict[TopicPartition, int] | None = None,
        group: str = GROUP,
        poll_interval_s: float = 0.2,
        commit_every_s: float = 5.0,
        on_revoked: Callable[[frozenset[int]], None] | None = None,
    ) -> None:
        self.log = event_log
        self.polled_topic = polled_topic
        self.published_topic = published_topic
        self.health = health
        self.known = known
        self.published_from = published_from
        self.group = group
        self.poll_interval_s = poll_interval_s
        self.commit_every_s = commit_every_s
        self.on_revoked = on_revoked
        self.partitions = event_log.list_topics()[polled_topic]
        #: what the group gave this process; ``_owned``: those of them read to the end
        #: they had when assigned (``_catching_up``: partition -> that end offset)
        self._assigned: frozenset[int] = frozenset()
        self._catching_up: dict[int, int] = {}
        self._owned: frozenset[int] = frozenset()
        #: partitions owned since the runner last asked (``take_gained``)
        self._gained: deque[frozenset[int]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        #: Set once the group first gave this process partitions (see ``wait_assigned``).
        self.assigned = threading.Event()

    def partition_of(self, source_id: str) -> int:
        """The ``sources.polled`` partition the source's events (and its ownership) are on."""
        return partition_for_key(source_id.encode(), self.partitions)

    def owns(self, source_id: str) -> bool:
        return self.partition_of(source_id) in self._owned

    def wait_assigned(self, timeout_s: float) -> bool:
        """Wait until the group first gave this process partitions; False on timeout (a
        stand-by poller, with more pollers than partitions, never gets any)."""
        return self.assigned.wait(timeout_s)

    @property
    def owned_partitions(self) -> frozenset[int]:
        return self._owned

    def take_gained(self) -> frozenset[int]:
        """The partitions that became owned here since the last call, each reported once: at
        a join, a departure or a takeover, and when a rebalance gives back what it revoked."""
        gained: frozenset[int] = frozenset()
        while self._gained:
            gained |= self._gained.popleft()
        return gained

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="poller-ownership", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._owned = frozenset()

    def _revoking(self, tps: frozenset[TopicPartition]) -> None:
        """The log's rebalance hook: these partitions go to another poller once it returns."""
        revoked = frozenset(tp.partition for tp in tps if tp.topic == self.polled_topic)
        self._owned -= revoked  # no new poll of their sources from here on
        self._assigned -= revoked  # if given back, read again to the end before polling
        for partition in revoked:
            self._catching_up.pop(partition, None)
        if revoked and self.on_revoked is not None:
            try:
                self.on_revoked(revoked)
            except Exception:  # the handover goes on: the new owner polls on its schedule
                log.exception("poller: handing over partitions %s", sorted(revoked))

    def _run(self) -> None:
        consumer = self.log.consumer(
            [self.polled_topic], group=self.group, reset="earliest", on_revoked=self._revoking
        )
        tail = self.log.consumer([self.published_topic], group=None) if self.known else None
        if tail is not None:
            for tp, offset in (self.published_from or {}).items():
                if tp in tail.assignment():
                    tail.seek(tp, offset)
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    settled = self._step(consumer, tail)
                    # Commit only with a settled assignment, and never retry at once: a
                    # commit attempted during a join is refused, and the client then rejoins;
                    # retried at every step it kept a rebalance from ever completing (seen on
                    # Kafka when a poller died: the survivor never got its partitions).
                    if settled and time.monotonic() - last_commit >= self.commit_every_s:
                        last_commit = time.monotonic()
                        consumer.commit()
                except EventLogError as exc:  # rebalance or transport trouble: try again
                    log.warning("poller ownership: %s", exc)
                    self._stop.wait(self.poll_interval_s)
        finally:
            self._owned = self._assigned = frozenset()
            try:
                consumer.close()
            finally:
                if tail is not None:
                    tail.close()

    def _step(self, consumer: Consumer, tail: Consumer | None) -> bool:
        """One round; True when the assignment is the same as the round before (settled)."""
        for record in consumer.poll(max_records=1000, timeout_s=self.poll_interval_s):
            if self.health is not None:
                self.health.apply(record)
        assigned = frozenset(tp.partition for tp in consumer.assignment())
        settled = assigned == self._assigned and bool(assigned)
        gained = assigned - self._assigned
        if gained:
            ends = self.log.end_offsets([self.polled_topic])
            for partition in gained:
                self._catching_up[partition] = ends.get(
                    TopicPartition(self.polled_topic, partition), 0
                )
        self._assigned = assigned
        for partition, end in list(self._catching_up.items()):
            tp = TopicPartition(self.polled_topic, partition)
            if partition not in assigned or consumer.position(tp) >= end:
                del self._catching_up[partition]
        owned = assigned - self._catching_up.keys()
        if owned != self._owned:
            log.info("poller owns sources.polled partitions %s", sorted(owned))
            if owned - self._owned:
                self._gained.append(owned - self._owned)
        self._owned = owned
        self.ready.set()
        if owned:
            self.assigned.set()
        if tail is not None and self.known is not None:
            for record in tail.poll(max_records=5000, timeout_s=0):
                self.known.apply(record)
        return settled
