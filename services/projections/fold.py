"""How each event type changes the read model: one function per type, SQL only, no I/O
beyond the connection it is given.

Why the functions look the way they do: the projection reads many topics and partitions,
and nothing orders a record of one against a record of another (an ``alert.acknowledged``
can be read before the ``alert.raised`` it is about, an enrichment before its article). So
every change is keyed (applying it twice is a no-op) and every derived value (an alert's
status, a source's health, an alert's countries) is recomputed from the stored facts, not
incremented: the result depends on the set of events applied, never on their order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertDelivered,
    AlertDeliveryFailed,
    AlertRaised,
    AlertReopened,
    AlertResolved,
    ArticleEnriched,
    ArticlePublished,
    CloudEvent,
    DeadLetter,
    RulesetActivated,
    SourcePolled,
    SourceSubscription,
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionUpdated,
)
from services.runtime.redact import shown_url

Fold = Callable[[sqlite3.Connection, CloudEvent], None]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --------------------------------------------------------------------------- articles


def _upsert_article(conn: sqlite3.Connection, a: ArticlePublished) -> bool:
    """Insert the article, or replace its content when this version is newer
    (fetched later; same fetch: the larger content hash, so any order gives one answer)."""
    body = a.text or a.summary
    cur = conn.execute(
        """
        INSERT INTO articles (article_id, source_id, url, title, summary, text, published_ms,
                              fetched_ms, content_hash, language_hint)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (article_id) DO UPDATE SET
            source_id = excluded.source_id, url = excluded.url, title = excluded.title,
            summary = excluded.summary, text = excluded.text,
            published_ms = excluded.published_ms, fetched_ms = excluded.fetched_ms,
            content_hash = excluded.content_hash, language_hint = excluded.language_hint
        WHERE (excluded.fetched_ms, excluded.content_hash) > (articles.fetched_ms, articles.content_hash)
        """,
        (
            a.article_id,
            a.source_id,
            a.url,
            a.title,
            a.summary,
            body,
            ms(a.published_at),
            ms(a.fetched_at),
            a.content_hash,
            a.language_hint,
        ),
    )
    return cur.rowcount > 0


def article_published(conn: sqlite3.Connection, event: CloudEvent) -> None:
    data: ArticlePublished = event.data
    if _upsert_article(conn, data):
        _reindex_article(conn, data.article_id)


def article_enriched(conn: sqlite3.Connection, event: CloudEvent) -> None:
    data: ArticleEnriched = event.data
    changed = _upsert_article(conn, data.article)
    entities = [
        {
            "id": e.id,
            "kind": e.kind,
            "name": e.name,
            "countries": list(e.countries),
            "mentions": len(e.mentions),
        }
        for e in data.entities
    ]
    cur = conn.execute(
        """
        UPDATE articles SET language = ?, enricher_version = ?, enriched_ms = ?,
               enriched_fetched_ms = ?, analysed_text = ?, countries = ?, tags = ?, entities = ?
        WHERE article_id = ? AND (enriched_fetched_ms IS NULL
               OR (?, ?) > (enriched_fetched_ms, enricher_version))
        """,
        (
            data.language.code,
            data.enricher_version,
            ms(event.time),
            ms(data.article.fetched_at),
            data.analysed_text,
            _json(sorted(set(data.countries))),
            _json(sorted({t.id for t in data.tags})),
            _json(entities),
            data.article.article_id,
            ms(data.article.fetched_at),
            data.enricher_version,
        ),
    )
    if changed or cur.rowcount:
        _reindex_article(conn, data.article.article_id)


def _reindex_article(conn: sqlite3.Connection, article_id: str) -> None:
    """Re-derive the article's tag, country and entity rows from its row."""
    row = conn.execute(
        "SELECT published_ms, countries, tags, entities FROM articles WHERE article_id = ?",
        (article_id,),
    ).fetchone()
    conn.execute("DELETE FROM article_tags WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM article_countries WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM entity_mentions WHERE article_id = ?", (article_id,))
    published, countries, tags, entities = row
    conn.executemany(
        "INSERT INTO article_tags (tag, published_ms, article_id) VALUES (?, ?, ?)",
        [(t, published, article_id) for t in json.loads(tags)],
    )
    conn.executemany(
        "INSERT INTO article_countries (country, article_id) VALUES (?, ?)",
        [(c, article_id) for c in json.loads(countries)],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO entity_mentions (entity_id, published_ms, article_id, kind, name, mentions)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (e["id"], published, article_id, e["kind"], e["name"], max(1, e["mentions"]))
            for e in json.loads(entities)
        ],
    )
    for (alert_id,) in conn.execute(
        "SELECT alert_id FROM alert_articles WHERE article_id = ?", (article_id,)
    ).fetchall():
        _recount_alert_countries(conn, alert_id)


