"""``tocsin replay``: re-run stored history through a rule set; append what it adds.

It feeds the stored ``articles.enriched`` events of ``[--since, --until)`` (plus one
horizon of lead-in, so windows and suppression start where they were) through the rules
engine exactly as live (``services.rules.backtest.simulate``), and reports per rule what
would have fired and how it differs from what did fire.

Without ``--dry-run`` it appends the new alerts to ``alerts.raised`` under the new rule-set
version, after recording that rule set (``ruleset.activated``, once per version). What is
never appended (the decision is taken on the first revision of a replayed alert, and holds
for all its revisions):

- an alert the live rules already raised: same alert id (an unchanged rule gives the live
  id), or, for the same rule id, the same key (same story's first article, or same window
  group and start), or the same group sharing an article with a live alert (the story or
  the window was already alerted, with other rule versions). "Live" means every alert on
  the log that was not appended by a replay (those carry the ``replay`` label);
- an event whose id is already on the log: ids are deterministic (the alert id, and
  ``<alert id>-r<N>`` for revision N, as live), so re-running a replay appends nothing new,
  and a replay cut short is completed by running it again.

Replayed alerts carry the label ``replay: <rule-set version>``; the notifier delivers them
like any alert to the subscriptions that match.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schemas import AlertRaised, CloudEvent, RulesetActivated
from services.cli.common import ConfigOption, LogOption, event_log, settings
from services.cli.output import Format, render
from services.cli.progress import progress_bar
from services.eventlog import EventLog, Message
from services.eventlog.codec import encode
from services.rules.history import read_events
from services.rules.loader import RuleSet, RulesetError, load_rules
from services.runtime.bootstrap import topic
from services.runtime.clock import SystemClock
from services.runtime.settings import ConfigError, Settings

if TYPE_CHECKING:
    from services.rules.backtest import RuleReport
    from services.rules.runner import RulesCore

# The engine (datasketch, SciPy) is imported where a replay runs: every ``tocsin`` command,
# ``serve`` of the other services included, loads this module.

__all__ = ["ReplayResult", "replay", "replay_history"]

APPEND_BATCH = 500
COLUMNS = [
    "rule",
    "version",
    "would_fire",
    "fired_live",
    "same",
    "only_replay",
    "only_live",
    "live_duplicate",
    "already_appended",
    "appended",
]


@dataclass
class _RuleCounts:
    live_duplicate: set[str] = field(default_factory=set)
    already: set[str] = field(default_factory=set)
    appended: set[str] = field(default_factory=set)


@dataclass
class ReplayResult:
    """What a replay found (and, without dry-run, appended)."""

    ruleset_version: str
    articles: int
    reports: list[RuleReport]
    counts: dict[str, _RuleCounts]
    events_appended: int = 0
    ruleset_recorded: bool = False

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for report in self.reports:
            counts = self.counts.get(report.rule_id, _RuleCounts())
            out.append(
                {
                    "rule": report.rule_id,
                    "version": report.rule_version,
                    "would_fire": len(report.would_fire),
                    "fired_live": len(report.fired),
                    "same": len(report.both),
                    "only_replay": len(report.only_backtest),
                    "only_live": len(report.only_live),
                    "live_duplicate": len(counts.live_duplicate),
                    "already_appended": len(counts.already),
                    "appended": len(counts.appended),
                }
            )
        return out


class _LiveIndex:
    """The live alerts a replayed alert must not duplicate, by rule id."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.keys: set[tuple[str, str]] = set()
        self.articles: dict[tuple[str, str], set[str]] = {}  # (rule, group) -> article ids

    def add(self, alert: AlertRaised) -> None:
        self.ids.add(alert.alert_id)
        self.keys.add((alert.rule_id, alert.key))
        group = _group(alert)
        self.articles.setdefault((alert.rule_id, group), set()).update(
            a.article_id for a in alert.articles
        )

    def covers(self, alert: AlertRaised) -> bool:
        if alert.alert_id in self.ids or (alert.rule_id, alert.key) in self.keys:
            return True
        known = self.articles.get((alert.rule_id, _group(alert)), set())
        return any(a.article_id in known for a in alert.articles)


