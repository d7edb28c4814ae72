"""What tests of the ``tocsin`` command start from: the installed command, a one-article
JSONL source and a config file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

#: The ``tocsin`` script of the interpreter running the tests (its venv's).
TOCSIN = str(Path(sys.executable).parent / "tocsin")


def one_article_jsonl(
    folder: Path, title: str = "Armenia and Azerbaijan", body: str = "Talks."
) -> Path:
    """A JSONL source holding one article, as ``articles.jsonl`` in ``folder``."""
    path = folder / "articles.jsonl"
    path.write_text(json.dumps({"id": "1", "title": title, "body": body}) + "\n", encoding="utf-8")
    return path


def write_config(path: Path, **values: Any) -> Path:
    """``values`` as a YAML config file at ``path``."""
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path
