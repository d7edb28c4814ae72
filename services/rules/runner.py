"""The rules service: articles.enriched in, alerts.raised (and rulesets) out.

At start it
1. loads the configured rule files (``Settings.rules``: "default" is the bundled pack); if
   they are invalid it falls back to the last rule set recorded on the log, and refuses to
   start only when there is none;
2. records the rule set (``ruleset.activated``) when its version is not the last recorded;
3. rebuilds its state: the alerts raised within the horizon (``alerts.raised``: open alerts
   and suppression), then the articles it had already processed within the horizon
   (``articles.enriched`` up to its committed offsets: windows and stories), so that no
   window is lost and no alert is raised twice. Articles past the committed offsets are
   processed again once it runs (on Kafka, outputs are appended before offsets are
   committed); those an alert on the log already holds rejoin their story at start, so
   that the order in which partitions are read again cannot split a story.

While running, it re-reads the rule files when they change (checked every few seconds
between records): a valid new version replaces the rules and is recorded in the same commit
as the batch; an invalid file is logged and the running rules stay.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from schemas import AlertRaised, ArticleEnriched, CloudEvent, RuleRef, RulesetActivated, new_event
from schemas.ids import content_hash
from services.eventlog import EventLog, Record
from services.eventlog.codec import encode
from services.rules.engine import Engine
from services.rules.history import read_events
from services.rules.loader import (
    RuleSet,
    RulesetError,
    load_rules,
    resolve_spec,
    ruleset_from_definitions,
)
from services.runtime.bootstrap import group, topic
from services.runtime.clock import Clock
from services.runtime.loop import ConsumerLoop, Emit, LoopSettings
from services.runtime.service import ConsumerService, ServiceContext
from services.runtime.settings import ConfigError

__all__ = ["NAME", "RulesCore", "RulesService", "activation", "build", "last_activated"]

NAME = "rules"
SOURCE = "/tocsin/rules"
RELOAD_EVERY_S = 5.0

log = logging.getLogger(__name__)


def activation(ruleset: RuleSet, now: datetime) -> CloudEvent:
    """The ``ruleset.activated`` event recording a rule set with every rule's definition."""
    payload = RulesetActivated(
        ruleset_version=ruleset.version,
        activated_at=now,
        rules=tuple(
            RuleRef(
                id=r.id,
                version=r.version,
                title=r.rule.title,
                origin=r.origin,
                definition=r.definition(),
            )
            for r in ruleset.rules
        ),
        files=ruleset.files,
    )
    ident = "rsa_" + content_hash(ruleset.version, now.isoformat())
    return new_event(payload, id=ident, source=SOURCE, subject=ruleset.version, time=now)


def last_activated(elog: EventLog, rulesets_topic: str) -> RulesetActivated | None:
    last = None
    for read in read_events(elog, rulesets_topic):
        if isinstance(read.event.data, RulesetActivated):
            last = read.event.data
    return last


