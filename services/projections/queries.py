"""Reading the read model: the queries the API and the dashboard serve, as plain dicts.

Lists are newest first with keyset pagination: a page returns ``next_cursor``, an opaque
token holding the sort key of its last row, and the next request continues strictly after
it (stable under concurrent inserts, and as fast on page 1000 as on page 1). Every filter
is a bound parameter; user text reaches FTS5 only as quoted phrases (``fts_query``).
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.eventlog import TopicPartition
from services.text.inflection import inflected_prefixes

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
STATUSES = ("open", "acknowledged", "resolved")
SEVERITIES = ("low", "medium", "high", "critical")


class BadCursor(ValueError):
    """A pagination cursor this code did not make."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def from_ms(value: int | None) -> datetime | None:
    """A stored moment (integer milliseconds) as a UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def iso(value: int | None) -> str | None:
    moment = from_ms(value)
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def to_ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def encode_cursor(*parts: int | float | str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor: not a cursor from this API") from exc
    if (
        not isinstance(parts, list)
        or len(parts) != len(kinds)
        or not all(type(p) is k for p, k in zip(parts, kinds, strict=True))
    ):
        raise BadCursor("cursor: not a cursor for this list")
    return parts


def fts_query(text: str) -> str | None:
    """User text as an FTS5 query: every word a quoted phrase (all must match), with its
    inflected forms as a rule's term has them: "Армения" finds "Армении" and "Арменией",
    "Հայաստան" finds "Հայաստանի", "აფხაზეთი" finds "აფხაზეთში" (the start the forms share,
    ``inflected_prefixes``, searched as a prefix; "საზღვარი" finds "საზღვრის" through its
    syncopated start, either prefix matching). A leading ``=`` searches the word alone; a
    trailing ``*`` is a prefix search. Operators and syntax in the text are searched, not
    obeyed. A NUL separates words: FTS5 reads it as the end of the query ("unterminated
    string", a 500 for ``?q=%00``); it is the only character that does (every one up to
    U+3000, the surrogate edges and U+10FFFF tried)."""
    terms = []
    for raw in text.replace("\x00", " ").split():
        word = raw.rstrip("*")
        prefix = raw != word
        if word.startswith("=") and not prefix:
            word = word[1:]
        elif not prefix and (starts := inflected_prefixes(word)):
            alternatives = [_phrase(start) + "*" for start in starts]
            terms.append(
                alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
            )
            continue
        if word:
            terms.append(_phrase(word) + ("*" if prefix else ""))
    return " ".join(terms) or None


def _phrase(word: str) -> str:
    """A word as an FTS5 string: whatever it holds is searched, never obeyed."""
    return '"' + word.replace('"', '""') + '"'


# --------------------------------------------------------------------------- alerts


def iso_sql(column: str) -> str:
    """SQL rendering ``column`` (integer ms) exactly as ``iso`` does: whole seconds as
    ``...:SSZ``, others with six fraction digits (``...:SS.123000Z``); floor division, so
    times before 1970 agree too."""
    frac = f"(({column} % 1000) + 1000) % 1000"
    return (
        f"strftime('%Y-%m-%dT%H:%M:%S', ({column} - {frac}) / 1000, 'unixepoch')"
        f" || CASE WHEN {frac} THEN printf('.%03d000', {frac}) ELSE '' END || 'Z'"
    )


#: One alert as a JSON object, built by SQLite: the list endpoint joins these texts into
#: its response as they are, so no row becomes a Python dict (that, not the query, was
#: most of a page's cost). ``list_alerts`` and ``get_alert`` parse the same text: one shape.
_ALERT_JSON = (
    "json_object('alert_id', a.alert_id, 'rule_id', a.rule_id, 'rule_version', a.rule_version,"
    " 'severity', a.severity, 'title', a.title, 'status', a.status, 'assignee', a.assignee,"
    " 'revision', a.revision, 'source_count', a.source_count, 'sources', json(a.sources),"
    " 'countries', json((SELECT json_group_array(country) FROM"
    "   (SELECT DISTINCT country FROM alert_countries c WHERE c.alert_id = a.alert_id"
    "    ORDER BY country))),"
    " 'labels', json(a.labels),"
    f" 'raised_at', {iso_sql('a.raised_ms')}, 'updated_at', {iso_sql('a.updated_ms')},"
    f" 'first_seen', {iso_sql('a.first_seen_ms')}, 'last_seen', {iso_sql('a.last_seen_ms')})"
)


#: A page comes back from SQLite as ONE row (its objects joined by newlines, which minified
#: JSON never holds raw), not a row per alert: Python's sqlite3 releases and retakes the GIL
#: at every row, and under load each retake waits behind the event loop's thread (measured:
#: half the throughput with 51 rows a page). The aggregate reads its subquery in the
#: subquery's order; SQLite >= 3.44 can also say so explicitly, so it does where it can.
_PAGE_ORDER = " ORDER BY r DESC, i DESC" if sqlite3.sqlite_version_info >= (3, 44, 0) else ""


@dataclass(frozen=True, slots=True)
class JsonPage:
    """A page whose items are JSON texts (objects), ready to be joined into a body."""

    items: list[str]
    next_cursor: str | None


def list_alerts_json(
    conn: sqlite3.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    rules: Sequence[str] = (),
    min_severity: str | None = None,
    severities: Sequence[str] = (),
    statuses: Sequence[str] = (),
    country: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> JsonPage:
    """Alerts by time raised, newest first, each as the JSON text SQLite built."""
    where: list[str] = []
    args: list[Any] = []
    # With a country, walk that country's index (already in time order) and join.
    source = "alerts a"
    key = "a"
    if country:
        source = "alert_countries k JOIN alerts a ON a.alert_id = k.alert_id"
        key = "k"
        where.append("k.country = ?")
        args.append(country.upper())
    if since is not None:
        where.append(f"{key}.raised_ms >= ?")
        args.append(to_ms(since))
    if until is not None:
        where.append(f"{key}.raised_ms < ?")
        args.append(to_ms(until))
    if rules:
        where.append(f"a.rule_id IN ({','.join('?' * len(rules))})")
        args.extend(rules)
    if min_severity:
        where.append("a.severity_rank >= ?")
        args.append(SEVERITIES.index(min_severity))
    if severities:
        where.append(f"a.severity IN ({','.join('?' * len(severities))})")
        args.extend(severities)
    if statuses:
        where.append(f"a.status IN ({','.join('?' * len(statuses))})")
        args.extend(statuses)
    if cursor:
        raised, alert = decode_cursor(cursor, (int, str))
        where.append(f"({key}.raised_ms, {key}.alert_id) < (?, ?)")
        args.extend((raised, alert))
    rows = (
        f"SELECT {key}.raised_ms AS r, {key}.alert_id AS i, {_ALERT_JSON} AS j FROM {source}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {key}.raised_ms DESC, {key}.alert_id DESC LIMIT ?"
    )
    texts, keys, count = conn.execute(
        f"SELECT group_concat(j, char(10){_PAGE_ORDER}),"
        f" json_group_array(json_array(r, i){_PAGE_ORDER}), count(*) FROM ({rows})",
        (*args, limit + 1),
    ).fetchone()
    items = texts.split("\n") if count else []
    if len(items) != count:  # cannot happen: minified JSON has no raw newline
        raise RuntimeError("alert page: a row's JSON held a newline")
    nxt = None
    if count > limit:
        raised_ms, alert_id = json.loads(keys)[limit - 1]
        nxt = encode_cursor(raised_ms, alert_id)
    return JsonPage(items[:limit], nxt)


def folded_positions(conn: sqlite3.Connection, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """Per partition of ``topics``, the next offset the read model has not folded: read
    before a view, what the view holds is at least this far (the live feed resumes here)."""
    marks = ",".join("?" * len(topics))
    rows = conn.execute(
        f"SELECT topic, partition, next_offset FROM tracking WHERE topic IN ({marks})",
        tuple(topics),
    )
    return {TopicPartition(t, p): o for t, p, o in rows}


def list_alerts(
    conn: sqlite3.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    rules: Sequence[str] = (),
    min_severity: str | None = None,
    severities: Sequence[str] = (),
    statuses: Sequence[str] = (),
    country: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Alerts by time raised, newest first, as dicts (``list_alerts_json``, parsed)."""
    page = list_alerts_json(
        conn,
        since=since,
        until=until,
        rules=rules,
        min_severity=min_severity,
        severities=severities,
        statuses=statuses,
        country=country,
        limit=limit,
        cursor=cursor,
    )
    return Page([json.loads(item) for item in page.items], page.next_cursor)


