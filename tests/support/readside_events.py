"""Event factories for the read-side tests (projections, API, dashboard, bench)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import (
    AlertAcknowledged,
    AlertArticle,
    AlertDelivered,
    AlertDeliveryFailed,
    AlertRaised,
    AlertResolved,
    ArticleEnriched,
    ArticlePublished,
    CloudEvent,
    DeadLetter,
    EntityMention,
    Evidence,
    LanguageGuess,
    MentionedEntity,
    PollStatus,
    PushState,
    RuleRef,
    RulesetActivated,
    SourcePolled,
    SourceSubscription,
    SubscriptionCreated,
    TagHit,
    new_event,
)
from schemas.ids import alert_id, content_hash, delivery_id
from services.eventlog import EventLog, Message
from services.eventlog.codec import encode

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def article(
    n: int,
    *,
    title: str | None = None,
    text: str | None = None,
    source: str = "src-a",
    at: datetime | None = None,
) -> ArticlePublished:
    when = at or T0 + timedelta(minutes=n)
    title = title if title is not None else f"Border talks {n}"
    text = (
        text
        if text is not None
        else f"Armenia and Azerbaijan met in Moscow. CSTO observers came. Item {n}."
    )
    return ArticlePublished(
        article_id=f"art_{n:04d}",
        url=f"https://news.example.org/{n}",
        title=title,
        text=text,
        published_at=when,
        fetched_at=when + timedelta(seconds=30),
        source_id=source,
        language_hint="en",
        content_hash=content_hash(title, text),
    )


def published(a: ArticlePublished) -> CloudEvent:
    return new_event(
        a, id=a.article_id, source="/tocsin/poller", subject=a.article_id, time=a.fetched_at
    )


def enriched(
    a: ArticlePublished,
    *,
    countries: tuple[str, ...] = ("AM", "AZ"),
    tags: tuple[str, ...] = ("border",),
) -> CloudEvent:
    analysed = f"{a.title}\n\n{a.text}"
    entities = []
    for cc, name in (("AM", "Armenia"), ("AZ", "Azerbaijan")):
        if cc in countries:
            start = analysed.find(name)
            mentions = (
                ()
                if start < 0
                else (EntityMention(start=start, end=start + len(name), sentence=0, surface=name),)
            )
            entities.append(
                MentionedEntity(
                    id=f"country:{cc.lower()}",
                    kind="country",
                    name=name,
                    countries=(cc,),
                    mentions=mentions,
                )
            )
    payload = ArticleEnriched(
        article=a,
        enricher_version="e1",
        analysed_text=analysed,
        language=LanguageGuess(code="en", confidence=0.99),
        entities=tuple(entities),
        countries=countries,
        tags=tuple(TagHit(id=t, terms=(t,)) for t in tags),
    )
    return new_event(
        payload,
        id=f"enr_{a.article_id}",
        source="/tocsin/enricher",
        subject=a.article_id,
        time=a.fetched_at,
    )


def raised(
    a: ArticlePublished,
    *,
    rule: str = "csto-armenia-azerbaijan",
    severity: str = "high",
    revision: int = 0,
    title: str | None = None,
    at: datetime | None = None,
) -> CloudEvent:
    analysed = f"{a.title}\n\n{a.text}"
    spans = []
    for word in ("Armenia", "CSTO"):
        i = analysed.find(word)
        if i >= 0:
            spans.append(
                Evidence(
                    article_id=a.article_id,
                    condition=f"term {word}",
                    surface=word,
                    snippet=analysed[max(0, i - 20) : i + 30],
                    start=i,
                    end=i + len(word),
                    sentence=0,
                )
            )
    ident = alert_id(rule, "v1", a.article_id)
    when = at or a.fetched_at + timedelta(minutes=1)
    payload = AlertRaised(
        alert_id=ident,
        rule_id=rule,
        rule_version="v1",
        ruleset_version="rs1",
        severity=severity,  # type: ignore[arg-type]
        title=title if title is not None else a.title,
        key=a.article_id,
        articles=(
            AlertArticle(
                article_id=a.article_id,
                url=a.url,
                title=a.title,
                source_id=a.source_id,
                published_at=a.published_at,
            ),
        ),
        evidence=tuple(spans),
        first_seen=a.published_at,
        last_seen=a.published_at,
        source_count=1,
        revision=revision,
    )
    return new_event(
        payload, id=f"{ident}.{revision}", source="/tocsin/rules", subject=ident, time=when
    )


def lifecycle(payload: Any) -> CloudEvent:
    return new_event(
        payload,
        id="lce_" + content_hash(payload.event_type, payload.model_dump_json()),
        source="/tocsin/cli",
        subject=payload.alert_id,
        time=payload.at,
    )


def ack(ident: str, at: datetime, by: str = "ana") -> CloudEvent:
    return lifecycle(AlertAcknowledged(alert_id=ident, by=by, at=at))


def resolve(ident: str, at: datetime, by: str = "ana") -> CloudEvent:
    return lifecycle(AlertResolved(alert_id=ident, by=by, at=at, resolution="done"))


def polled(source: str, at: datetime, *, ok: bool = True, new: int = 1) -> CloudEvent:
    p = SourcePolled(
        source_id=source,
        url=f"https://{source}.example.org/feed",
        polled_at=at,
        status=PollStatus.OK if ok else PollStatus.ERROR,
        http_status=200 if ok else 503,
        latency_ms=12.5,
        new_articles=new if ok else 0,
        error_class=None if ok else "HTTPStatusError",
        error_message=None if ok else "503 Service Unavailable",
    )
    return new_event(
        p, id=f"poll_{source}_{at.isoformat()}", source="/tocsin/poller", subject=source, time=at
    )


def pushed(
    source: str,
    at: datetime,
    state: PushState = PushState.ACTIVE,
    *,
    lease: timedelta = timedelta(days=10),
    problem: str | None = None,
) -> CloudEvent:
    """A change of the source's WebSub subscription (``source.subscription``)."""
    change = SourceSubscription(
        source_id=source,
        hub="https://hub.example.org/",
        topic=f"https://{source}.example.org/feed",
        state=state,
        at=at,
        expires_at=at + lease if state is PushState.ACTIVE else None,
        problem=problem,
    )
    return new_event(
        change,
        id=f"push_{source}_{at.isoformat()}_{state.value}",
        source="/tocsin/poller",
        subject=source,
        time=at,
    )


