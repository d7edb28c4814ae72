"""Matches to alerts: windows, spikes, suppression and stories. Pure: events in, alerts out.

State, all of it rebuilt from the log at start (``runner``):

- open alerts per (rule, version, group): the last revision raised. A match for an open
  alert younger than the rule's ``suppress`` updates it (a new revision) when a new source
  joins, and is dropped otherwise; after ``suppress`` a new alert (new key, new id) is raised;
- windows per (rule, version, group): the matching articles of the last ``within``;
- spike counts per (rule, version, group): match times over ``window + baseline``;
- stories: MinHash signatures of the articles in open alerts, so that a copy of a story from
  another source joins its alert instead of raising one of its own.

Time is the article's ``published_at`` (event time), so a replay of the same events gives
the same windows and the same alerts, whenever it runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from string import Template

from schemas.alerts import AlertArticle, AlertRaised, Evidence
from schemas.articles import ArticleEnriched
from schemas.ids import alert_id
from services.rules.evaluate import CompiledRule, Evaluator, Match
from services.rules.loader import RuleSet
from services.rules.model import GroupBy
from services.rules.stories import MinHash, Stories, signature
from services.rules.view import ArticleView

__all__ = ["MAX_ARTICLES", "Engine", "horizon"]

MAX_ARTICLES = 50
MAX_EVIDENCE = 40
PER_CONDITION = 3
MAX_GROUP_COUNTRIES = 5

RuleKey = tuple[str, str]  # rule id, rule version


@dataclass(slots=True)
class _Open:
    alert: AlertRaised
    sources: set[str]
    articles: set[str]


@dataclass(slots=True)
class _Entry:
    time: datetime
    article: AlertArticle
    evidence: tuple[Evidence, ...]
    countries: tuple[str, ...] = ()


@dataclass(slots=True)
class _Window:
    entries: deque[_Entry] = field(default_factory=deque)
    newest: datetime | None = None


def horizon(ruleset: RuleSet) -> timedelta:
    """How far back state matters: the longest window, spike span or suppression."""
    longest = timedelta(hours=1)
    for loaded in ruleset.rules:
        rule = loaded.rule
        longest = max(longest, rule.suppress)
        if rule.window is not None:
            longest = max(longest, rule.window.within)
        if rule.spike is not None:
            longest = max(longest, rule.spike.window + rule.spike.baseline)
    return longest


class Engine:
    """One rule set and its state. ``process(article)`` -> the alerts (new or updated) to emit."""

    def __init__(self, ruleset: RuleSet, evaluator: Evaluator | None = None) -> None:
        self.ruleset = ruleset
        self.evaluator = evaluator or Evaluator(ruleset)
        self.horizon = horizon(ruleset)
        self._open: dict[tuple[str, str, str], _Open] = {}
        self._story_of: dict[tuple[str, str, str], str] = {}  # (rule, version, article) -> group
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._stories = Stories()
        self._alerted: set[str] = set()  # articles of the alerts remembered from the log
        self._newest: datetime | None = None

    def replace_ruleset(self, ruleset: RuleSet) -> None:
        """New rules, same state: rules whose version did not change keep their windows and
        open alerts (state is keyed by rule id and version)."""
        self.ruleset = ruleset
        self.evaluator = Evaluator(ruleset)
        self.horizon = horizon(ruleset)

    # -- state from the log ---------------------------------------------------------------

    def remember(self, alert: AlertRaised) -> None:
        """An alert already on the log (``alerts.raised``): it is open, never raised again."""
        group = _group_of(alert.key)
        slot = (alert.rule_id, alert.rule_version, group)
        known = self._open.get(slot)
        if known is not None and known.alert.alert_id == alert.alert_id:
            if known.alert.revision >= alert.revision:
                return
        elif known is not None and known.alert.first_seen > alert.first_seen:
            return
        self._open[slot] = _Open(
            alert, {a.source_id for a in alert.articles}, {a.article_id for a in alert.articles}
        )
        for article in alert.articles:
            self._story_of[(alert.rule_id, alert.rule_version, article.article_id)] = group
            self._alerted.add(article.article_id)

    def warm(self, event: ArticleEnriched) -> None:
        """Replay an article processed before the restart: windows and stories, no alerts."""
        self.process(event, live=False)

    def recall(self, event: ArticleEnriched) -> None:
        """An article past the committed offsets, to be processed again after the restart.

        It stays out of the windows (processing it again puts it there, and warming it now
        would make the window skip it then, losing an alert that was never appended). But if
        an alert on the log already holds it, its text joins the stories now: otherwise a
        copy from another partition, processed before it, finds no story and raises a
        second alert for the same story.
        """
        article = event.article
        if article.article_id in self._alerted:
            self._join_story(
                article.article_id,
                _signature(self.evaluator.view(event)),
                article.published_at,
            )

    # -- the core --------------------------------------------------------------------------

    def process(self, event: ArticleEnriched, *, live: bool = True) -> list[AlertRaised]:
        view = self.evaluator.view(event)
        matches = self.evaluator.matches(view)
        time = event.article.published_at
        self._newest = time if self._newest is None else max(self._newest, time)
        self._stories.forget_before(self._newest - self.horizon)
        out: list[AlertRaised] = []
        for match in matches:
            rule = match.rule
            entry = _Entry(
                time, _article(event), tuple(self._evidence(view, match)), event.countries
            )
            if rule.rule.window is None and rule.rule.spike is None:
                alert = self._story(view, match, entry, live)
            else:
                alert = self._windowed(view, match, entry, live)
            out.extend(alert)
        return out

    # -- single-article rules: one alert per story ------------------------------------------

    def _story(
        self, view: ArticleView, match: Match, entry: _Entry, live: bool
    ) -> list[AlertRaised]:
        rule = match.rule
        article_id = entry.article.article_id
        sig = None
        group = self._story_of.get((rule.id, rule.version, article_id))
        if group is None:
            sig = _signature(view)
            for other in self._stories.similar(sig):
                group = self._story_of.get((rule.id, rule.version, other))
                if group is not None:
                    break
        if group is not None:
            slot = (rule.id, rule.version, group)
            opened = self._open.get(slot)
            if opened is not None and entry.time - opened.alert.first_seen < rule.rule.suppress:
                self._join_story(article_id, sig or _signature(view), entry.time)
                self._story_of[(rule.id, rule.version, article_id)] = group
                if article_id in opened.articles or entry.article.source_id in opened.sources:
                    return []  # the same article again, or a copy from a source already counted
                if not live:
                    return []
                return [self._update(rule, slot, opened, [entry])]
        if not live:
            return []
        group = article_id
        self._story_of[(rule.id, rule.version, article_id)] = group
        self._join_story(article_id, sig or _signature(view), entry.time)
        return [self._raise(rule, (rule.id, rule.version, group), article_id, [entry])]

    def _join_story(self, article_id: str, sig: MinHash, time: datetime) -> None:
        self._stories.add(article_id, sig, time)

    # -- windows and spikes ------------------------------------------------------------------

    def _windowed(
        self, view: ArticleView, match: Match, entry: _Entry, live: bool
    ) -> list[AlertRaised]:
        rule = match.rule
        spec_window, spec_spike = rule.rule.window, rule.rule.spike
        group_by = spec_window.group_by if spec_window else spec_spike.group_by  # type: ignore[union-attr]
        out = []
        for value in _group_values(group_by, view, match):
            slot = (rule.id, rule.version, value)
            window = self._windows.setdefault(slot, _Window())
            if any(e.article.article_id == entry.article.article_id for e in window.entries):
                continue
            window.entries.append(entry)
            window.newest = entry.time if window.newest is None else max(window.newest, entry.time)
            if spec_window is not None:
                span = spec_window.within
                _evict(window, window.newest - span)
                members = [e for e in window.entries if e.time > window.newest - span]
                sources = {e.article.source_id for e in members}
                fires = len(members) >= spec_window.articles and len(sources) >= spec_window.sources
            else:
                assert spec_spike is not None
                _evict(window, window.newest - spec_spike.window - spec_spike.baseline)
                cut = window.newest - spec_spike.window
                members = [e for e in window.entries if e.time > cut]
                base = sum(1 for e in window.entries if e.time <= cut)
                rate = base * (spec_spike.window / spec_spike.baseline)
                fires = (
                    len(members) >= spec_spike.min_count and len(members) >= spec_spike.ratio * rate
                )
            if not fires or not live or entry not in members:
                continue
            opened = self._open.get(slot)
            if opened is not None and entry.time - opened.alert.first_seen < rule.rule.suppress:
                fresh = [e for e in members if e.article.article_id not in opened.articles]
                new_sources = {e.article.source_id for e in fresh} - opened.sources
                if new_sources:
                    out.append(self._update(rule, slot, opened, fresh))
                continue
            first = min(members, key=lambda e: (e.time, e.article.article_id))
            key = f"{value}@{first.time.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            out.append(self._raise(rule, slot, key, members))
        return out

    # -- alerts ------------------------------------------------------------------------------

    def _raise(
        self, rule: CompiledRule, slot: tuple[str, str, str], key: str, entries: list[_Entry]
    ) -> AlertRaised:
        entries = sorted(entries, key=lambda e: (e.time, e.article.article_id))
        articles = _unique_articles(e.article for e in entries)
        alert = AlertRaised(
            alert_id=alert_id(rule.id, rule.version, key),
            rule_id=rule.id,
            rule_version=rule.version,
            ruleset_version=self.ruleset.version,
            severity=rule.rule.severity,
            labels=_labels(rule),
            title="",
            key=key,
            articles=articles[:MAX_ARTICLES],
            evidence=_cap(ev for e in entries for ev in e.evidence),
            first_seen=entries[0].time,
            last_seen=entries[-1].time,
            source_count=len({a.source_id for a in articles}),
        )
        alert = _render(rule, alert, entries)
        self._open[slot] = _Open(
            alert, {a.source_id for a in articles}, {a.article_id for a in articles}
        )
        return alert

    def _update(
        self, rule: CompiledRule, slot: tuple[str, str, str], opened: _Open, fresh: list[_Entry]
    ) -> AlertRaised:
        previous = opened.alert
        fresh = sorted(fresh, key=lambda e: (e.time, e.article.article_id))
        articles = _unique_articles([*previous.articles, *(e.article for e in fresh)])
        opened.articles.update(e.article.article_id for e in fresh)
        opened.sources.update(e.article.source_id for e in fresh)
        alert = replace_alert(
            previous,
            articles=articles[:MAX_ARTICLES],
            evidence=_cap([*previous.evidence, *(ev for e in fresh for ev in e.evidence)]),
            first_seen=min(previous.first_seen, fresh[0].time),
            last_seen=max(previous.last_seen, fresh[-1].time),
            source_count=len(opened.sources),
            revision=previous.revision + 1,
        )
        alert = _render(rule, alert, fresh)
        opened.alert = alert
        return alert

    def _evidence(self, view: ArticleView, match: Match) -> list[Evidence]:
        article_id = view.article.article_id
        out = []
        for found in match.found:
            picked, surfaces = [], set()
            for occ in found.occurrences:  # distinct surface forms first
                if occ.surface not in surfaces:
                    surfaces.add(occ.surface)
                    picked.append(occ)
            picked = (picked + [o for o in found.occurrences if o not in picked])[:PER_CONDITION]
            for occ in picked:
                span = view.sentence_span(occ.start) if match.scoped else None
                out.append(
                    Evidence(
                        article_id=article_id,
                        condition=found.label,
                        surface=occ.surface,
                        snippet=view.snippet(occ.start, occ.end, span),
                        start=occ.start,
                        end=occ.end,
                        sentence=view.sentence_of(occ.start),
                    )
                )
        return out


def _signature(view: ArticleView) -> MinHash:
    """The story's text: the body when it says enough (headlines differ between outlets)."""
    body = view.article.text or view.article.summary
    return signature(body if len(body.split()) >= 8 else view.text)


