"""Fixtures shared by every test: the real Kafka-protocol broker and the corpus location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from kafka_broker import kafka_bootstrap, kafka_test_url

__all__ = ["corpus", "kafka_bootstrap", "kafka_test_url"]

REPO = Path(__file__).resolve().parents[1]

# The property tests (rules, the API's OpenAPI fuzzing) explore new examples on every run
# here; in CI the same ones each time, so that a red build always means a change did it.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus beside the repo (or TOCSIN_CORPUS); tests that need it skip without it."""
    path = Path(os.environ.get("TOCSIN_CORPUS", REPO.parent / "shared" / "corpus"))
    if not path.is_dir():
        pytest.skip(f"the shared corpus is not at {path} (set TOCSIN_CORPUS)")
    return path
