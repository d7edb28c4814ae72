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

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.lazy import exports

if TYPE_CHECKING:
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

#: Where each public name lives, imported on first use (PEP 562): the engine brings in
#: datasketch and SciPy (0.3 s, ~30 MB), which the processes that only load or check rule
#: files, or the CLI starting another service, do not need.
_HOME = {
    "Engine": "engine",
    "horizon": "engine",
    "CompiledRule": "evaluate",
    "Evaluator": "evaluate",
    "Explanation": "evaluate",
    "Match": "evaluate",
    "DEFAULT_PACK": "loader",
    "LoadedRule": "loader",
    "RuleError": "loader",
    "RuleSet": "loader",
    "RulesetError": "loader",
    "load_file": "loader",
    "load_rules": "loader",
    "parse_rules": "loader",
    "Rule": "model",
    "RuleFile": "model",
    "rule_json_schema": "model",
}


__getattr__ = exports(__name__, globals(), _HOME)


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