def _group(alert: AlertRaised) -> str:
    """A window key is "group@start"; a story's group is the story (any shared article)."""
    return alert.key.rsplit("@", 1)[0] if "@" in alert.key else "*story*"


def _event_id(alert: AlertRaised) -> str:
    return alert.alert_id if alert.revision == 0 else f"{alert.alert_id}-r{alert.revision}"


def _estimate(elog: EventLog, name: str, since_ms: int) -> int:
    """Records from ``since_ms`` to the end (an upper bound of what the replay reads)."""
    if name not in elog.list_topics():
        return 0
    ends = elog.end_offsets([name])
    starts = elog.offsets_for_time(name, since_ms)
    return sum(end - min(starts.get(tp) or end, end) for tp, end in ends.items())


class _Planner:
    """Decides, alert by alert, what a replay appends (see the module docstring)."""

    def __init__(self, ruleset: RuleSet, core: RulesCore, live: _LiveIndex, on_log: set[str]):
        from services.rules.backtest import REPLAY_LABEL

        self.label = REPLAY_LABEL
        self.ruleset = ruleset
        self.core = core
        self.live = live
        self.on_log = on_log  # event ids already on alerts.raised (live or replayed)
        self.counts: dict[str, _RuleCounts] = {}
        self.decided: dict[str, bool] = {}  # alert id -> append its revisions
        self.pending: list[Message] = []

    def take(self, alert: AlertRaised, cause: CloudEvent) -> None:
        rule = self.counts.setdefault(alert.rule_id, _RuleCounts())
        append = self.decided.get(alert.alert_id)
        if append is None:
            append = not self.live.covers(alert)
            self.decided[alert.alert_id] = append
            if not append and alert.alert_id not in self.live.ids:
                rule.live_duplicate.add(alert.alert_id)
        if not append:
            return
        if _event_id(alert) in self.on_log:
            rule.already.add(alert.alert_id)
            return
        rule.appended.add(alert.alert_id)
        labels = {**alert.labels, self.label: self.ruleset.version}
        emit = self.core.emit(alert.model_copy(update={"labels": labels}), cause)
        self.pending.append(encode(emit.event, topic=emit.topic, key=emit.key))


def _read_live(
    elog: EventLog, alerts_topic: str, ruleset: RuleSet, lead_ms: int, since_ms: int, until_ms: int
) -> tuple[_LiveIndex, set[str], dict[str, RuleReport]]:
    """The live alerts (index and per-rule reports) and every alert event id on the log."""
    from services.rules.backtest import REPLAY_LABEL, RuleReport

    live = _LiveIndex()
    on_log: set[str] = set()
    reports = {r.id: RuleReport(r.id, r.version) for r in ruleset.rules}
    for read in read_events(elog, alerts_topic, since_ms=lead_ms):
        alert = read.event.data
        if not isinstance(alert, AlertRaised):
            continue
        on_log.add(read.event.id)
        if REPLAY_LABEL in alert.labels:
            continue
        live.add(alert)
        if since_ms <= read.record.timestamp_ms < until_ms:
            report = reports.setdefault(alert.rule_id, RuleReport(alert.rule_id))
            report.fired[alert.alert_id] = alert
    return live, on_log, reports


