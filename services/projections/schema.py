"""The read-model database: tables folded from the log, apart from the log itself.

Every table is keyed by something the events carry (article id, alert id, event id...),
so applying an event twice changes nothing, and the result does not depend on the order
in which the projection happens to read the topics' partitions. Times are integer
milliseconds since the epoch (UTC): cheap to index, to range over and to bucket.

``tracking`` holds, per topic partition, the next offset to apply: it is written in the
same transaction as the rows, so the read model knows exactly how far it got even when
the log's committed offsets for the group say otherwise (a deleted read model, a crash
between the two commits).
"""

from __future__ import annotations

SCHEMA_VERSION = "1"
#: Columns added to a table after its first release, added in place to an older read model
#: when it is opened (their default is right for the rows it already holds), so such a
#: change needs no rebuild: (table, column, definition).
ADDED_COLUMNS = (("source_polls", "polls", "INTEGER NOT NULL DEFAULT 1"),)

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tracking (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    url TEXT,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    text TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    fetched_ms INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    language_hint TEXT,
    language TEXT,
    enricher_version TEXT,
    enriched_ms INTEGER,
    enriched_fetched_ms INTEGER,
    analysed_text TEXT,
    countries TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    entities TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_ms);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source_id, published_ms);
CREATE INDEX IF NOT EXISTS articles_language ON articles (language, published_ms);
CREATE INDEX IF NOT EXISTS articles_fetched ON articles (fetched_ms);
CREATE INDEX IF NOT EXISTS articles_enriched ON articles (enriched_ms);

CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    title, text, content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

CREATE TABLE IF NOT EXISTS article_tags (
    tag TEXT NOT NULL, published_ms INTEGER NOT NULL, article_id TEXT NOT NULL,
    PRIMARY KEY (tag, published_ms, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_tags_article ON article_tags (article_id);
CREATE TABLE IF NOT EXISTS article_countries (
    country TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (article_id, country)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entity_mentions (
    entity_id TEXT NOT NULL, published_ms INTEGER NOT NULL, article_id TEXT NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, mentions INTEGER NOT NULL,
    PRIMARY KEY (entity_id, published_ms, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_mentions_article ON entity_mentions (article_id);
CREATE INDEX IF NOT EXISTS entity_mentions_time ON entity_mentions (published_ms);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    key TEXT NOT NULL,
    labels TEXT NOT NULL,
    articles TEXT NOT NULL,
    evidence TEXT NOT NULL,
    sources TEXT NOT NULL,
    source_count INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    raised_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    assignee TEXT,
    acknowledged_by TEXT,
    resolved_by TEXT,
    reopened INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_raised ON alerts (raised_ms, alert_id);
-- The list's filters: each index ends in the list's order (raised_ms, alert_id), so a page
-- stops after its rows with no sort, and carries the other filter columns, so rows that do
-- not match are skipped in the index without reading the table. Older files had narrower
-- indexes under the names dropped here: opening one upgrades it (the rows are the same).
DROP INDEX IF EXISTS alerts_rule;
DROP INDEX IF EXISTS alerts_severity;
DROP INDEX IF EXISTS alerts_status;
CREATE INDEX IF NOT EXISTS alerts_by_rule
    ON alerts (rule_id, raised_ms, alert_id, severity_rank, status);
CREATE INDEX IF NOT EXISTS alerts_by_rule_status
    ON alerts (rule_id, status, raised_ms, alert_id, severity_rank);
CREATE INDEX IF NOT EXISTS alerts_by_severity
    ON alerts (severity_rank, raised_ms, alert_id, status);
CREATE INDEX IF NOT EXISTS alerts_by_status
    ON alerts (status, raised_ms, alert_id, severity_rank);
CREATE TABLE IF NOT EXISTS alert_articles (
    alert_id TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (alert_id, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_articles_article ON alert_articles (article_id);
CREATE TABLE IF NOT EXISTS alert_countries (
    country TEXT NOT NULL, raised_ms INTEGER NOT NULL, alert_id TEXT NOT NULL,
    PRIMARY KEY (country, raised_ms, alert_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_countries_alert ON alert_countries (alert_id);
CREATE TABLE IF NOT EXISTS alert_events (
    event_id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    detail TEXT NOT NULL DEFAULT '',
    revision INTEGER
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id, at_ms);
CREATE INDEX IF NOT EXISTS alert_events_time ON alert_events (kind, at_ms);

CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    alert_revision INTEGER NOT NULL,
    subscription_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    ok INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries (at_ms);
CREATE INDEX IF NOT EXISTS deliveries_alert ON deliveries (alert_id);

CREATE TABLE IF NOT EXISTS source_polls (
    event_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    polled_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    http_status INTEGER,
    latency_ms REAL NOT NULL,
    new_articles INTEGER NOT NULL,
    error_class TEXT,
    error_message TEXT,
    polls INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS source_polls_source ON source_polls (source_id, polled_ms);
CREATE INDEX IF NOT EXISTS source_polls_time ON source_polls (polled_ms);
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    last_poll_ms INTEGER NOT NULL,
    last_status TEXT NOT NULL,
    last_http_status INTEGER,
    last_ok_ms INTEGER,
    last_new_ms INTEGER,
    last_error TEXT,
    last_error_ms INTEGER
);
-- a source's WebSub subscription as its last change left it (source.subscription)
CREATE TABLE IF NOT EXISTS source_push (
    source_id TEXT PRIMARY KEY,
    hub TEXT NOT NULL,
    topic TEXT NOT NULL,
    state TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    problem TEXT,
    event_id TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS rulesets (
    ruleset_version TEXT PRIMARY KEY, activated_ms INTEGER NOT NULL,
    files TEXT NOT NULL, rule_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    rule_id TEXT NOT NULL, ruleset_version TEXT NOT NULL, version TEXT NOT NULL,
    title TEXT NOT NULL, origin TEXT NOT NULL, PRIMARY KEY (ruleset_version, rule_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    created_by TEXT,
    created_ms INTEGER,
    updated_by TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_event_id TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS deadletters (
    event_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    grp TEXT,
    error_class TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deadletters_time ON deadletters (failed_ms);
"""

#: The view tables, in a stable order (tests compare them; rebuild reports on them).
VIEW_TABLES: tuple[str, ...] = (
    "articles",
    "article_tags",
    "article_countries",
    "entity_mentions",
    "alerts",
    "alert_articles",
    "alert_countries",
    "alert_events",
    "deliveries",
    "source_polls",
    "sources",
    "source_push",
    "rulesets",
    "rules",
    "subscriptions",
    "deadletters",
)
