"""The rules service: analysts' rules over enriched articles, raising alerts with evidence.

Public API::

    load_rules(["default", "desk.yaml"]) -> RuleSet        # RulesetError lists file:line: field
    Evaluator(ruleset).matches(article_enriched) -> [Match]  # pure, indexed, with evidence
    Evaluator(ruleset).explain(article_enriched) -> [Explanation]   # held / failed conditions
    Engine(ruleset).process(article_enriched) -> [AlertRaised]      # windows, spikes,
                                                                    # suppression, stories
    rule_json_schema() -> dict                                # rule.schema.json for editors

Modules: ``model`` (the rule language), ``loader`` (YAML with lines, versions), ``view`` and
``conditions`` (evaluation), ``evaluate`` (compiled, indexed rule set), ``stories``
(near-duplicates), ``engine`` (alerts and state), ``history`` (reading the log),
``backtest``, ``runner`` (the service).
"""

from services.rules.engine import Engine, horizon
from services.rules.evaluate import CompiledRule, Evaluator, Explanation, Match
from services.rules.loader import (
    DEFAULT_PACK,
    LoadedRule,
    RuleError,
    RuleSet,
    RulesetError,
    load_file,
    load_rules,
    parse_rules,
)
from services.rules.model import Rule, RuleFile, rule_json_schema

__all__ = [
    "DEFAULT_PACK",
    "CompiledRule",
    "Engine",
    "Evaluator",
    "Explanation",
    "LoadedRule",
    "Match",
    "Rule",
    "RuleError",
    "RuleFile",
    "RuleSet",
    "RulesetError",
    "horizon",
    "load_file",
    "load_rules",
    "parse_rules",
    "rule_json_schema",
]

SCHEMA_FILE = "rule.schema.json"