def replay_history(
    elog: EventLog,
    cfg: Settings,
    ruleset: RuleSet,
    *,
    since: datetime,
    until: datetime,
    dry_run: bool,
    show_progress: bool = False,
) -> ReplayResult:
    """Replay ``[since, until)`` through ``ruleset``; append its new alerts unless dry-run."""
    from services.rules.backtest import RuleReport, simulate
    from services.rules.engine import Engine
    from services.rules.runner import RulesCore, activation

    enriched_topic = topic(cfg, "articles.enriched")
    alerts_topic = topic(cfg, "alerts.raised")
    rulesets_topic = topic(cfg, "rulesets")
    engine = Engine(ruleset)
    lead_ms = int((since - engine.horizon).timestamp() * 1000)
    live, on_log, reports = _read_live(
        elog,
        alerts_topic,
        ruleset,
        lead_ms,
        int(since.timestamp() * 1000),
        int(until.timestamp() * 1000),
    )
    core = RulesCore(
        ruleset, clock=SystemClock(), alerts_topic=alerts_topic, rulesets_topic=rulesets_topic
    )
    planner = _Planner(ruleset, core, live, on_log)
    articles = 0
    with progress_bar(enabled=show_progress) as progress:
        task = progress.add_task("replay", total=_estimate(elog, enriched_topic, lead_ms) or None)
        for step in simulate(elog, engine, enriched_topic=enriched_topic, since=since, until=until):
            progress.advance(task)
            if step.lead_in:
                continue
            articles += 1
            for alert in step.alerts:
                report = reports.setdefault(alert.rule_id, RuleReport(alert.rule_id))
                report.would_fire[alert.alert_id] = alert
                planner.take(alert, step.event)
        progress.update(task, total=progress.tasks[0].completed)
    for rule_counts in planner.counts.values():
        rule_counts.already -= rule_counts.appended  # a later revision is what was missing
    result = ReplayResult(
        ruleset.version, articles, sorted(reports.values(), key=_by_id), planner.counts
    )
    if dry_run:
        return result
    if planner.pending and not _recorded(elog, rulesets_topic, ruleset.version):
        event = activation(ruleset, core.clock.now())
        elog.append([encode(event, topic=rulesets_topic, key=ruleset.version)])
        result.ruleset_recorded = True
    for start in range(0, len(planner.pending), APPEND_BATCH):
        elog.append(planner.pending[start : start + APPEND_BATCH])
    result.events_appended = len(planner.pending)
    return result


def _by_id(report: RuleReport) -> str:
    return report.rule_id


def _recorded(elog: EventLog, rulesets_topic: str, version: str) -> bool:
    return any(
        isinstance(r.event.data, RulesetActivated) and r.event.data.ruleset_version == version
        for r in read_events(elog, rulesets_topic)
    )


def _date(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def replay(
    since: Annotated[str, typer.Option("--since", help="Start (ISO date or time; UTC if naive).")],
    until: Annotated[str, typer.Option("--until", help="End, exclusive (ISO date or time).")],
    rules: Annotated[
        list[Path],
        typer.Option(
            "--rules", "-r", help="Rule file (repeatable; 'default' is the bundled pack)."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report; append nothing to the log.")
    ] = False,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table (default) or json.")
    ] = Format.TABLE,
    config: ConfigOption = None,
    log_url: LogOption = None,
) -> None:
    """Re-run stored history through a rule set; without --dry-run append its new alerts."""
    if fmt not in (Format.TABLE, Format.JSON):
        raise typer.BadParameter("--format must be table or json")
    start, end = _date(since, "--since"), _date(until, "--until")
    if end <= start:
        raise typer.BadParameter("--until must be after --since")
    try:
        ruleset = load_rules([str(p) for p in rules])
    except RulesetError as exc:
        raise ConfigError(f"invalid rule file(s):\n{exc}") from exc
    cfg = settings(config, log_url)
    with event_log(cfg, existing=True) as elog:
        result = replay_history(
            elog, cfg, ruleset, since=start, until=end, dry_run=dry_run, show_progress=True
        )
    summary = {
        "ruleset_version": result.ruleset_version,
        "since": start.isoformat(),
        "until": end.isoformat(),
        "articles": result.articles,
        "dry_run": dry_run,
        "events_appended": result.events_appended,
        "ruleset_recorded": result.ruleset_recorded,
        "rules": result.rows(),
    }
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    action = (
        "dry run, nothing appended" if dry_run else f"{result.events_appended} event(s) appended"
    )
    typer.echo(
        f"{result.articles} article(s) replayed from {start.isoformat()} to {end.isoformat()} "
        f"with rule set {result.ruleset_version}: {action}"
    )
    render(result.rows(), COLUMNS, Format.TABLE)
