"""Partition assignment for consumer groups on the embedded backends.

Every member computes the same assignment from the same membership (sorted member ids,
range assignment per topic, as Kafka's RangeAssignor does), so no coordinator process is
needed: the shared database is the coordinator. A member takes a partition only when no
live member holds it, and gives up those no longer its own at its next heartbeat, so a
partition never has two owners (see ``services.eventlog.sqlite``).
"""

from __future__ import annotations

from collections.abc import Mapping

from services.eventlog.base import TopicPartition


def range_assign(
    members: Mapping[str, frozenset[str]], partitions: Mapping[str, int]
) -> dict[str, frozenset[TopicPartition]]:
    """member id -> the partitions it should own. ``members`` maps each member to its topics."""
    result: dict[str, set[TopicPartition]] = {m: set() for m in members}
    for topic, count in sorted(partitions.items()):
        subscribed = sorted(m for m, topics in members.items() if topic in topics)
        if not subscribed:
            continue
        per, extra = divmod(count, len(subscribed))
        start = 0
        for i, member in enumerate(subscribed):
            n = per + (1 if i < extra else 0)
            result[member].update(TopicPartition(topic, p) for p in range(start, start + n))
            start += n
    return {m: frozenset(tps) for m, tps in result.items()}
