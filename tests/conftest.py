"""Fixtures shared by every test: the real Kafka-protocol broker and the corpus location."""

from __future__ import annotations

import os
import socket
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


# Every server the tests start is on this machine (some by its name): a proxy that the machine's environment
# names (a CI runner's, for its package registries) must not carry their traffic, now that
# the poller and the notifier go through the environment's proxy as httpx does. The proxy
# tests set and clear these variables themselves.
_LOOPBACK = f"localhost,127.0.0.1,127.0.0.2,::1,{socket.gethostname()}"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(v for v in (os.environ.get(_name), _LOOPBACK) if v)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus beside the repo (or TOCSIN_CORPUS); tests that need it skip without it."""
    path = Path(os.environ.get("TOCSIN_CORPUS", REPO.parent / "shared" / "corpus"))
    if not path.is_dir():
        pytest.skip(f"the shared corpus is not at {path} (set TOCSIN_CORPUS)")
    return path