# --------------------------------------------------------------------------- alerts


def alert_raised(conn: sqlite3.Connection, event: CloudEvent) -> None:
    a: AlertRaised = event.data
    at = ms(event.time)
    conn.execute(
        "INSERT OR IGNORE INTO alert_events (event_id, alert_id, at_ms, kind, revision)"
        " VALUES (?, ?, ?, 'raised', ?)",
        (event.id, a.alert_id, at, a.revision),
    )
    sources = sorted({art.source_id for art in a.articles})
    cur = conn.execute(
        """
        INSERT INTO alerts (alert_id, rule_id, rule_version, ruleset_version, severity,
            severity_rank, title, description, key, labels, articles, evidence, sources,
            source_count, revision, first_seen_ms, last_seen_ms, raised_ms, updated_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (alert_id) DO UPDATE SET
            rule_id = excluded.rule_id, rule_version = excluded.rule_version,
            ruleset_version = excluded.ruleset_version, severity = excluded.severity,
            severity_rank = excluded.severity_rank, title = excluded.title,
            description = excluded.description, key = excluded.key, labels = excluded.labels,
            articles = excluded.articles, evidence = excluded.evidence,
            sources = excluded.sources, source_count = excluded.source_count,
            revision = excluded.revision, first_seen_ms = excluded.first_seen_ms,
            last_seen_ms = excluded.last_seen_ms
        WHERE excluded.revision > alerts.revision
        """,
        (
            a.alert_id,
            a.rule_id,
            a.rule_version,
            a.ruleset_version,
            a.severity.value,
            a.severity.rank,
            a.title,
            a.description,
            a.key,
            _json(a.labels),
            _json([art.model_dump(mode="json") for art in a.articles]),
            _json([e.model_dump(mode="json") for e in a.evidence]),
            _json(sources),
            a.source_count,
            a.revision,
            ms(a.first_seen),
            ms(a.last_seen),
            at,
            at,
        ),
    )
    if cur.rowcount:
        conn.execute("DELETE FROM alert_articles WHERE alert_id = ?", (a.alert_id,))
        conn.executemany(
            "INSERT OR IGNORE INTO alert_articles (alert_id, article_id) VALUES (?, ?)",
            [(a.alert_id, art.article_id) for art in a.articles],
        )
    refold_alert(conn, a.alert_id)


def _lifecycle(kind: str, detail: Callable[[Any], str]) -> Fold:
    def fold(conn: sqlite3.Connection, event: CloudEvent) -> None:
        data = event.data
        conn.execute(
            "INSERT OR IGNORE INTO alert_events (event_id, alert_id, at_ms, kind, actor, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (event.id, data.alert_id, ms(data.at), kind, data.by, detail(data)),
        )
        refold_alert(conn, data.alert_id)

    fold.__doc__ = f"Record an alert {kind} event and recompute the alert's status."
    return fold