class RulesCore:
    """The handler's state: the engine, the rule files it watches, the clock. No I/O but the
    rule files."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        clock: Clock,
        alerts_topic: str,
        rulesets_topic: str,
        specs: Sequence[str] = (),
        base: Path | None = None,
    ) -> None:
        self.engine = Engine(ruleset)
        self.clock = clock
        self.alerts_topic = alerts_topic
        self.rulesets_topic = rulesets_topic
        self.specs = list(specs)
        self.base = base
        self._stamps = self._file_stamps()
        self._checked = clock.monotonic()
        self.load_errors = 0

    @property
    def ruleset(self) -> RuleSet:
        return self.engine.ruleset

    def __call__(self, event: CloudEvent, record: Record) -> Iterable[Emit]:
        out = self.reload_if_changed()
        if isinstance(event.data, ArticleEnriched):
            out.extend(self.emit(alert, event) for alert in self.engine.process(event.data))
        return out

    def emit(self, alert: AlertRaised, cause: CloudEvent | None = None) -> Emit:
        ident = alert.alert_id if alert.revision == 0 else f"{alert.alert_id}-r{alert.revision}"
        event = new_event(
            alert,
            id=ident,
            source=SOURCE,
            subject=alert.alert_id,
            time=self.clock.now(),
            correlationid=alert.articles[-1].article_id,
            causationid=cause.id if cause is not None else None,
        )
        return Emit(self.alerts_topic, alert.alert_id, event)

    # -- reloading ------------------------------------------------------------------------

    def _file_stamps(self) -> dict[str, float | None]:
        stamps: dict[str, float | None] = {}
        for spec in self.specs:
            path = resolve_spec(spec, self.base)
            try:
                stamps[str(path)] = os.stat(path).st_mtime_ns
            except OSError:
                stamps[str(path)] = None
        return stamps

    def reload_if_changed(self, force: bool = False) -> list[Emit]:
        """A valid new rule set replaces the running one (recorded); an invalid one is refused."""
        if not self.specs:
            return []
        now = self.clock.monotonic()
        if not force and now - self._checked < RELOAD_EVERY_S:
            return []
        self._checked = now
        stamps = self._file_stamps()
        if not force and stamps == self._stamps:
            return []
        self._stamps = stamps
        try:
            ruleset = load_rules(self.specs, self.base)
        except RulesetError as exc:
            self.load_errors += 1
            log.error("rule files changed but are invalid; the running rules stay:\n%s", exc)
            return []
        if ruleset.version == self.ruleset.version:
            return []
        self.engine.replace_ruleset(ruleset)
        log.info("rule set %s activated (%d rules)", ruleset.version, len(ruleset.rules))
        event = activation(ruleset, self.clock.now())
        return [Emit(self.rulesets_topic, ruleset.version, event)]

    # -- state from the log -----------------------------------------------------------------

    def rebuild(self, elog: EventLog, enriched_topic: str, group: str) -> tuple[int, int]:
        """Open alerts, then the windows of the already processed articles; returns counts."""
        since = self.clock.now() - self.engine.horizon
        since_ms = int(since.timestamp() * 1000)
        alerts = 0
        for read in read_events(elog, self.alerts_topic, since_ms=since_ms):
            if isinstance(read.event.data, AlertRaised):
                self.engine.remember(read.event.data)
                alerts += 1
        committed = elog.committed(group)
        articles = 0
        for read in read_events(elog, enriched_topic, since_ms=since_ms):
            if isinstance(read.event.data, ArticleEnriched):
                if read.record.offset < committed.get(read.record.tp, 0):
                    self.engine.warm(read.event.data)
                    articles += 1
                else:  # processed again after the start: only its story, if alerted
                    self.engine.recall(read.event.data)
        return alerts, articles


def _configured(context: ServiceContext, specs: Sequence[str], base: Path | None) -> RuleSet:
    rulesets_topic = topic(context.settings, "rulesets")
    try:
        return load_rules(specs, base)
    except RulesetError as exc:
        last = last_activated(context.log, rulesets_topic)
        if last is None:
            raise ConfigError(f"the rule files are invalid:\n{exc}") from exc
        log.error(
            "the rule files are invalid; running the last recorded rule set %s:\n%s",
            last.ruleset_version,
            exc,
        )
        return ruleset_from_definitions(((r.definition, r.origin) for r in last.rules), last.files)


class RulesService:
    """The consumer loop, after the rule set is recorded and the state rebuilt."""

    def __init__(self, context: ServiceContext, core: RulesCore, loop: ConsumerLoop) -> None:
        self.name = NAME
        self.context = context
        self.core = core
        self.inner = ConsumerService(NAME, loop)
        self._prepared = False

    def prepare(self) -> None:
        if self._prepared:
            return
        settings, elog = self.context.settings, self.context.log
        rulesets_topic = topic(settings, "rulesets")
        last = last_activated(elog, rulesets_topic)
        if last is None or last.ruleset_version != self.core.ruleset.version:
            event = activation(self.core.ruleset, self.context.clock.now())
            elog.append([encode(event, topic=rulesets_topic, key=self.core.ruleset.version)])
        alerts, articles = self.core.rebuild(
            elog, topic(settings, "articles.enriched"), group(settings, NAME)
        )
        log.info("rules: state rebuilt from %d alerts and %d articles", alerts, articles)
        self._prepared = True

    def run(self) -> None:
        self.prepare()
        self.inner.run()

    def run_until_idle(self) -> None:
        self.prepare()
        self.inner.run_until_idle()


def build(context: ServiceContext) -> RulesService:
    settings = context.settings
    specs = list(settings.section("rules")) or ["default"]
    base = Path.cwd()
    ruleset = _configured(context, specs, base)
    core = RulesCore(
        ruleset,
        clock=context.clock,
        alerts_topic=topic(settings, "alerts.raised"),
        rulesets_topic=topic(settings, "rulesets"),
        specs=specs,
        base=base,
    )
    loop = ConsumerLoop(
        context.log,
        group=group(settings, NAME),
        topics=[topic(settings, "articles.enriched")],
        handler=core,
        deadletter_topic=topic(settings, "deadletter"),
        stop=context.stop,
        settings=LoopSettings.from_runtime(settings.runtime),
        metrics=context.metrics,
        source=SOURCE,
    )
    return RulesService(context, core, loop)
