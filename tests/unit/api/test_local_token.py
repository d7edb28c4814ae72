"""The dashboard's token when the config names none (services/api/local_token.py): made once,
kept owner-only across restarts, accepted by the API, never used beside configured tokens."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.local_token import LOCAL_TOKEN_NAME, token_file, with_local_token
from services.api.settings import ApiConfig
from services.eventlog import open_log
from services.projections.store import ReadModel
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import Settings


def _config(tmp_path: Path, **values: object) -> ApiConfig:
    return ApiConfig.model_validate({"read_model": tmp_path / "data" / "read.db", **values})


def test_a_config_without_tokens_gets_one_kept_owner_only_beside_the_read_model(
    tmp_path: Path,
) -> None:
    config, path = with_local_token(_config(tmp_path))
    assert path == tmp_path / "data" / "api-token" == token_file(config)
    (token,) = config.tokens
    assert token.name == LOCAL_TOKEN_NAME and set(token.scopes) == {"read", "write"}
    secret = token.token.get_secret_value()
    assert len(secret) >= 32
    assert path.read_text(encoding="utf-8").strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["api-token"]  # no partial file left

    again, _ = with_local_token(_config(tmp_path))  # a restart: the same token
    assert again.tokens[0].token.get_secret_value() == secret


def test_a_damaged_token_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "api-token"
    path.parent.mkdir()
    path.write_text("short\n", encoding="utf-8")
    config, _ = with_local_token(_config(tmp_path))
    secret = config.tokens[0].token.get_secret_value()
    assert secret != "short" and len(secret) >= 32
    assert path.read_text(encoding="utf-8").strip() == secret


def test_configured_tokens_are_kept_and_no_file_is_made(tmp_path: Path) -> None:
    mine = {"name": "ops", "token": "x" * 20, "scopes": ["read"]}
    config, path = with_local_token(_config(tmp_path, tokens=[mine]))
    assert path is None
    assert [t.name for t in config.tokens] == ["ops"]
    assert not (tmp_path / "data").exists()


def test_a_folder_it_cannot_write_leaves_the_api_without_a_token_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="services.api.local_token"):
        config, path = with_local_token(_config(tmp_path))
    assert path is None and config.tokens == ()
    assert "set api.tokens" in caplog.text and str(blocker / "api-token") in caplog.text


def test_the_api_accepts_the_kept_token_and_nothing_else(tmp_path: Path) -> None:
    settings = Settings(log=f"sqlite:///{tmp_path}/log.db")
    elog = open_log(settings.log)
    elog.create_topics(tocsin_topics(settings))
    config, path = with_local_token(_config(tmp_path))
    assert path is not None
    secret = path.read_text(encoding="utf-8").strip()
    ReadModel(config.read_model).close()
    try:
        with TestClient(create_app(config, settings, elog, follow_alerts=False)) as client:
            assert client.get("/alerts").status_code == 401
            assert (
                client.get("/alerts", headers={"Authorization": "Bearer " + "y" * 43}).status_code
                == 401
            )
            ok = client.get("/alerts", headers={"Authorization": f"Bearer {secret}"})
            assert ok.status_code == 200, ok.text
    finally:
        elog.close()