def refold_alert(conn: sqlite3.Connection, alert_id: str) -> None:
    """An alert's status, assignee and who did what: a fold of its stored events in time
    order (the raise's time, a lifecycle event's ``at``), as services/notifier/lifecycle.py
    documents it. A new revision of a resolved alert reopens it."""
    if conn.execute("SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone() is None:
        return  # lifecycle events that came before their alert wait for it
    status, assignee, acked, resolved, reopened = "open", None, None, None, 0
    revision, raised_ms, updated_ms = -1, None, 0
    for kind, actor, detail, rev, at in conn.execute(
        "SELECT kind, actor, detail, revision, at_ms FROM alert_events WHERE alert_id = ?"
        " ORDER BY at_ms, event_id",
        (alert_id,),
    ):
        if kind == "raised":
            raised_ms = at if raised_ms is None else raised_ms
            if rev > revision:
                if revision >= 0 and status == "resolved":
                    status, reopened = "open", reopened + 1
                revision = rev
            updated_ms = max(updated_ms, at)
            continue
        if revision < 0:
            continue  # before the alert existed: the notifier's fold skips these too
        updated_ms = max(updated_ms, at)
        if kind == "acknowledged":
            status = "acknowledged" if status == "open" else status
            acked = actor
        elif kind == "assigned":
            assignee = detail
        elif kind == "resolved":
            status, resolved = "resolved", actor
        elif kind == "reopened":
            reopened += 1 if status == "resolved" else 0
            status = "open"
    conn.execute(
        "UPDATE alerts SET status = ?, assignee = ?, acknowledged_by = ?, resolved_by = ?,"
        " reopened = ?, raised_ms = ?, updated_ms = ? WHERE alert_id = ?",
        (status, assignee, acked, resolved, reopened, raised_ms, updated_ms, alert_id),
    )
    _recount_alert_countries(conn, alert_id)


def _recount_alert_countries(conn: sqlite3.Connection, alert_id: str) -> None:
    conn.execute("DELETE FROM alert_countries WHERE alert_id = ?", (alert_id,))
    conn.execute(
        """
        INSERT OR IGNORE INTO alert_countries (country, raised_ms, alert_id)
        SELECT DISTINCT ac.country, al.raised_ms, al.alert_id
        FROM alerts al JOIN alert_articles aa ON aa.alert_id = al.alert_id
        JOIN article_countries ac ON ac.article_id = aa.article_id
        WHERE al.alert_id = ?
        """,
        (alert_id,),
    )


def alert_delivered(conn: sqlite3.Connection, event: CloudEvent) -> None:
    d: AlertDelivered = event.data
    conn.execute(
        "INSERT OR IGNORE INTO deliveries (event_id, delivery_id, alert_id, alert_revision,"
        " subscription_id, channel, ok, attempts, at_ms, status_code, error)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL)",
        (
            event.id,
            d.delivery_id,
            d.alert_id,
            d.alert_revision,
            d.subscription_id,
            d.channel,
            d.attempts,
            ms(d.delivered_at),
            d.status_code,
        ),
    )


def alert_delivery_failed(conn: sqlite3.Connection, event: CloudEvent) -> None:
    d: AlertDeliveryFailed = event.data
    conn.execute(
        "INSERT OR IGNORE INTO deliveries (event_id, delivery_id, alert_id, alert_revision,"
        " subscription_id, channel, ok, attempts, at_ms, status_code, error)"
        " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
        (
            event.id,
            d.delivery_id,
            d.alert_id,
            d.alert_revision,
            d.subscription_id,
            d.channel,
            d.attempts,
            ms(d.failed_at),
            d.status_code,
            d.error,
        ),
    )


# --------------------------------------------------------------------------- sources


def source_polled(conn: sqlite3.Connection, event: CloudEvent) -> None:
    p: SourcePolled = event.data
    # Older pollers recorded the URL as configured, credentials included: shown without.
    url = shown_url(p.url)
    error = p.error_message.replace(p.url, url) if p.error_message else None
    cur = conn.execute(
        "INSERT OR IGNORE INTO source_polls (event_id, source_id, url, polled_ms, status,"
        " http_status, latency_ms, new_articles, error_class, error_message, polls)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            p.source_id,
            url,
            ms(p.polled_at),
            p.status.value,
            p.http_status,
            p.latency_ms,
            p.new_articles,
            p.error_class,
            error,
            p.polls,
        ),
    )
    if cur.rowcount:
        _refold_source(conn, p.source_id)


def _refold_source(conn: sqlite3.Connection, source_id: str) -> None:
    url, last_ms, status, http = conn.execute(
        "SELECT url, polled_ms, status, http_status FROM source_polls WHERE source_id = ?"
        " ORDER BY polled_ms DESC, event_id DESC LIMIT 1",
        (source_id,),
    ).fetchone()
    ok_ms, new_ms = conn.execute(
        "SELECT max(CASE WHEN status IN ('ok', 'not_modified') THEN polled_ms END),"
        " max(CASE WHEN new_articles > 0 THEN polled_ms END) FROM source_polls WHERE source_id = ?",
        (source_id,),
    ).fetchone()
    error = conn.execute(
        "SELECT coalesce(error_class || ': ', '') || coalesce(error_message, ''), polled_ms"
        " FROM source_polls WHERE source_id = ? AND status = 'error'"
        " ORDER BY polled_ms DESC, event_id DESC LIMIT 1",
        (source_id,),
    ).fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO sources (source_id, url, last_poll_ms, last_status,"
        " last_http_status, last_ok_ms, last_new_ms, last_error, last_error_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            source_id,
            url,
            last_ms,
            status,
            http,
            ok_ms,
            new_ms,
            error[0] if error else None,
            error[1] if error else None,
        ),
    )


