"""JSON Schema files generated from the pydantic models, and the check that they are current.

One file per event type (``schemas/json/<type>.json``), the full envelope with its payload,
plus ``topics.json`` with the topic specs. Other languages and tools read these; the
models stay the single source.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from schemas.registry import EVENT_TYPES
from schemas.topics import TOPICS

JSON_DIR = Path(__file__).parent / "json"
EXAMPLES_DIR = Path(__file__).parent / "examples"


def generated() -> dict[str, str]:
    """File name -> exact file content, for every generated file."""
    files: dict[str, str] = {}
    for type_name, cls in sorted(EVENT_TYPES.items()):
        schema: dict[str, Any] = cls.model_json_schema(mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://tocsin.invalid/schemas/{type_name}.json",
            **schema,
            "title": type_name,
        }
        files[f"{type_name}.json"] = _dump(schema)
    files["topics.json"] = _dump({name: asdict(spec) for name, spec in sorted(TOPICS.items())})
    return files


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path = JSON_DIR) -> list[Path]:
    """Write every generated file; return those whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, content in generated().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    return changed


def stale(directory: Path = JSON_DIR) -> list[str]:
    """Names of generated files that are missing or differ on disk, and files that should not be there."""
    expected = generated()
    problems = [
        name
        for name, content in expected.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != content
    ]
    if directory.is_dir():
        problems += sorted(p.name for p in directory.glob("*.json") if p.name not in expected)
    return problems
