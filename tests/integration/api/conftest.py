"""Fixtures shared by the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import readside_events as ev
from fastapi import FastAPI
from readside_server import make_config, make_settings, open_test_log, project

from services.api.app import create_app


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[FastAPI]:
    """The app over a real SQLite log and read model holding the read-side scenario."""
    runtime, config = make_settings(tmp_path), make_config(tmp_path)
    log = open_test_log(runtime)
    ev.append(log, ev.scenario())
    project(runtime, log, config.read_model)
    yield create_app(config, runtime, log, follow_alerts=False)
    log.close()