def get_alert(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_ALERT_JSON} AS summary, a.description, a.key, a.articles, a.evidence,"
        " a.ruleset_version, a.acknowledged_by, a.resolved_by, a.reopened"
        " FROM alerts a WHERE a.alert_id = ?",
        (alert_id,),
    ).fetchone()
    if row is None:
        return None
    out: dict[str, Any] = json.loads(row["summary"])
    out.update(
        description=row["description"],
        key=row["key"],
        ruleset_version=row["ruleset_version"],
        acknowledged_by=row["acknowledged_by"],
        resolved_by=row["resolved_by"],
        reopened=row["reopened"],
        articles=json.loads(row["articles"]),
        evidence=json.loads(row["evidence"]),
        history=[
            {"at": iso(at), "kind": kind, "by": actor, "detail": detail, "revision": rev}
            for at, kind, actor, detail, rev in conn.execute(
                "SELECT at_ms, kind, actor, detail, revision FROM alert_events"
                " WHERE alert_id = ? ORDER BY at_ms, event_id",
                (alert_id,),
            )
        ],
    )
    return out


def alert_exists(conn: sqlite3.Connection, alert_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone() is not None
    )


# --------------------------------------------------------------------------- articles

_ARTICLE_COLUMNS = (
    "a.id, a.article_id, a.source_id, a.url, a.title, a.summary, a.language, a.language_hint,"
    " a.published_ms, a.fetched_ms, a.countries, a.tags, a.entities, a.enricher_version"
)


