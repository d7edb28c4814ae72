"""Pulled channels: the ``atom`` and ``sse`` subscriptions, which the API serves itself
(``GET /subscriptions/{id}/feed.atom`` and ``GET /subscriptions/{id}/stream``); the notifier
sends nothing for them.

A subscription is looked up in the config file first (``subscriptions:``, as the notifier
does: the file is its source) and then among those made through the API (the read model's
``subscriptions`` table, folded from ``subscription.*`` events). Definitions are validated
with the shared model (``services.alerting``) but their ``${ENV}`` references are *not*
expanded: the API never needs a channel's secret. Any subscription can be read as a feed
or a stream (for a webhook subscription it is a view of what was sent); for ``atom`` and
``sse`` ones it is the delivery itself. Digest mode and quiet hours do not apply: a reader
pulls when it likes.

Matching is ``services.alerting.matches`` over ``AlertFacts`` built from the read-model row,
so the feed shows exactly the alerts the notifier would have pushed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import Severity
from services.alerting import (
    AlertFacts,
    Subscription,
    SubscriptionError,
    entities_of_conditions,
    matches,
    parse_subscription,
)
from services.projections import queries

log = logging.getLogger(__name__)

#: alert rows a feed request looks at, at most, to find its entries (newest first)
SCAN_LIMIT = 20_000
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Found:
    subscription: Subscription
    origin: str  # "config" or "api"


class UnusableSubscription(ValueError):
    """The stored definition does not validate (the notifier refuses it too)."""


def configured(raw: Sequence[Mapping[str, Any]]) -> dict[str, Subscription]:
    """The config file's subscriptions that validate; the others are the notifier's to
    refuse (it will not start with them), here they are only skipped with a warning."""
    found: dict[str, Subscription] = {}
    for index, item in enumerate(raw):
        try:
            sub = parse_subscription(item, f"subscriptions[{index}]")
        except SubscriptionError as exc:
            log.warning("api: config subscription skipped: %s", exc)
            continue
        found.setdefault(sub.id, sub)
    return found


def find(conn: sqlite3.Connection, config: Mapping[str, Subscription], ident: str) -> Found | None:
    if ident in config:
        return Found(config[ident], "config")
    row = queries.get_subscription(conn, ident)
    if row is None or row["deleted"]:
        return None
    definition = dict(row["definition"])
    definition.setdefault("id", ident)
    try:
        return Found(parse_subscription(definition, f"subscription {ident}"), "api")
    except SubscriptionError as exc:
        raise UnusableSubscription(str(exc)) from None


def facts(row: sqlite3.Row) -> AlertFacts:
    evidence = json.loads(row["evidence"])
    return AlertFacts(
        rule_id=row["rule_id"],
        severity=Severity(row["severity"]),
        labels=json.loads(row["labels"]),
        entities=entities_of_conditions(str(e.get("condition", "")) for e in evidence),
        last_seen=queries.from_ms(row["last_seen_ms"]),
    )


def matching_alerts(
    conn: sqlite3.Connection, sub: Subscription, *, limit: int, scan_limit: int = SCAN_LIMIT
) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts (by time raised) the subscription matches, looking at no
    more than ``scan_limit`` candidates. The rule and severity criteria are indexed SQL
    filters; labels, countries and entities are checked by ``matches`` on each row."""
    where: list[str] = []
    args: list[Any] = []
    if sub.match.rules:
        where.append(f"rule_id IN ({','.join('?' * len(sub.match.rules))})")
        args.extend(sub.match.rules)
    if sub.match.min_severity.rank > 0:
        where.append("severity_rank >= ?")
        args.append(sub.match.min_severity.rank)
    out: list[dict[str, Any]] = []
    scanned = 0
    after: tuple[int, str] | None = None
    while len(out) < limit and scanned < scan_limit:
        page_where = list(where)
        page_args = list(args)
        if after is not None:
            page_where.append("(raised_ms, alert_id) < (?, ?)")
            page_args.extend(after)
        rows = conn.execute(
            "SELECT alert_id, rule_id, severity, title, description, labels, evidence, articles,"
            " sources, status, revision, raised_ms, updated_ms, last_seen_ms FROM alerts"
            + (" WHERE " + " AND ".join(page_where) if page_where else "")
            + " ORDER BY raised_ms DESC, alert_id DESC LIMIT ?",
            (*page_args, min(_BATCH, scan_limit - scanned)),
        ).fetchall()
        if not rows:
            break
        scanned += len(rows)
        after = (rows[-1]["raised_ms"], rows[-1]["alert_id"])
        for row in rows:
            if matches(sub, facts(row), queries.from_ms(row["updated_ms"])):
                out.append(_entry(row))
                if len(out) == limit:
                    break
    return out


def _entry(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "alert_id": row["alert_id"],
        "rule_id": row["rule_id"],
        "severity": row["severity"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "revision": row["revision"],
        "sources": json.loads(row["sources"]),
        "articles": json.loads(row["articles"]),
        "raised_ms": row["raised_ms"],
        "updated_ms": row["updated_ms"],
    }
