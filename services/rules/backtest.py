"""Backtest: run a rule set over the stored enriched history, compare with what fired.

Exactly as live: the same ``Engine`` (windows, spikes, suppression, stories) is fed the
stored ``articles.enriched`` events in log time order. It starts one horizon before
``since`` so that windows and suppression are already in the state they would have been in
at ``since``; alerts from that lead-in are not reported. Nothing is written to the log.

The comparison is by alert id: ids are hash(rule id, rule version, key), so an unchanged
rule reproduces the live ids, and a changed rule shows up as alerts only in one column.
Alerts a replay appended (labelled ``REPLAY_LABEL``) are not "fired live".

``simulate`` is the step both this backtest and ``tocsin replay`` run: one stored article
at a time, with every alert (and revision) the engine raised for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from schemas import AlertRaised, ArticleEnriched, CloudEvent
from services.eventlog import EventLog, Record
from services.rules.engine import Engine
from services.rules.history import read_events
from services.rules.loader import RuleSet

__all__ = ["REPLAY_LABEL", "RuleReport", "Step", "backtest", "simulate"]

#: The label ``tocsin replay`` puts on the alerts it appends (value: the rule-set version).
REPLAY_LABEL = "replay"


@dataclass(frozen=True, slots=True)
class Step:
    """One stored article fed to the engine, and what it raised (new alerts and revisions,
    in order). ``lead_in``: before ``since``, fed only to put the state where it was."""

    record: Record
    event: CloudEvent
    alerts: list[AlertRaised]
    lead_in: bool


def simulate(
    elog: EventLog,
    engine: Engine,
    *,
    enriched_topic: str,
    since: datetime,
    until: datetime,
) -> Iterator[Step]:
    """The stored ``articles.enriched`` events from one horizon before ``since`` up to
    ``until`` through ``engine``, in log time order, exactly as live."""
    since_ms = int(since.timestamp() * 1000)
    until_ms = int(until.timestamp() * 1000)
    lead_ms = int((since - engine.horizon).timestamp() * 1000)
    for read in read_events(elog, enriched_topic, since_ms=lead_ms, until_ms=until_ms):
        if not isinstance(read.event.data, ArticleEnriched):
            continue
        alerts = engine.process(read.event.data)
        yield Step(read.record, read.event, alerts, read.record.timestamp_ms < since_ms)


@dataclass
class RuleReport:
    rule_id: str
    rule_version: str = ""
    would_fire: dict[str, AlertRaised] = field(default_factory=dict)
    fired: dict[str, AlertRaised] = field(default_factory=dict)

    @property
    def only_backtest(self) -> list[str]:
        return sorted(set(self.would_fire) - set(self.fired))

    @property
    def only_live(self) -> list[str]:
        return sorted(set(self.fired) - set(self.would_fire))

    @property
    def both(self) -> list[str]:
        return sorted(set(self.fired) & set(self.would_fire))

    def row(self, examples: int = 3) -> dict[str, object]:
        latest = sorted(self.would_fire.values(), key=lambda a: a.first_seen)
        return {
            "rule": self.rule_id,
            "version": self.rule_version,
            "would_fire": len(self.would_fire),
            "fired_live": len(self.fired),
            "same": len(self.both),
            "only_backtest": len(self.only_backtest),
            "only_live": len(self.only_live),
            "examples": [
                {
                    "alert_id": a.alert_id,
                    "title": a.title,
                    "key": a.key,
                    "articles": len(a.articles),
                    "sources": a.source_count,
                    "first_seen": a.first_seen.isoformat(),
                    "matched": sorted({e.surface for e in a.evidence})[:8],
                }
                for a in latest[:examples]
            ],
        }


def backtest(
    elog: EventLog,
    ruleset: RuleSet,
    *,
    enriched_topic: str,
    alerts_topic: str,
    since: datetime,
    until: datetime,
) -> tuple[list[RuleReport], int]:
    """Per rule, the alerts the rule set would raise in [since, until) and those raised
    live; also the number of articles evaluated in the period."""
    engine = Engine(ruleset)
    reports = {r.id: RuleReport(r.id, r.version) for r in ruleset.rules}
    since_ms = int(since.timestamp() * 1000)
    until_ms = int(until.timestamp() * 1000)
    articles = 0
    for step in simulate(elog, engine, enriched_topic=enriched_topic, since=since, until=until):
        if step.lead_in:
            continue
        articles += 1
        for alert in step.alerts:
            report = reports.setdefault(alert.rule_id, RuleReport(alert.rule_id))
            report.would_fire[alert.alert_id] = alert
    for read in read_events(elog, alerts_topic, since_ms=since_ms, until_ms=until_ms):
        alert = read.event.data
        if isinstance(alert, AlertRaised) and REPLAY_LABEL not in alert.labels:
            report = reports.setdefault(alert.rule_id, RuleReport(alert.rule_id))
            report.fired[alert.alert_id] = alert
    return sorted(reports.values(), key=lambda r: r.rule_id), articles