def replace_alert(alert: AlertRaised, **changes: object) -> AlertRaised:
    return alert.model_copy(update=changes)


def _group_of(key: str) -> str:
    """The group a key belongs to: a window key is "group@first-seen"; else the key itself."""
    return key.rsplit("@", 1)[0] if "@" in key else key


def _evict(window: _Window, cutoff: datetime) -> None:
    while window.entries and window.entries[0].time <= cutoff:
        window.entries.popleft()
    if any(e.time <= cutoff for e in window.entries):  # late arrivals, out of order
        window.entries = deque(e for e in window.entries if e.time > cutoff)


def _group_values(group_by: GroupBy, view: ArticleView, match: Match) -> list[str]:
    if group_by == "rule":
        return ["*"]
    spans = {(o.start, o.end) for f in match.found for o in f.occurrences}
    matched = [e for e in view.event.entities if any((m.start, m.end) in spans for m in e.mentions)]
    if group_by == "entity":
        return sorted({e.id for e in matched})
    countries = list(dict.fromkeys(c for e in matched for c in e.countries))
    if len(countries) < (2 if group_by == "country-pair" else 1):
        countries = list(dict.fromkeys([*countries, *view.event.countries]))
    countries = sorted(countries[:MAX_GROUP_COUNTRIES])
    if group_by == "country":
        return countries
    return [f"{a}-{b}" for a, b in combinations(countries, 2)]