def delivered(ident: str, at: datetime, *, ok: bool = True) -> CloudEvent:
    did = delivery_id(ident, "desk")
    payload: Any
    if ok:
        payload = AlertDelivered(
            delivery_id=did,
            alert_id=ident,
            subscription_id="desk",
            channel="webhook",
            attempts=1,
            delivered_at=at,
            status_code=200,
        )
    else:
        payload = AlertDeliveryFailed(
            delivery_id=did,
            alert_id=ident,
            subscription_id="desk",
            channel="webhook",
            attempts=3,
            failed_at=at,
            error="timeout",
        )
    return new_event(
        payload,
        id=f"{did}.{'ok' if ok else 'fail'}",
        source="/tocsin/notifier",
        subject=ident,
        time=at,
    )


def ruleset(at: datetime) -> CloudEvent:
    p = RulesetActivated(
        ruleset_version="rs1",
        activated_at=at,
        rules=(
            RuleRef(
                id="csto-armenia-azerbaijan", version="v1", title="CSTO, Armenia and Azerbaijan"
            ),
            RuleRef(id="quiet-rule", version="v1", title="Never fires"),
        ),
    )
    return new_event(p, id="rs_rs1", source="/tocsin/rules", subject="rs1", time=at)


def subscription(sid: str, at: datetime, channel: dict[str, Any] | None = None) -> CloudEvent:
    p = SubscriptionCreated(
        subscription_id=sid,
        definition={
            "id": sid,
            "channel": channel or {"kind": "webhook", "url": "https://hooks.example.org/x"},
        },
        by="ops",
        at=at,
    )
    return new_event(
        p, id=f"sub_{sid}_{at.isoformat()}", source="/tocsin/api", subject=sid, time=at
    )


