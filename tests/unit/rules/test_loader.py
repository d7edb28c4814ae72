"""Rule files: validation errors with file, line and field; versions; the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from services.cli.app import app
from services.rules import DEFAULT_PACK, RulesetError, load_rules, parse_rules
from services.rules.model import SCHEMA_PATH, rule_json_schema, schema_text

BAD = """\
rules:
  - id: fine
    title: Fine
    when:
      entity: country:AM
  - id: broken
    title: Broken
    severity: urgent
    when:
      all:
        - entity: country:AM
        - entty: x
        - terms: []
    window: {articles: 2, within: 6x}
  - title: no id
    when: {tag: summit}
"""


def test_errors_name_file_line_and_field() -> None:
    with pytest.raises(RulesetError) as info:
        parse_rules(BAD, "desk.yaml")
    lines = [str(e) for e in info.value.errors]
    assert lines[0].startswith("desk.yaml:8: rules[1].severity: ")
    assert lines[1].startswith("desk.yaml:12: rules[1].when.all[1]: a condition is a mapping")
    assert lines[2].startswith("desk.yaml:13: rules[1].when.all[2].terms: ")
    assert lines[3].startswith("desk.yaml:14: rules[1].window.within: ")
    assert "not a duration" in lines[3]
    assert lines[4].startswith("desk.yaml:15: rules[2].id: Field required")


BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefgh", strict=False)
) + ("\nrules:\n  - id: bomb\n    title: bomb\n    when:\n      terms: *h\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n  {id: a,", "x.yaml:2: not valid YAML"),
        # a control character pasted in: refused by YAML's reader before any parsing
        ("rules:\n  - id: a\x1f\n", "x.yaml:2: not valid YAML: the character U+001F"),
        # values YAML cannot build: its "value" tag (a lone "="), a tag it does not know
        ("rules:\n  - =\n", "x.yaml:2: not valid YAML: could not determine a constructor"),
        ("rules:\n  - id: !python/object a\n", "x.yaml:2: not valid YAML: could not determine"),
        ("- 1\n- 2\n", "x.yaml:1: rules[0]: Input should be a valid dictionary"),
        # an alias bomb: built out, nine levels of nine would be 43 million values
        (BOMB, "x.yaml:5: e: aliases expand the file past"),
        (
            "rules:\n  - id: a\n    id: b\n    title: t\n    when: {tag: x}\n",
            "x.yaml:3: rules[0].id: duplicate key",
        ),
        (
            "rules:\n  - {id: a, title: t, when: {tag: x}}\n  - {id: a, title: u, when: {tag: y}}\n",
            "x.yaml:3: rules[1].id: duplicate rule id 'a'",
        ),
        (
            "rules:\n  - id: a\n    title: t\n    alert_title: $nope\n    when: {tag: x}\n",
            "x.yaml:4: rules[0].alert_title: Value error, unknown placeholder(s) $nope",
        ),
        (
            "rules:\n  - id: a\n    title: t\n    when: {at_least: 3, of: [{tag: x}]}\n",
            "x.yaml:4: rules[0].when.at_least: Value error, at_least 3 of only 1",
        ),
        (
            "rules:\n  - id: a\n    title: t\n    when: {tag: x, entity: y}\n",
            "x.yaml:4: rules[0].when: a condition",
        ),
    ],
)
def test_more_errors(text: str, expected: str) -> None:
    with pytest.raises(RulesetError) as info:
        parse_rules(text, "x.yaml")
    assert any(str(e).startswith(expected) for e in info.value.errors), info.value


def test_versions_are_content_hashes(tmp_path: Path) -> None:
    one = "rules:\n  - id: a\n    title: t\n    when: {entity: country:AM}\n"
    same = "rules:\n- {title: t, id: a, when: {entity: [country:AM]}, severity: medium}\n"
    other = "rules:\n  - id: a\n    title: t\n    when: {entity: country:AZ}\n"
    (tmp_path / "1.yaml").write_text(one)
    (tmp_path / "2.yaml").write_text(same)
    (tmp_path / "3.yaml").write_text(other)
    v1, v2, v3 = (load_rules([str(tmp_path / f"{i}.yaml")]) for i in (1, 2, 3))
    assert v1.rules[0].version == v2.rules[0].version != v3.rules[0].version
    assert v1.version == v2.version != v3.version


def test_ids_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - {id: x, title: t, when: {tag: a}}\n")
    (tmp_path / "b.yaml").write_text("rules:\n  - {id: x, title: u, when: {tag: b}}\n")
    with pytest.raises(RulesetError, match="also defined in"):
        load_rules([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="cannot read"):
        load_rules([str(tmp_path / "nope.yaml")])


def test_schema_file_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "services/rules/rule.schema.json is stale: run python -m services.rules.model"
    )


def test_default_pack_validates_against_the_json_schema() -> None:
    data = yaml.safe_load(DEFAULT_PACK.read_text(encoding="utf-8"))
    jsonschema.validate(data, rule_json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"rules": [{"id": "a", "title": "t", "when": {"bogus": 1}}]}, rule_json_schema()
        )
    assert json.loads(SCHEMA_PATH.read_text())["title"] == "Tocsin rule file"


def test_cli_check(tmp_path: Path) -> None:
    bad = tmp_path / "desk.yaml"
    bad.write_text(BAD)
    result = CliRunner().invoke(app, ["rules", "check", str(DEFAULT_PACK), str(bad)])
    assert result.exit_code == 1
    assert f"{DEFAULT_PACK}: ok, " in result.output
    assert f"{bad}:8: rules[1].severity:" in result.output
    ok = CliRunner().invoke(app, ["rules", "check", str(DEFAULT_PACK)])
    assert ok.exit_code == 0


def test_anchors_and_aliases_used_as_analysts_use_them_load() -> None:
    first = (
        "  - id: r0\n    title: t\n    when:\n      all: [{entity: country:AM}, "
        "{terms: &border [border, clash*, shelling, ceasefire, artillery, troops]}]\n"
    )
    others = "".join(
        f"  - id: r{i}\n    title: t\n    when:\n"
        f"      all: [{{entity: country:AM}}, {{terms: *border}}]\n"
        for i in range(1, 300)
    )
    rules = parse_rules("rules:\n" + first + others, "x.yaml")
    assert len(rules) == 300
    assert rules[299].rule.when.all[1].terms == rules[0].rule.when.all[1].terms  # type: ignore[union-attr]
    assert len(rules[299].rule.when.all[1].terms) == 6  # type: ignore[union-attr]