def _article_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "article_id": row["article_id"],
        "source_id": row["source_id"],
        "url": row["url"],
        "title": row["title"],
        "summary": row["summary"],
        "language": row["language"] or row["language_hint"],
        "published_at": iso(row["published_ms"]),
        "fetched_at": iso(row["fetched_ms"]),
        "countries": json.loads(row["countries"]),
        "tags": json.loads(row["tags"]),
        "entities": json.loads(row["entities"]),
        "enriched": row["enricher_version"] is not None,
    }


#: FTS5 weights of the title and text columns for ``order="relevance"`` (bm25): a word in
#: the title says more about what an article is about than one in its tenth paragraph.
TITLE_WEIGHT, TEXT_WEIGHT = 5.0, 1.0
_RELEVANCE = f"bm25(articles_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT})"
#: Private-use characters around the matches in FTS5's snippet, turned into offsets.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SNIPPET = f"snippet(articles_fts, -1, char({ord(_OPEN)}), char({ord(_CLOSE)}), '…', 16)"
ORDERS = ("newest", "relevance")
#: the SQL order of each kind of article list: by publication, as stored (FTS5 walks its
#: index backwards and stops at the page), best match first
_ORDERING = {
    "published": "a.published_ms DESC, a.id DESC",
    "stored": "f.rowid DESC",
    "relevance": "score, f.rowid",  # bm25 is lower for better matches
}