def deadletter(at: datetime) -> CloudEvent:
    p = DeadLetter(
        topic="articles.published",
        partition=0,
        offset=7,
        group="enricher",
        error_class="PoisonRecordError",
        reason="not a valid Tocsin event",
        value_b64="e30=",
        failed_at=at,
    )
    return new_event(
        p, id="dlq_test_7", source="/tocsin/runtime", subject="articles.published", time=at
    )


#: base topic of each event type
TOPIC_OF = {
    "tocsin.article.published.v1": ("articles.published", lambda e: e.data.article_id),
    "tocsin.article.enriched.v1": ("articles.enriched", lambda e: e.data.article.article_id),
    "tocsin.alert.raised.v1": ("alerts.raised", lambda e: e.data.alert_id),
    "tocsin.alert.acknowledged.v1": ("alerts.lifecycle", lambda e: e.data.alert_id),
    "tocsin.alert.resolved.v1": ("alerts.lifecycle", lambda e: e.data.alert_id),
    "tocsin.alert.delivered.v1": ("alerts.delivered", lambda e: e.data.alert_id),
    "tocsin.alert.delivery_failed.v1": ("alerts.delivered", lambda e: e.data.alert_id),
    "tocsin.source.polled.v1": ("sources.polled", lambda e: e.data.source_id),
    "tocsin.source.subscription.v1": ("sources.polled", lambda e: e.data.source_id),
    "tocsin.ruleset.activated.v1": ("rulesets", lambda e: e.data.ruleset_version),
    "tocsin.subscription.created.v1": ("subscriptions", lambda e: e.data.subscription_id),
    "tocsin.deadletter.v1": ("deadletter", lambda e: e.data.topic),
}


def message(event: CloudEvent, prefix: str = "") -> Message:
    base, key = TOPIC_OF[event.type]
    return encode(event, topic=prefix + base, key=key(event))


def append(log: EventLog, events: list[CloudEvent], prefix: str = "") -> None:
    log.append([message(e, prefix) for e in events])


def scenario() -> list[CloudEvent]:
    """A small, complete history: articles, enrichment, alerts and their life, polls,
    deliveries, a rule set, a subscription and a dead letter."""
    events: list[CloudEvent] = [ruleset(T0 - timedelta(hours=1))]
    arts = [article(i, source="src-a" if i % 2 else "src-b") for i in range(12)]
    for i, a in enumerate(arts):
        events.append(published(a))
        events.append(enriched(a, countries=("AM", "AZ") if i % 3 else ("AM",)))
    alerts = [
        raised(a, severity=("low", "medium", "high", "critical")[i % 4])
        for i, a in enumerate(arts[:6])
    ]
    events.extend(alerts)
    a0 = alerts[0].data.alert_id
    events.append(ack(a0, T0 + timedelta(hours=1)))
    events.append(resolve(alerts[1].data.alert_id, T0 + timedelta(hours=1)))
    events.append(raised(arts[1], severity="medium", revision=1, at=T0 + timedelta(hours=2)))
    events.append(resolve(alerts[2].data.alert_id, T0 + timedelta(hours=1)))
    events.append(delivered(a0, T0 + timedelta(minutes=5)))
    events.append(delivered(alerts[1].data.alert_id, T0 + timedelta(minutes=5), ok=False))
    for k in range(6):
        events.append(polled("src-a", T0 + timedelta(minutes=10 * k)))
        events.append(polled("src-b", T0 + timedelta(minutes=10 * k), ok=k < 3))
    events.append(pushed("src-a", T0, PushState.REQUESTED))
    events.append(pushed("src-a", T0 + timedelta(seconds=1)))
    events.append(pushed("src-b", T0, PushState.FAILED, problem="HTTP 403 from the hub"))
    events.append(subscription("desk", T0))
    events.append(deadletter(T0 + timedelta(minutes=3)))
    return events
