"""Loading rule files: YAML with line numbers, validation, versions, one rule set.

Why compose instead of ``yaml.safe_load``: the composed node tree keeps the line of every
key and item, so a validation error from pydantic (a path such as ``rules.3.when.all.1``)
can be reported as ``desk.yaml:42: rules[3].when.all[1]: ...``, which is what an analyst
needs to fix a file of a hundred rules.

Versions are content hashes: a rule's version hashes its definition as loaded (canonical
JSON, defaults filled in), so reformatting a file or moving a rule between files changes
nothing, while any change of meaning does; the rule set's version hashes its rules' ids and
versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.ids import content_hash
from services.rules.model import Rule, RuleFile

__all__ = [
    "DEFAULT_PACK",
    "LoadedRule",
    "RuleError",
    "RuleSet",
    "RulesetError",
    "load_file",
    "load_rules",
    "parse_rules",
    "rule_version",
    "ruleset_from_definitions",
]

DEFAULT_PACK = Path(__file__).parent / "packs" / "default.yaml"
MAX_FILE_BYTES = 5_000_000


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in a rule file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class RulesetError(Exception):
    """A rule file (or several) that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True, slots=True)
class LoadedRule:
    rule: Rule
    version: str
    origin: str = ""
    line: int | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    def definition(self) -> dict[str, Any]:
        return self.rule.model_dump(mode="json")