def search_articles(
    conn: sqlite3.Connection,
    *,
    q: str | None = None,
    sources: Sequence[str] = (),
    language: str | None = None,
    entity: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
    order: str = "newest",
    snippets: bool = False,
) -> Page:
    """Articles, newest first: by publication time, or, with ``q``, by the order they were
    stored (FTS5 walks its index backwards and stops at the page: fast on any match count).
    With ``q`` and ``order="relevance"``: best match first (bm25, the title weighing more),
    which scores every match before the page. With ``q`` and ``snippets``, each article
    also carries a ``snippet``: the passage that matches best, and where in it the words
    matched. Off by default: FTS5 re-reads and re-tokenises each article's text for it (in
    one pair of runs of bench/api.py, 1M articles, 50 clients, two-word searches went from
    933 to 656 requests/s)."""
    match = fts_query(q) if q else None
    kind = ("relevance" if order == "relevance" else "stored") if match else "published"
    where, args = _article_filters(sources, language, entity, tag, since, until)
    columns = _ARTICLE_COLUMNS
    if match:
        # ORDER BY the FTS table's own rowid: FTS5 then walks its index backwards and stops
        # at the page (ordering by articles.id would sort every match first).
        source = "articles_fts f JOIN articles a ON a.id = f.rowid"
        if snippets:
            columns += f", {_SNIPPET} AS snippet"
        if kind == "relevance":
            columns += f", {_RELEVANCE} AS score"
        where.insert(0, "articles_fts MATCH ?")
        args.insert(0, match)
    else:
        source = "articles a"
    if cursor:
        condition, values = _after_cursor(kind, cursor)
        where.append(condition)
        args.extend(values)
    sql = (
        f"SELECT {columns} FROM {source}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {_ORDERING[kind]} LIMIT ?"
    )
    rows = conn.execute(sql, (*args, limit + 1)).fetchall()
    items = [_article_row(r) for r in rows[:limit]]
    if match and snippets:
        for item, row in zip(items, rows, strict=False):
            item["snippet"] = snippet(row["snippet"] or "")
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        if kind == "relevance":
            nxt = encode_cursor(float(last["score"]), last["id"])
        elif kind == "stored":
            nxt = encode_cursor(last["id"])
        else:
            nxt = encode_cursor(last["published_ms"], last["id"])
    return Page(items, nxt)


def _article_filters(
    sources: Sequence[str],
    language: str | None,
    entity: str | None,
    tag: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if sources:
        where.append(f"a.source_id IN ({','.join('?' * len(sources))})")
        args.extend(sources)
    if language:
        where.append("coalesce(a.language, a.language_hint) = ?")
        args.append(language)
    if entity:
        where.append("a.article_id IN (SELECT article_id FROM entity_mentions WHERE entity_id = ?)")
        args.append(entity)
    if tag:
        where.append("a.article_id IN (SELECT article_id FROM article_tags WHERE tag = ?)")
        args.append(tag)
    if since is not None:
        where.append("a.published_ms >= ?")
        args.append(to_ms(since))
    if until is not None:
        where.append("a.published_ms < ?")
        args.append(to_ms(until))
    return where, args


def _after_cursor(kind: str, cursor: str) -> tuple[str, list[Any]]:
    """The condition for the rows after a page's last one, in the order of ``kind``."""
    if kind == "relevance":
        score, last_id = decode_cursor(cursor, (float, int))
        return f"({_RELEVANCE} > ? OR ({_RELEVANCE} = ? AND f.rowid > ?))", [score, score, last_id]
    if kind == "stored":
        (last_id,) = decode_cursor(cursor, (int,))
        return "f.rowid < ?", [last_id]
    published, last_id = decode_cursor(cursor, (int, int))
    return "(a.published_ms, a.id) < (?, ?)", [published, last_id]


def snippet(marked: str) -> dict[str, Any]:
    """FTS5's snippet with its match markers taken out: the plain text, and the [start, end)
    of each match in it (callers escape the text and mark those spans themselves)."""
    text: list[str] = []
    marks: list[list[int]] = []
    at, opened = 0, -1
    for part in re.split(f"([{_OPEN}{_CLOSE}])", marked):
        if part == _OPEN:
            opened = at
        elif part == _CLOSE:
            if opened >= 0:
                marks.append([opened, at])
            opened = -1
        else:
            text.append(part)
            at += len(part)
    return {"text": "".join(text), "marks": marks}


def get_article(conn: sqlite3.Connection, article_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_ARTICLE_COLUMNS}, a.text, a.analysed_text, a.content_hash"
        " FROM articles a WHERE a.article_id = ?",
        (article_id,),
    ).fetchone()
    if row is None:
        return None
    out = _article_row(row)
    out.update(
        text=row["text"], analysed_text=row["analysed_text"], content_hash=row["content_hash"]
    )
    return out


