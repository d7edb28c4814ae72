"""Two pollers on one log split the sources through the group on sources.polled, and the
survivor takes over a stopped poller's sources (SQLite's DB-coordinated groups)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from waiting import wait_until

from services.eventlog import open_log
from services.poller.assignment import PartitionOwnership
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings

_wait = partial(wait_until, timeout_s=15.0)


def test_two_pollers_split_sources_and_one_takes_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    opts = {"session_timeout_ms": 1500, "heartbeat_interval_ms": 100}
    log_a, log_b = open_log(url, **opts), open_log(url, **opts)
    log_a.create_topics(tocsin_topics(Settings()))
    a = PartitionOwnership(log_a, "sources.polled", "articles.published", poll_interval_s=0.05)
    b = PartitionOwnership(log_b, "sources.polled", "articles.published", poll_interval_s=0.05)
    ids = [f"source-{i}" for i in range(60)]
    try:
        a.start()
        _wait(lambda: len(a.owned_partitions) == 3)
        b.start()
        _wait(
            lambda: (
                a.owned_partitions.isdisjoint(b.owned_partitions)
                and len(a.owned_partitions | b.owned_partitions) == 3
                and bool(b.owned_partitions)
            )
        )
        owners = [(a.owns(i), b.owns(i)) for i in ids]
        assert all(x != y for x, y in owners)  # each source polled by exactly one poller
        assert any(x for x, _ in owners) and any(y for _, y in owners)
        b.stop()  # leaves the group (a crash would expire after the session timeout)
        _wait(lambda: len(a.owned_partitions) == 3)
        assert all(a.owns(i) for i in ids)
    finally:
        a.stop()
        b.stop()
        log_a.close()
        log_b.close()