def source_subscription(conn: sqlite3.Connection, event: CloudEvent) -> None:
    """The latest change wins, by its time then its id: any order of reading, one answer."""
    s: SourceSubscription = event.data
    conn.execute(
        """
        INSERT INTO source_push (source_id, hub, topic, state, at_ms, expires_ms, problem,
                                 event_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source_id) DO UPDATE SET
            hub = excluded.hub, topic = excluded.topic, state = excluded.state,
            at_ms = excluded.at_ms, expires_ms = excluded.expires_ms,
            problem = excluded.problem, event_id = excluded.event_id
        WHERE (excluded.at_ms, excluded.event_id) > (source_push.at_ms, source_push.event_id)
        """,
        (
            s.source_id,
            s.hub,
            s.topic,
            s.state.value,
            ms(s.at),
            None if s.expires_at is None else ms(s.expires_at),
            s.problem,
            event.id,
        ),
    )


# --------------------------------------------------------------------------- the rest


def ruleset_activated(conn: sqlite3.Connection, event: CloudEvent) -> None:
    r: RulesetActivated = event.data
    conn.execute(
        "INSERT OR IGNORE INTO rulesets (ruleset_version, activated_ms, files, rule_count)"
        " VALUES (?, ?, ?, ?)",
        (r.ruleset_version, ms(r.activated_at), _json(list(r.files)), len(r.rules)),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO rules (rule_id, ruleset_version, version, title, origin)"
        " VALUES (?, ?, ?, ?, ?)",
        [(rule.id, r.ruleset_version, rule.version, rule.title, rule.origin) for rule in r.rules],
    )


def subscription_changed(conn: sqlite3.Connection, event: CloudEvent) -> None:
    """Last writer wins, by (time, event id): deterministic whatever the reading order."""
    s: SubscriptionCreated | SubscriptionUpdated | SubscriptionDeleted = event.data
    at = ms(s.at)
    deleted = isinstance(s, SubscriptionDeleted)
    definition = None if deleted else _json(s.definition)  # type: ignore[union-attr]
    conn.execute(
        """
        INSERT INTO subscriptions (subscription_id, definition, deleted, updated_by, updated_ms,
                                   last_event_id)
        VALUES (?, coalesce(?, '{}'), ?, ?, ?, ?)
        ON CONFLICT (subscription_id) DO UPDATE SET
            definition = coalesce(?, subscriptions.definition), deleted = excluded.deleted,
            updated_by = excluded.updated_by, updated_ms = excluded.updated_ms,
            last_event_id = excluded.last_event_id
        WHERE (excluded.updated_ms, excluded.last_event_id)
              > (subscriptions.updated_ms, subscriptions.last_event_id)
        """,
        (s.subscription_id, definition, int(deleted), s.by, at, event.id, definition),
    )
    if isinstance(s, SubscriptionCreated):
        conn.execute(
            "UPDATE subscriptions SET created_by = ?, created_ms = ?"
            " WHERE subscription_id = ? AND (created_ms IS NULL OR created_ms > ?)",
            (s.by, at, s.subscription_id, at),
        )


def dead_letter(conn: sqlite3.Connection, event: CloudEvent) -> None:
    d: DeadLetter = event.data
    conn.execute(
        'INSERT OR IGNORE INTO deadletters (event_id, topic, partition, "offset", grp,'
        " error_class, reason, failed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            d.topic,
            d.partition,
            d.offset,
            d.group,
            d.error_class,
            d.reason,
            ms(d.failed_at),
        ),
    )


#: payload class -> its fold. An event type missing here is ignored (and counted).
FOLDS: dict[type[Any], Fold] = {
    ArticlePublished: article_published,
    ArticleEnriched: article_enriched,
    AlertRaised: alert_raised,
    AlertAcknowledged: _lifecycle("acknowledged", lambda d: d.note),
    AlertAssigned: _lifecycle("assigned", lambda d: d.assignee),
    AlertCommented: _lifecycle("commented", lambda d: d.comment),
    AlertResolved: _lifecycle("resolved", lambda d: d.resolution),
    AlertReopened: _lifecycle("reopened", lambda d: d.reason),
    AlertDelivered: alert_delivered,
    AlertDeliveryFailed: alert_delivery_failed,
    SourcePolled: source_polled,
    SourceSubscription: source_subscription,
    RulesetActivated: ruleset_activated,
    SubscriptionCreated: subscription_changed,
    SubscriptionUpdated: subscription_changed,
    SubscriptionDeleted: subscription_changed,
    DeadLetter: dead_letter,
}