# --------------------------------------------------------------------------- entities

Bucket = Literal["hour", "day"]


def top_entities(
    conn: sqlite3.Connection,
    *,
    since_ms: int,
    until_ms: int,
    kind: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT entity_id, kind, name, count(*) AS articles, sum(mentions) AS mentions"
        " FROM entity_mentions WHERE published_ms >= ? AND published_ms < ?"
        + (" AND kind = ?" if kind else "")
        + " GROUP BY entity_id ORDER BY articles DESC, entity_id LIMIT ?",
        (since_ms, until_ms, *((kind,) if kind else ()), limit),
    ).fetchall()
    return [dict(r) for r in rows]


def entity_timeline(
    conn: sqlite3.Connection, entity_id: str, *, since_ms: int, until_ms: int, bucket: Bucket
) -> dict[str, Any] | None:
    size = HOUR_MS if bucket == "hour" else DAY_MS
    head = conn.execute(
        "SELECT kind, name FROM entity_mentions WHERE entity_id = ? LIMIT 1", (entity_id,)
    ).fetchone()
    if head is None:
        return None
    rows = conn.execute(
        "SELECT published_ms / ? AS b, count(*), sum(mentions) FROM entity_mentions"
        " WHERE entity_id = ? AND published_ms >= ? AND published_ms < ? GROUP BY b ORDER BY b",
        (size, entity_id, since_ms, until_ms),
    ).fetchall()
    return {
        "entity_id": entity_id,
        "kind": head["kind"],
        "name": head["name"],
        "bucket": bucket,
        "points": [{"t": iso(b * size), "articles": n, "mentions": m} for b, n, m in rows],
    }


# --------------------------------------------------------------------------- sources, rules


def failing_sources(conn: sqlite3.Connection) -> tuple[list[str], int]:
    """The sources whose last poll failed (by id), and how many sources there are: cheap
    enough for every page that wants to say so."""
    failing = [
        r[0]
        for r in conn.execute(
            "SELECT source_id FROM sources WHERE last_status = 'error' ORDER BY source_id"
        )
    ]
    return failing, conn.execute("SELECT count(*) FROM sources").fetchone()[0]