def _article(event: ArticleEnriched) -> AlertArticle:
    a = event.article
    return AlertArticle(
        article_id=a.article_id,
        url=a.url,
        title=a.title,
        source_id=a.source_id,
        published_at=a.published_at,
    )


def _unique_articles(articles: Iterable[AlertArticle]) -> tuple[AlertArticle, ...]:
    return tuple({a.article_id: a for a in articles}.values())


def _cap(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    out: dict[tuple[str, str, int], Evidence] = {}
    for ev in evidence:
        out.setdefault((ev.article_id, ev.condition, ev.start), ev)
        if len(out) >= MAX_EVIDENCE:
            break
    return tuple(out.values())


def _labels(rule: CompiledRule) -> dict[str, str]:
    labels = dict(rule.rule.labels)
    if rule.rule.owner:
        labels.setdefault("owner", rule.rule.owner)
    return labels


def _render(rule: CompiledRule, alert: AlertRaised, entries: list[_Entry]) -> AlertRaised:
    latest = entries[-1].article
    values = {
        "rule_id": rule.id,
        "rule_title": rule.rule.title,
        "severity": str(alert.severity),
        "key": alert.key,
        "article_title": latest.title or latest.article_id,
        "source": latest.source_id,
        "source_count": str(alert.source_count),
        "article_count": str(len(alert.articles)),
        "countries": ", ".join(dict.fromkeys(c for e in entries for c in e.countries)),
        "matched": ", ".join(dict.fromkeys(ev.surface for ev in alert.evidence)),
    }
    title = Template(rule.rule.alert_title).safe_substitute(values)
    description = Template(rule.rule.alert_description).safe_substitute(values)
    return alert.model_copy(
        update={"title": title[:500] or rule.rule.title, "description": description[:4000]}
    )
