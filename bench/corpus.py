"""The shared corpus as the benches read it: where it is, and its news in a fixed order.

The corpus is ``$TOCSIN_CORPUS`` or ``../shared/corpus`` beside the repository. Its licence
allows research use, not redistribution: it is never copied into the repository, and a
bench without it prints a line and stops (``news_or_skip``), as on a fresh machine.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from itertools import cycle
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    env = os.environ.get("TOCSIN_CORPUS")
    return Path(env) if env else ROOT.parent / "shared" / "corpus"


def news_or_skip(bench: str) -> Path:
    """The corpus's news folder; without it, ends the bench with a line saying so and
    status 0 (a skip, not a failure)."""
    news = corpus_dir() / "news"
    if not news.is_dir():
        print(f"{bench}: skipped, no corpus at {news}")
        sys.exit(0)
    return news


def _files() -> list[Path]:
    return sorted((corpus_dir() / "news").glob("*.jsonl"))


def round_robin(limit: int, keep: Callable[[dict[str, str]], bool] | None = None) -> list[str]:
    """Up to ``limit`` JSONL lines taken a line per file in turn, so that every dataset is
    represented however small the limit; ``keep`` filters the records."""
    files = [path.open(encoding="utf-8") for path in _files()]
    out: list[str] = []
    live = list(files)
    for handle in cycle(files):
        if not live or len(out) >= limit:
            break
        if handle not in live:
            continue
        line = handle.readline()
        if not line:
            live.remove(handle)
            continue
        if keep is None or keep(json.loads(line)):
            out.append(line)
    for handle in files:
        handle.close()
    return out


def shuffled(limit: int) -> list[str]:
    """Every JSONL line of every file in one shuffled order (seed 7); the first ``limit``
    (all when 0)."""
    lines: list[str] = []
    for path in _files():
        with path.open(encoding="utf-8") as handle:
            lines.extend(line for line in handle if line.strip())
    random.Random(7).shuffle(lines)
    return lines[:limit] if limit else lines