def source_health(
    conn: sqlite3.Connection, *, now_ms: int, window_ms: int = DAY_MS
) -> list[dict[str, Any]]:
    """Sources, failing first: last poll, status, error rate over the window, freshness,
    and the warning of the last poll when it did not fail (the feed moved for good, the
    page read for its feed...): what the operator should fix before it becomes an error.
    ``push``: the source's WebSub subscription, when its feed names a hub (``None``
    otherwise); an active one whose lease ran out without a renewal reads "expired"."""
    rows = conn.execute(
        """
        SELECT s.*, sp.hub AS push_hub, sp.state AS push_state, sp.at_ms AS push_at_ms,
          sp.expires_ms AS push_expires_ms, sp.problem AS push_problem,
          (SELECT coalesce(sum(p.polls), 0) FROM source_polls p
             WHERE p.source_id = s.source_id AND p.polled_ms >= ?) AS polls,
          (SELECT count(*) FROM source_polls p WHERE p.source_id = s.source_id AND p.polled_ms >= ?
             AND p.status = 'error') AS errors,
          (SELECT max(published_ms) FROM articles x WHERE x.source_id = s.source_id) AS last_article_ms,
          (SELECT p.error_message FROM source_polls p WHERE p.source_id = s.source_id
             ORDER BY p.polled_ms DESC, p.event_id DESC LIMIT 1) AS last_message
        FROM sources s LEFT JOIN source_push sp ON sp.source_id = s.source_id
        ORDER BY (s.last_status = 'error') DESC, s.source_id
        """,
        (now_ms - window_ms, now_ms - window_ms),
    ).fetchall()
    out = []
    for r in rows:
        fresh_ms = r["last_article_ms"]
        out.append(
            {
                "source_id": r["source_id"],
                "url": r["url"],
                "status": r["last_status"],
                "failing": r["last_status"] == "error",
                "http_status": r["last_http_status"],
                "last_poll": iso(r["last_poll_ms"]),
                "last_ok": iso(r["last_ok_ms"]),
                "last_new_articles": iso(r["last_new_ms"]),
                "last_error": r["last_error"],
                "last_error_at": iso(r["last_error_ms"]),
                "warning": None if r["last_status"] == "error" else r["last_message"],
                "polls_in_window": r["polls"],
                "errors_in_window": r["errors"],
                "error_rate": round(r["errors"] / r["polls"], 4) if r["polls"] else None,
                "last_article": iso(fresh_ms),
                "freshness_s": None if fresh_ms is None else max(0, (now_ms - fresh_ms) // 1000),
                "push": _push(r, now_ms),
            }
        )
    return out


def _push(row: sqlite3.Row, now_ms: int) -> dict[str, Any] | None:
    if row["push_state"] is None:
        return None
    state, expires = row["push_state"], row["push_expires_ms"]
    if state == "active" and expires is not None and expires <= now_ms:
        state = "expired"  # the poller stopped, or lost the source, before renewing it
    return {
        "state": state,
        "hub": row["push_hub"],
        "changed": iso(row["push_at_ms"]),
        "until": iso(expires),
        "problem": row["push_problem"],
    }


def rule_stats(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every rule that is active or has fired: hits, last fired, alerts still open."""
    current = conn.execute(
        "SELECT ruleset_version FROM rulesets ORDER BY activated_ms DESC, ruleset_version DESC LIMIT 1"
    ).fetchone()
    active: dict[str, sqlite3.Row] = {}
    if current is not None:
        active = {
            r["rule_id"]: r
            for r in conn.execute(
                "SELECT rule_id, version, title, origin FROM rules WHERE ruleset_version = ?",
                (current[0],),
            )
        }
    hits = {
        r["rule_id"]: r
        for r in conn.execute(
            "SELECT rule_id, count(*) AS hits, max(raised_ms) AS last_ms,"
            " sum(status = 'open') AS open FROM alerts GROUP BY rule_id"
        )
    }
    out = []
    for rule_id in sorted(set(active) | set(hits)):
        a, h = active.get(rule_id), hits.get(rule_id)
        out.append(
            {
                "rule_id": rule_id,
                "title": a["title"] if a else None,
                "version": a["version"] if a else None,
                "origin": a["origin"] if a else None,
                "active": a is not None,
                "hits": h["hits"] if h else 0,
                "open": h["open"] if h else 0,
                "last_fired": iso(h["last_ms"]) if h else None,
            }
        )
    return out


# --------------------------------------------------------------------------- the rest


def list_subscriptions(conn: sqlite3.Connection, *, deleted: bool = False) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM subscriptions"
        + ("" if deleted else " WHERE deleted = 0")
        + " ORDER BY subscription_id"
    ).fetchall()
    return [_subscription_row(r) for r in rows]


def get_subscription(conn: sqlite3.Connection, subscription_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM subscriptions WHERE subscription_id = ?", (subscription_id,)
    ).fetchone()
    return None if row is None else _subscription_row(row)


def _subscription_row(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "subscription_id": r["subscription_id"],
        "definition": json.loads(r["definition"]),
        "deleted": bool(r["deleted"]),
        "created_by": r["created_by"],
        "created_at": iso(r["created_ms"]),
        "updated_by": r["updated_by"],
        "updated_at": iso(r["updated_ms"]),
    }


def list_deliveries(
    conn: sqlite3.Connection, *, alert_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM deliveries"
        + (" WHERE alert_id = ?" if alert_id else "")
        + " ORDER BY at_ms DESC, event_id DESC LIMIT ?",
        (*((alert_id,) if alert_id else ()), limit),
    ).fetchall()
    return [
        {
            "delivery_id": r["delivery_id"],
            "alert_id": r["alert_id"],
            "alert_revision": r["alert_revision"],
            "subscription_id": r["subscription_id"],
            "channel": r["channel"],
            "ok": bool(r["ok"]),
            "attempts": r["attempts"],
            "at": iso(r["at_ms"]),
            "status_code": r["status_code"],
            "error": r["error"],
        }
        for r in rows
    ]


def list_deadletters(conn: sqlite3.Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        'SELECT topic, partition, "offset", grp, error_class, reason, failed_ms FROM deadletters'
        " ORDER BY failed_ms DESC, event_id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        {
            "topic": r["topic"],
            "partition": r["partition"],
            "offset": r["offset"],
            "group": r["grp"],
            "error_class": r["error_class"],
            "reason": r["reason"],
            "failed_at": iso(r["failed_ms"]),
        }
        for r in rows
    ]


def per_bucket(
    conn: sqlite3.Connection, table: str, column: str, *, size_ms: int, since_ms: int, until_ms: int
) -> list[tuple[int, int]]:
    """(bucket start ms, rows) for every bucket in the range, empty ones included."""
    found = dict(
        conn.execute(
            f"SELECT {column} / ? AS b, count(*) FROM {table}"
            f" WHERE {column} >= ? AND {column} < ? GROUP BY b",
            (size_ms, since_ms, until_ms),
        ).fetchall()
    )
    first, last = since_ms // size_ms, (until_ms - 1) // size_ms
    return [(b * size_ms, found.get(b, 0)) for b in range(first, last + 1)]


def throughput(
    conn: sqlite3.Connection, *, now_ms: int, window_ms: int = HOUR_MS
) -> list[dict[str, Any]]:
    """Events each service produced in the window (by the events' own times)."""
    since = now_ms - window_ms

    def count(sql: str) -> int:
        return int(conn.execute(sql, (since, now_ms)).fetchone()[0])

    return [
        {
            "service": "poller",
            "what": "articles published",
            "count": count(
                "SELECT count(*) FROM articles WHERE fetched_ms >= ? AND fetched_ms < ?"
            ),
        },
        {
            "service": "poller",
            "what": "polls",
            "count": count(
                "SELECT coalesce(sum(polls), 0) FROM source_polls"
                " WHERE polled_ms >= ? AND polled_ms < ?"
            ),
        },
        {
            "service": "enricher",
            "what": "articles enriched",
            "count": count(
                "SELECT count(*) FROM articles WHERE enriched_ms >= ? AND enriched_ms < ?"
            ),
        },
        {
            "service": "rules",
            "what": "alerts raised",
            "count": count(
                "SELECT count(*) FROM alert_events WHERE kind = 'raised' AND at_ms >= ? AND at_ms < ?"
            ),
        },
        {
            "service": "notifier",
            "what": "deliveries",
            "count": count("SELECT count(*) FROM deliveries WHERE at_ms >= ? AND at_ms < ?"),
        },
    ]


def totals(conn: sqlite3.Connection) -> dict[str, int]:
    """Counts for /metrics: cheap aggregates only (index-only where SQLite can)."""
    one = conn.execute
    return {
        "articles": one("SELECT count(*) FROM articles").fetchone()[0],
        "articles_enriched": one(
            "SELECT count(*) FROM articles WHERE enriched_ms IS NOT NULL"
        ).fetchone()[0],
        "alerts": one("SELECT count(*) FROM alerts").fetchone()[0],
        "deliveries_ok": one("SELECT count(*) FROM deliveries WHERE ok = 1").fetchone()[0],
        "deliveries_failed": one("SELECT count(*) FROM deliveries WHERE ok = 0").fetchone()[0],
        "poll_errors": one("SELECT count(*) FROM source_polls WHERE status = 'error'").fetchone()[
            0
        ],
        "deadletters": one("SELECT count(*) FROM deadletters").fetchone()[0],
    }


def alerts_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