@dataclass(frozen=True)
class RuleSet:
    """The rules in force, in file order, with the set's content hash."""

    rules: tuple[LoadedRule, ...]
    files: tuple[str, ...] = ()
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            parts = sorted(f"{r.id}={r.version}" for r in self.rules)
            object.__setattr__(self, "version", "rs_" + content_hash(*parts)[:16])

    def get(self, rule_id: str) -> LoadedRule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def rule_version(rule: Rule) -> str:
    """Hash of the rule's definition (canonical JSON, defaults filled in)."""
    canonical = json.dumps(rule.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return "rv_" + content_hash(canonical)[:16]


# ------------------------------------------------------------------------------- YAML


class _AliasBomb(Exception):
    """A rule file whose aliases would build more values than its budget allows."""

    def __init__(self, line: int | None, field: str, limit: int) -> None:
        super().__init__(
            f"aliases expand the file past {limit:,} values: it would take minutes to read"
        )
        self.line, self.field = line, field


class _Located:
    """Python data built from YAML nodes, with the line of every path.

    An alias is built again wherever it is used (each use gets its own path and lines),
    so nine lines of aliases, each used nine times by the next, would build 43 million
    values: ``budget`` stops that. Without aliases a value takes at least one character,
    so a file without aliases never reaches a budget of one value per character (and
    10,000 more); anchors reused in the usual way stay far below it.
    """

    def __init__(self, loader: yaml.SafeLoader, budget: int) -> None:
        self.loader = loader
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.problems: list[tuple[int, str, str]] = []
        self.budget = self.limit = budget

    def build(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        self.budget -= 1
        if self.budget < 0:  # named after the key whose value the aliases expand
            keyed = next((i for i in range(len(path), 0, -1) if isinstance(path[i - 1], str)), 0)
            raise _AliasBomb(self.line(path[:keyed]), _dotted(path[:keyed]), self.limit)
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    self.problems.append(
                        (key_node.start_mark.line + 1, _dotted(path), "keys must be plain scalars")
                    )
                    continue
                key = str(key)
                if key in out:
                    self.problems.append(
                        (key_node.start_mark.line + 1, _dotted((*path, key)), "duplicate key")
                    )
                child = (*path, key)
                out[key] = self.build(value_node, child)
                self.lines[child] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def line(self, path: Sequence[str | int]) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _yaml_path(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """The data path of a pydantic error location (union tags in ``loc`` are skipped)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if (isinstance(current, dict) and isinstance(part, str) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            current = current[part]  # type: ignore[index]  # a str for dicts, an int for lists
            path.append(part)
        elif isinstance(current, dict | list):
            continue  # a union tag, or a field that is missing from the data
        else:
            path.append(part)
    if loc and isinstance(loc[-1], str) and (not path or path[-1] != loc[-1]):
        # a missing field: name it after the mapping that lacks it
        path.append(loc[-1])
    return tuple(path)


def _not_yaml(origin: str, text: str, exc: yaml.YAMLError) -> RulesetError:
    """The YAML error at its line: a parse error's mark, or the position of a character
    YAML does not allow (a control character pasted in: ``ReaderError``, raised as soon as
    the loader is made)."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        problem = f"the character U+{exc.character:04X} is not allowed"
    return RulesetError([RuleError(origin, line, "", f"not valid YAML: {problem or exc}")])


def parse_rules(text: str, origin: str) -> list[LoadedRule]:
    """Validate one rule file's text; ``RulesetError`` lists every problem with its line."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise _not_yaml(origin, text, exc) from None
    try:
        # parsing, then building the values ("=" alone, an unknown !tag: ConstructorError)
        node = loader.get_single_node()
        located = _Located(loader, budget=len(text) + 10_000)
        data = {} if node is None else located.build(node, ())
    except yaml.YAMLError as exc:
        raise _not_yaml(origin, text, exc) from None
    except _AliasBomb as exc:
        raise RulesetError([RuleError(origin, exc.line, exc.field, str(exc))]) from None
    finally:
        loader.dispose()
    errors = [RuleError(origin, line, field, message) for line, field, message in located.problems]
    if isinstance(data, list):
        data = {"rules": data}
        located.lines = {("rules", *k): v for k, v in located.lines.items()}
    if not isinstance(data, dict):
        raise RulesetError(
            [RuleError(origin, 1, "", "a rule file is a mapping with a 'rules' list")]
        )
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            path = _yaml_path(data, err["loc"])
            errors.append(RuleError(origin, located.line(path), _dotted(path), err["msg"]))
        raise RulesetError(errors) from None
    seen: dict[str, int] = {}
    loaded: list[LoadedRule] = []
    for index, rule in enumerate(parsed.rules):
        line = located.line(("rules", index))
        if rule.id in seen:
            errors.append(
                RuleError(
                    origin,
                    located.line(("rules", index, "id")),
                    f"rules[{index}].id",
                    f"duplicate rule id {rule.id!r} (first at rules[{seen[rule.id]}])",
                )
            )
            continue
        seen[rule.id] = index
        loaded.append(LoadedRule(rule, rule_version(rule), origin, line))
    if errors:
        raise RulesetError(errors)
    return loaded


def load_file(path: Path | str) -> list[LoadedRule]:
    path = Path(path)
    origin = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RulesetError([RuleError(origin, None, "", f"larger than {MAX_FILE_BYTES} bytes")])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError([RuleError(origin, None, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise RulesetError([RuleError(origin, None, "", f"not UTF-8 text: {exc.reason}")]) from None
    return parse_rules(text, origin)


def resolve_spec(spec: str, base: Path | None = None) -> Path:
    """``default`` is the bundled pack; anything else a path (relative to ``base``)."""
    if spec == "default":
        return DEFAULT_PACK
    path = Path(spec).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def load_rules(specs: Sequence[str], base: Path | None = None) -> RuleSet:
    """Every file named by ``specs``, validated together (ids unique across files)."""
    errors: list[RuleError] = []
    rules: list[LoadedRule] = []
    files: list[str] = []
    owners: dict[str, str] = {}
    for spec in dict.fromkeys(specs):
        path = resolve_spec(spec, base)
        files.append("default" if spec == "default" else str(path))
        try:
            loaded = load_file(path)
        except RulesetError as exc:
            errors.extend(exc.errors)
            continue
        for rule in loaded:
            if rule.id in owners:
                errors.append(
                    RuleError(
                        rule.origin,
                        rule.line,
                        "id",
                        f"rule id {rule.id!r} is also defined in {owners[rule.id]}",
                    )
                )
                continue
            owners[rule.id] = rule.origin
            rules.append(rule)
    if errors:
        raise RulesetError(errors)
    return RuleSet(tuple(rules), tuple(files))


def ruleset_from_definitions(
    definitions: Iterable[tuple[dict[str, Any], str]], files: Sequence[str] = ()
) -> RuleSet:
    """A rule set from recorded definitions (``ruleset.activated``): (definition, origin)."""
    rules = []
    for definition, origin in definitions:
        rule = Rule.model_validate(definition)
        rules.append(LoadedRule(rule, rule_version(rule), origin))
    return RuleSet(tuple(rules), tuple(files))
